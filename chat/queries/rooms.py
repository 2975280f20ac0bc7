"""Read side: a user's rooms with unread counts, the rooms to join, direct rooms."""

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import Count, F, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce

from ..access import room_for_reader
from ..models import Membership, Message, Room, direct_key, direct_peer
from ..protocol.frames import message_dict, room_dict
from . import sql
from .messages import messages_with_authors, with_extras
from .pins import pins_by_room, room_pins


def _unread(user: AbstractBaseUser, *, mentioned: bool = False):
    """Messages after the caller's read pointer that others wrote (and that mention
    the caller, if `mentioned`), counted in a subquery per membership row. A thread
    reply the room's timeline does not show counts only if it mentions the caller."""
    unread = Message.objects.filter(
        room=OuterRef("room"), seq__gt=OuterRef("last_read_seq"), deleted_at__isnull=True
    ).exclude(author=user)
    if mentioned:
        unread = unread.filter(mentions=user)
    else:
        unread = unread.filter(
            Q(thread_root__isnull=True) | Q(also_in_room=True) | Q(mentions=user)
        )
    # distinct: the join with mentions has a row per person mentioned.
    counted = unread.order_by().values("room").annotate(n=Count("pk", distinct=True)).values("n")
    return Coalesce(Subquery(counted), 0)


def peers_by_room(user: AbstractBaseUser, rooms: list[Room]) -> dict[int, AbstractBaseUser]:
    """The other person of each of these direct rooms, from the room's key: they may not
    have joined yet (they join with its first message). None where the account is gone."""
    peer_ids = {room.pk: direct_peer(room.direct_key, user.pk) for room in rooms}
    people = get_user_model().objects.in_bulk(set(peer_ids.values()))
    return {room_id: people[peer_id] for room_id, peer_id in peer_ids.items() if peer_id in people}


def member_room_ids(user: AbstractBaseUser) -> set[int]:
    return set(Membership.objects.filter(user=user).values_list("room_id", flat=True))


def rooms_for_user(user: AbstractBaseUser, *, with_last_message: bool = False) -> list[dict]:
    """The user's rooms, most recently active first, with unread counts."""
    rows = sql.membership_rows(user.pk)  # plain SQL: every connecting socket reads it
    direct = [room for room, *_rest in rows if room.is_direct]
    peers = peers_by_room(user, direct) if direct else {}
    pins = pins_by_room(user) if rows else {}
    # The user's default as stored now, not as the caller holds it: a socket's user was
    # read at its handshake, before a later change of the default.
    rooms = [
        room_dict(
            room,
            membership,
            unread=unread,
            mentions=mentions,
            peer=peers.get(room.pk),
            notify_default=notify_default,
            pins=pins.get(room.pk),
        )
        for room, membership, notify_default, unread, mentions in rows
    ]
    if with_last_message and rooms:
        newest = with_extras(
            list(
                messages_with_authors().filter(
                    room__memberships__user=user, seq=F("room__last_seq")
                )
            )
        )
        by_room = {m.room_id: message_dict(m) for m in newest}
        for room in rooms:
            room["last_message"] = by_room.get(room["id"])
    return rooms


def room_for_user(user: AbstractBaseUser, room_id: int) -> dict:
    """One room as the user sees it, or RoomNotFound."""
    room, membership = room_for_reader(user, room_id)
    peer = peers_by_room(user, [room]).get(room.pk) if room.is_direct else None
    unread = mentions = 0
    notify_default = user.notify_default
    if membership is not None:
        counts = Membership.objects.filter(pk=membership.pk).annotate(
            unread=_unread(user), unread_mentions=_unread(user, mentioned=True)
        )
        # The default as stored now (see rooms_for_user), in the same query.
        unread, mentions, notify_default = counts.values_list(
            "unread", "unread_mentions", "user__notify_default"
        ).get()
    return room_dict(
        room,
        membership,
        unread=unread,
        mentions=mentions,
        peer=peer,
        notify_default=notify_default,
        pins=room_pins(room.pk),
    )


def public_rooms(user: AbstractBaseUser, limit: int = 50) -> list[Room]:
    """Public rooms the user has not joined, most active first."""
    return list(
        Room.objects.filter(kind=Room.Kind.PUBLIC)
        .exclude(memberships__user=user)
        .order_by(F("last_message_at").desc(nulls_last=True), "name")[:limit]
    )


def direct_room_id(user: AbstractBaseUser, other: AbstractBaseUser) -> int | None:
    """The user's direct room with `other`, if the user is in it (one `other` opened is
    not the user's until its first message)."""
    return (
        Room.objects.filter(direct_key=direct_key(user.pk, other.pk), memberships__user=user)
        .values_list("pk", flat=True)
        .first()
    )
