"""Rooms: create, join, open a direct conversation, rename and set the topic, leave,
mark read, and blocks between people.

Every change validates, writes in one transaction and publishes after commit.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from .. import limits
from ..access import (
    blocked_by_peer,
    room_for_manager,
    room_for_poster,
    room_for_reader,
    users_named,
)
from ..errors import ChatError
from ..models import Block, Membership, Room, direct_key, direct_peer, room_name_key
from ..protocol import frames
from ..realtime.fanout import publish_on_commit
from .cleaning import clean_room_name, clean_topic
from .members import drop, hand_on_ownership, join


def create_or_join_room(user: AbstractBaseUser, name: str) -> tuple[Room, bool]:
    """The public room of this name, created if missing, with the user in it; (room, created).

    Only public rooms are looked up by name: a private room of the same name changes
    nothing, so trying names tells an outsider nothing about private rooms.
    """
    name = clean_room_name(name)
    public = Room.objects.filter(kind=Room.Kind.PUBLIC, name_key=room_name_key(name))
    if not public.exists():
        limits.spend("room_create", user.pk)
    for _attempt in range(2):
        try:
            with transaction.atomic():
                room = public.first()
                created = room is None
                if created:
                    room = Room.objects.create(
                        kind=Room.Kind.PUBLIC,
                        name=name,
                        name_key=room_name_key(name),
                        created_by=user,
                    )
                join(user, room, Membership.Role.OWNER if created else Membership.Role.MEMBER)
                return room, created
        except IntegrityError:
            continue  # Someone created it at the same moment: join theirs.
    raise ChatError("unavailable", _("Could not create the room; try again."))


def create_private_room(user: AbstractBaseUser, name: str) -> Room:
    """A new private room owned by the user; any name will do (private names are unique
    nowhere, so none is ever refused as taken)."""
    name = clean_room_name(name)
    limits.spend("room_create", user.pk)
    with transaction.atomic():
        room = Room.objects.create(
            kind=Room.Kind.PRIVATE, name=name, name_key=room_name_key(name), created_by=user
        )
        join(user, room, Membership.Role.OWNER)
    return room


def open_direct(user: AbstractBaseUser, username: str) -> tuple[Room, bool]:
    """The one direct room of this pair of users, created if missing, with the caller in
    it; (room, new to the caller).

    The other person joins with the room's first message (`admit_direct_peer`): until
    someone writes, nothing tells them of it, and `created` says only whether the caller
    was in it already, never whether the other person opened it first.
    """
    if not isinstance(username, str) or not username:
        raise ChatError("bad_request", "`username` must be a non-empty string.")
    other = users_named(username).filter(is_active=True).first()
    if other is None:
        raise ChatError("not_found", _("No such user."))
    if other.pk == user.pk:
        raise ChatError("bad_request", _("A direct conversation needs another person."))
    if Block.objects.filter(blocker=other, blocked=user).exists():
        raise ChatError("forbidden", _("This person does not take your messages."))
    key = direct_key(user.pk, other.pk)
    if not Room.objects.filter(direct_key=key, memberships__user=user).exists():
        limits.spend("room_create", user.pk)
    for _attempt in range(2):
        try:
            with transaction.atomic():
                room, _created = Room.objects.get_or_create(
                    direct_key=key, defaults={"kind": Room.Kind.DIRECT, "created_by": user}
                )
                new = not room.memberships.filter(user=user).exists()
                join(user, room)
                return room, new
        except IntegrityError:
            continue
    raise ChatError("unavailable", _("Could not open the conversation; try again."))


def admit_direct_peer(room_id: int, key: str, sender: AbstractBaseUser) -> bool:
    """Inside the send of the first message of the direct room with this `key`: the other
    person joins now, so their sockets get the room before the message. True if they
    block the sender instead, and stay out; an account deleted meanwhile stays out too."""
    peer = get_user_model().objects.filter(pk=direct_peer(key, sender.pk)).first()
    if peer is None:
        return False
    if Block.objects.filter(blocker=peer, blocked=sender).exists():
        return True
    join(peer, Room.objects.get(pk=room_id))
    return False


def update_room(
    actor: AbstractBaseUser, room_id: int, *, name: str | None = None, topic: str | None = None
) -> Room:
    """An owner or admin renames a group room or sets its topic; every member hears it."""
    limits.spend("room_change", actor.pk)
    with transaction.atomic():
        room, _membership = room_for_manager(actor, room_id, lock=True)
        change_room(room, name=name, topic=topic)
    return room


def change_room(room: Room, *, name: str | None, topic: str | None) -> None:
    """Inside the caller's transaction, with the room locked."""
    fields = []
    if name is not None:
        room.name = clean_room_name(name)
        room.name_key = room_name_key(room.name)
        fields += ["name", "name_key"]
    if topic is not None:
        room.topic = clean_topic(topic)
        fields.append("topic")
    if not fields:
        raise ChatError("bad_request", "Give a `name` or a `topic`.")
    try:
        with transaction.atomic():
            room.save(update_fields=fields)
    except IntegrityError:  # another public room's name: public names are seen by all
        raise ChatError("bad_request", _("That room name is taken.")) from None
    publish_on_commit(frames.room_updated(room), room=room.pk)


def leave_room(user: AbstractBaseUser, room_id: int) -> None:
    """The user leaves a group room; the longest-standing member inherits a last owner's role."""
    limits.spend("room_change", user.pk)
    with transaction.atomic():
        room, membership = room_for_poster(user, room_id, lock=True)
        if room.is_direct:
            raise ChatError("bad_request", _("Direct conversations cannot be left."))
        drop(user, room)
        if membership.role == Membership.Role.OWNER:
            hand_on_ownership(room)


def block_user(user: AbstractBaseUser, username: str) -> None:
    """From now on `username` cannot open a DM with the user or write in theirs."""
    limits.spend("block", user.pk)
    other = users_named(username).first()
    if other is None:
        raise ChatError("not_found", _("No such user."))
    if other.pk == user.pk:
        raise ChatError("bad_request", _("You cannot block yourself."))
    Block.objects.get_or_create(blocker=user, blocked=other)


def unblock_user(user: AbstractBaseUser, username: str) -> None:
    limits.spend("block", user.pk)
    Block.objects.filter(blocker=user, blocked__in=users_named(username)).delete()


def blocked_usernames(user: AbstractBaseUser) -> list[str]:
    return sorted(Block.objects.filter(blocker=user).values_list("blocked__username", flat=True))


def mark_read(user: AbstractBaseUser, room_id: int, seq: int) -> int:
    """Move the user's read pointer forward (never back); returns the pointer."""
    limits.spend("read", user.pk)
    with transaction.atomic():
        room, membership = room_for_reader(user, room_id)
        if membership is None:
            raise ChatError("forbidden", _("Join this room first."))
        seq = min(seq, room.last_seq)
        moved = Membership.objects.filter(pk=membership.pk, last_read_seq__lt=seq).update(
            last_read_seq=seq
        )
        if not moved:
            return membership.last_read_seq
        frame = frames.read(room.pk, user.pk, seq)
        publish_on_commit(frame, user=user.pk)
        if room.is_direct and not blocked_by_peer(user, room):
            for peer_id in room.memberships.exclude(user=user).values_list("user_id", flat=True):
                publish_on_commit(frame, user=peer_id)
    return seq
