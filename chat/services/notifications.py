"""Notification settings: a member's level for one room, and the user's own default.

Both are kept on the server so that every tab and device of the user notifies alike;
each change reaches the user's open tabs as `room` frames (docs/protocol.md,
"Notifications"). What the levels mean is chat.notifications'.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction

from .. import limits, notifications
from ..access import room_for_poster
from ..errors import ChatError
from ..models import Membership
from ..protocol import frames
from ..queries import rooms_for_user
from ..realtime.fanout import publish_on_commit
from .members import announce_membership

ROOM_LEVELS = [notifications.DEFAULT, *notifications.Level.values]


def set_room_notify(user: AbstractBaseUser, room_id: int, level: str) -> str:
    """The member chooses how much of this room notifies them, on every device."""
    if level not in ROOM_LEVELS:
        raise ChatError("bad_request", f"`notify` must be one of {', '.join(ROOM_LEVELS)}.")
    limits.spend("room_change", user.pk)
    with transaction.atomic():
        _room, membership = room_for_poster(user, room_id)
        Membership.objects.filter(pk=membership.pk).update(notify=level)
        announce_membership(user.pk, room_id)
    return level


def set_notify_default(user: AbstractBaseUser, level: str) -> str:
    """The user's default for rooms left at `default`; their open tabs get every room
    again, with what `default` now means in it."""
    if level not in notifications.Level.values:
        levels = ", ".join(notifications.Level.values)
        raise ChatError("bad_request", f"`level` must be one of {levels}.")
    limits.spend("room_change", user.pk)
    with transaction.atomic():
        get_user_model().objects.filter(pk=user.pk).update(notify_default=level)
        # Read inside the transaction, sent once it commits: one read for all the rooms.
        for room in rooms_for_user(user):
            publish_on_commit(frames.room(room), user=user.pk)
    user.notify_default = level
    return level
