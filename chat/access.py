"""Who may see or do what in a room: the one place that decides.

A room the user may not see is reported exactly like a room that does not
exist (RoomNotFound), so ids cannot be probed.
"""

from datetime import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import Q
from django.utils.translation import gettext as _

from .errors import ChatError, InviteNotFound, MessageNotFound, PersonNotFound, RoomNotFound
from .models import Attachment, Block, Invite, Membership, Message, Removal, Room

MAX_ID = 2**63 - 1  # larger ids cannot exist, and would overflow the database driver
MAX_USERNAME = 150  # Django's username length: a longer one cannot exist


def membership_for(user: AbstractBaseUser, room: Room) -> Membership | None:
    return Membership.objects.filter(room=room, user=user).first()


def can_see(room: Room, membership: Membership | None) -> bool:
    """Members see their rooms; anyone signed in may see (and join) a public room."""
    return membership is not None or room.kind == Room.Kind.PUBLIC


def room_for_reader(
    user: AbstractBaseUser, room_id: int, *, lock: bool = False
) -> tuple[Room, Membership | None]:
    """The room and the caller's membership, if the caller may read it."""
    if not user.is_authenticated or not 0 < room_id <= MAX_ID:
        raise RoomNotFound
    rooms = Room.objects.select_for_update() if lock else Room.objects
    room = rooms.filter(pk=room_id).first()
    if room is None:
        raise RoomNotFound
    membership = membership_for(user, room)
    if not can_see(room, membership):
        raise RoomNotFound
    return room, membership


def room_for_poster(
    user: AbstractBaseUser, room_id: int, *, lock: bool = False
) -> tuple[Room, Membership]:
    """The room and membership, if the caller may post in it (members only)."""
    room, membership = room_for_reader(user, room_id, lock=lock)
    if not may_post(membership and membership.role):
        raise ChatError("forbidden", _("Join this room before posting in it."))
    return room, membership


def may_post(role: str | None) -> bool:
    """Members post, whatever their role. (send_message reads the role in its own
    SQL statement, chat/services/sql.py, and asks here.)"""
    return role is not None


def room_for_manager(
    user: AbstractBaseUser, room_id: int, *, lock: bool = False
) -> tuple[Room, Membership]:
    """The room and membership, if the caller may add or remove its members."""
    room, membership = room_for_poster(user, room_id, lock=lock)
    if room.is_direct or not membership.can_manage:
        raise ChatError("forbidden", _("Only the room's owners and admins may do that."))
    return room, membership


def room_for_inviter(
    user: AbstractBaseUser, room_id: int, *, lock: bool = False
) -> tuple[Room, Membership]:
    """The room, if the caller may make, list and revoke its invite links: the owners
    and admins of a group room (public or private), who may add members anyway."""
    return room_for_manager(user, room_id, lock=lock)


def room_for_webhook_manager(
    user: AbstractBaseUser, room_id: int, *, lock: bool = False
) -> tuple[Room, Membership]:
    """The room, if the caller may make, list and revoke its webhooks: the owners and
    admins of a group room, who decide who else is in it (a webhook's bot joins it)."""
    return room_for_manager(user, room_id, lock=lock)


def check_invite(invite: Invite, user: AbstractBaseUser, now: datetime) -> None:
    """Raise unless following `invite` lets `user` in: the link is live (not revoked,
    not expired, not used up), and the user was not removed from the room after it was
    made (a removed member comes back only through a newer link). A dead link is
    reported exactly like one that never existed."""
    if invite.revoked_at is not None or (invite.expires_at and invite.expires_at <= now):
        raise InviteNotFound
    if invite.max_uses is not None and invite.uses >= invite.max_uses:
        raise InviteNotFound
    removal = Removal.objects.filter(room_id=invite.room_id, user=user).first()
    if removal is not None and removal.removed_at >= invite.created_at:
        raise ChatError(
            "forbidden",
            _("You were removed from this room. Ask its owners or admins for a new link."),
        )


def message_for_member(
    user: AbstractBaseUser, message_id: int, *, lock: bool = False
) -> tuple[Message, Membership]:
    """A message (author loaded) and the caller's membership of its room, if the caller
    may act on it: edit, delete or react. A message in a room the caller may not see
    is reported exactly like one that does not exist."""
    if not user.is_authenticated or not 0 < message_id <= MAX_ID:
        raise MessageNotFound
    messages = Message.objects.select_related("author", "room")
    message = (
        (messages.select_for_update(of=("self",)) if lock else messages)
        .filter(pk=message_id)
        .first()
    )
    if message is None:
        raise MessageNotFound
    membership = membership_for(user, message.room)
    if not can_see(message.room, membership):
        raise MessageNotFound
    if membership is None:
        raise ChatError("forbidden", _("Join this room first."))
    return message, membership


