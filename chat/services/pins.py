"""Pinned messages: a room's owners and admins (both people, in a direct room) pin and
unpin its messages; every member's header lists them.

Each change writes in one transaction, under the room's lock (so two pins racing for
the room's last free place cannot both have it), and publishes the room's whole list
after commit (a `pins` frame): a client replaces its list, whatever it missed before.
"""

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import limits
from ..access import MAX_ID, refuse_if_blocked, room_for_pinner
from ..errors import ChatError
from ..models import Message, Pin
from ..protocol import frames
from ..protocol.commands import MAX_PINS
from ..queries import room_pins
from ..realtime.fanout import publish_on_commit


def pin_message(user: AbstractBaseUser, room_id: int, message_id: int, *, on: bool) -> dict:
    """Pin (on) or unpin (not on) a message of the room; returns the `pins` frame.

    Pinning a pinned message, or unpinning one that is not, changes nothing and
    publishes nothing."""
    limits.spend("pin", user.pk)
    with transaction.atomic():
        room, _membership = room_for_pinner(user, room_id, lock=True)
        refuse_if_blocked(user, room)
        if on:
            changed = _pin(user, room.pk, message_id)
        else:
            changed = Pin.objects.filter(room=room, message_id=message_id).delete()[0] > 0
        frame = frames.pins(room.pk, room_pins(room.pk))
        if changed:
            publish_on_commit(frame, room=room.pk)
    return frame


def _pin(user: AbstractBaseUser, room_id: int, message_id: int) -> bool:
    message = None
    if 0 < message_id <= MAX_ID:
        message = Message.objects.filter(pk=message_id, room_id=room_id).first()
    if message is None:
        raise ChatError("bad_request", _("Pin a message of this room."))
    if message.deleted_at is not None:
        raise ChatError("bad_request", _("A deleted message cannot be pinned."))
    if Pin.objects.filter(room_id=room_id, message=message).exists():
        return False
    if Pin.objects.filter(room_id=room_id).count() >= MAX_PINS:
        raise ChatError(
            "bad_request",
            _("A room holds at most %(limit)s pinned messages. Unpin one first.")
            % {"limit": MAX_PINS},
        )
    Pin.objects.create(room_id=room_id, message=message, pinned_by=user, pinned_at=timezone.now())
    return True


def announce_pin_change(message: Message) -> None:
    """Inside the caller's transaction: the message was edited (its excerpt) or deleted
    (its pin just went); if it is, or was, pinned, the room's members get the list."""
    room_id = message.room_id
    publish_on_commit(frames.pins(room_id, room_pins(room_id)), room=room_id)
