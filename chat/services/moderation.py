"""What staff do in the Django admin: act as a room's owner would, under the same rules
(a room keeps an owner, a direct conversation its two people), with the same events."""

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils.translation import gettext as _

from ..errors import ChatError, MessageNotFound, RoomNotFound
from ..models import Attachment, Membership, Message, Room
from ..protocol import frames
from ..queries import messages_with_authors, with_extras
from ..realtime.fanout import publish_on_commit
from . import sql
from .members import change_role, drop, hand_on_ownership, join, note_removal
from .messages import tombstone
from .rooms import change_room
from .webhooks import retire_webhooks


def _locked_room(room_id: int) -> Room:
    room = Room.objects.select_for_update().filter(pk=room_id).first()
    if room is None:
        raise RoomNotFound()
    return room


def moderate_delete_message(message_id: int) -> Message:
    with transaction.atomic():
        message = Message.objects.select_for_update().filter(pk=message_id).first()
        if message is None:
            raise MessageNotFound()
        tombstone(message)
    return message


def moderate_room(room_id: int, *, name: str, topic: str) -> Room:
    """Only what changed is applied, so an unchanged name is not re-validated."""
    with transaction.atomic():
        room = _locked_room(room_id)
        if room.is_direct:
            raise ChatError("bad_request", _("A direct conversation has no name or topic."))
        new_name = name if name != room.name else None
        new_topic = topic if topic != room.topic else None
        if new_name is not None or new_topic is not None:
            change_room(room, name=new_name, topic=new_topic)
    return room


def moderate_add_member(room_id: int, user_id: int, role: str) -> Membership:
    with transaction.atomic():
        room = _locked_room(room_id)
        if room.is_direct:
            raise ChatError("bad_request", _("A direct conversation keeps its two people."))
        user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
        if user is None:
            raise ChatError("not_found", _("No such user."))
        if Membership.objects.filter(room=room, user=user).exists():
            raise ChatError("bad_request", _("That person is already in this room."))
        return join(user, room, role=role)


def moderate_set_role(membership_id: int, role: str) -> Membership:
    if role not in Membership.Role.values:
        raise ChatError("bad_request", "`role` must be owner, admin or member.")
    with transaction.atomic():
        membership = Membership.objects.filter(pk=membership_id).first()
        if membership is None:
            raise ChatError("not_found", _("No such membership."))
        _locked_room(membership.room_id)
        membership.refresh_from_db()
        if membership.role != role:
            change_role(membership, role)
    return membership


def moderate_remove_member(membership_id: int) -> None:
    """The removed member's sockets stop hearing the room at once; ownership passes on."""
    with transaction.atomic():
        membership = Membership.objects.select_related("user").filter(pk=membership_id).first()
        if membership is None:
            return
        room = _locked_room(membership.room_id)
        if room.is_direct:
            raise ChatError("bad_request", _("A direct conversation keeps its two people."))
        drop(membership.user, room)
        note_removal(membership.user, room)
        if membership.role == Membership.Role.OWNER:
            hand_on_ownership(room)


def moderate_delete_room(room_id: int) -> None:
    """Every member's sockets hear `room.removed` before the room and its messages go (and
    its webhooks, their bots deactivated)."""
    with transaction.atomic():
        room = _locked_room(room_id)
        for membership in room.memberships.select_related("user"):
            drop(membership.user, room)
        retire_webhooks(room)
        room.delete()


def moderate_delete_attachment(attachment_id: int) -> None:
    """A sent message that loses a file is updated on every member's screen; one left
    with neither text nor files becomes a tombstone."""
    with transaction.atomic():
        attachment = Attachment.objects.filter(pk=attachment_id).first()
        if attachment is None:
            return
        message_id = attachment.message_id
        if message_id is None:
            attachment.delete()
            return
        message = Message.objects.select_for_update().get(pk=message_id)
        attachment.delete()  # its files go after commit (models.py)
        if not message.body and not message.attachments.exists():
            tombstone(message)
            return
        message.rev = sql.take_next_rev(message.room_id)
        message.save(update_fields=["rev"])
        message = with_extras([messages_with_authors().get(pk=message.pk)])[0]
        publish_on_commit(frames.message_updated(message), room=message.room_id)