def person_for_viewer(user: AbstractBaseUser, username: str) -> AbstractBaseUser:
    """Someone whose card the caller may open: any active account, as the home page and
    the people directory list everyone. A block does not hide a person (the members
    panel shows them too); it only stops direct messages (`blocks_between`). An unknown
    and a deactivated account are reported alike."""
    if not user.is_authenticated or not 0 < len(username) <= MAX_USERNAME:
        raise PersonNotFound
    person = get_user_model().objects.filter(username=username, is_active=True).first()
    if person is None:
        raise PersonNotFound
    return person


def blocks_between(user: AbstractBaseUser, other: AbstractBaseUser) -> tuple[bool, bool]:
    """(the user blocks `other`, `other` blocks the user), in one query. The second is
    what open_direct refuses a new conversation for, and says so."""
    pairs = set(
        Block.objects.filter(
            Q(blocker=user, blocked=other) | Q(blocker=other, blocked=user)
        ).values_list("blocker_id", flat=True)
    )
    return user.pk in pairs, other.pk in pairs


def may_message(user: AbstractBaseUser, other: AbstractBaseUser, *, blocked_by_other: bool) -> bool:
    """Whether the caller may start a direct conversation with `other`: anyone but
    themselves who does not block them (services.open_direct asks the same)."""
    return user.pk != other.pk and not blocked_by_other


def message_for_reader(user: AbstractBaseUser, message_id: int) -> Message:
    """A message (room loaded) the caller may read: one in a room they may see. Any
    other is reported exactly like one that does not exist."""
    if not user.is_authenticated or not 0 < message_id <= MAX_ID:
        raise MessageNotFound
    message = Message.objects.select_related("room").filter(pk=message_id).first()
    if message is None or not can_see(message.room, membership_for(user, message.room)):
        raise MessageNotFound
    return message


def blocked_by_peer(user: AbstractBaseUser, room: Room) -> bool:
    """In a direct room, whether the other person blocked the user: then nothing of the
    user's reaches them (messages, edits, reactions, typing, read receipts)."""
    return (
        room.is_direct
        and Block.objects.filter(blocked=user, blocker__memberships__room=room).exists()
    )


def refuse_if_blocked(user: AbstractBaseUser, room: Room) -> None:
    if blocked_by_peer(user, room):
        raise ChatError("forbidden", _("This person does not take your messages."))


def may_edit(user: AbstractBaseUser, message: Message) -> bool:
    """Only the author edits a message."""
    return message.author_id == user.pk


def may_delete(user: AbstractBaseUser, message: Message, membership: Membership) -> bool:
    """The author deletes a message; so do a group room's owners and admins."""
    return message.author_id == user.pk or (not message.room.is_direct and membership.can_manage)


def may_pin(room: Room, membership: Membership | None) -> bool:
    """A group room's owners and admins pin and unpin its messages; in a direct room
    both people do."""
    return membership is not None and (room.is_direct or membership.can_manage)


def room_for_pinner(
    user: AbstractBaseUser, room_id: int, *, lock: bool = False
) -> tuple[Room, Membership]:
    """The room and membership, if the caller may pin and unpin messages in it."""
    room, membership = room_for_reader(user, room_id, lock=lock)
    if not may_pin(room, membership):
        raise ChatError("forbidden", _("Only the room's owners and admins may pin messages."))
    return room, membership


def attachment_for_reader(user: AbstractBaseUser, attachment_id: int) -> Attachment:
    """An upload the caller may fetch: their own before it is sent; once sent, whoever
    may read its room. Any other is reported exactly like one that does not exist."""
    missing = ChatError("not_found", "No such file.")
    if not user.is_authenticated or not 0 < attachment_id <= MAX_ID:
        raise missing
    attachment = Attachment.objects.select_related("room").filter(pk=attachment_id).first()
    if attachment is None:
        raise missing
    if attachment.message_id is None:
        if attachment.uploader_id != user.pk:
            raise missing
    elif not can_see(attachment.room, membership_for(user, attachment.room)):
        raise missing
    return attachment
