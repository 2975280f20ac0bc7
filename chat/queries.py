"""Read-side queries: what a user's client needs to draw rooms and history."""

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import Count, F, OuterRef, Subquery
from django.db.models.functions import Coalesce

from .access import room_for_reader
from .models import Membership, Message, Room, direct_key
from .protocol import message_dict, user_dict


def _unread_count(user: AbstractBaseUser):
    unread = (
        Message.objects.filter(room=OuterRef("room"), seq__gt=OuterRef("last_read_seq"))
        .exclude(author=user)
        .order_by()
        .values("room")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(unread), 0)


def room_dict(room: Room, membership: Membership | None, *, unread: int = 0, peer=None) -> dict:
    """A room as seen by one user (direct rooms are named after the other person)."""
    return {
        "id": room.pk,
        "name": peer.shown_name if room.is_direct and peer is not None else room.name,
        "kind": room.kind,
        "topic": room.topic,
        "last_seq": room.last_seq,
        "last_read_seq": membership.last_read_seq if membership else 0,
        "unread": unread,
        "role": membership.role if membership else None,
        "peer": user_dict(peer) if room.is_direct else None,
        "last_message_at": room.last_message_at.isoformat() if room.last_message_at else None,
    }


def peers_by_room(user: AbstractBaseUser, room_ids: list[int]) -> dict[int, AbstractBaseUser]:
    """The other member of each of these direct rooms."""
    others = (
        Membership.objects.filter(room_id__in=room_ids).exclude(user=user).select_related("user")
    )
    return {m.room_id: m.user for m in others}


def member_room_ids(user: AbstractBaseUser) -> set[int]:
    return set(Membership.objects.filter(user=user).values_list("room_id", flat=True))


def rooms_for_user(user: AbstractBaseUser, *, with_last_message: bool = False) -> list[dict]:
    """The user's rooms, most recently active first, with unread counts."""
    memberships = list(
        Membership.objects.filter(user=user)
        .select_related("room")
        .annotate(unread=_unread_count(user))
        .order_by(F("room__last_message_at").desc(nulls_last=True), "-room__created_at")
    )
    direct_ids = [m.room_id for m in memberships if m.room.is_direct]
    peers = peers_by_room(user, direct_ids) if direct_ids else {}
    rooms = [room_dict(m.room, m, unread=m.unread, peer=peers.get(m.room_id)) for m in memberships]
    if with_last_message and rooms:
        newest = Message.objects.filter(
            room__memberships__user=user, seq=F("room__last_seq")
        ).select_related("author")
        by_room = {m.room_id: message_dict(m) for m in newest}
        for room in rooms:
            room["last_message"] = by_room.get(room["id"])
    return rooms


def room_for_user(user: AbstractBaseUser, room_id: int) -> dict:
    """One room as the user sees it, or RoomNotFound."""
    room, membership = room_for_reader(user, room_id)
    peer = peers_by_room(user, [room.pk]).get(room.pk) if room.is_direct else None
    unread = 0
    if membership is not None:
        unread = (
            Message.objects.filter(room=room, seq__gt=membership.last_read_seq)
            .exclude(author=user)
            .count()
        )
    return room_dict(room, membership, unread=unread, peer=peer)


def message_page(
    user: AbstractBaseUser,
    room_id: int,
    *,
    after: int | None = None,
    before: int | None = None,
    limit: int = 50,
) -> dict:
    """A page of history in ascending seq: after a seq, before a seq, or the newest."""
    room, _membership = room_for_reader(user, room_id)
    messages = Message.objects.filter(room=room).select_related("author")
    if after is not None:
        rows = list(messages.filter(seq__gt=after).order_by("seq")[: limit + 1])
        has_more = len(rows) > limit
        rows = rows[:limit]
    else:
        if before is not None:
            messages = messages.filter(seq__lt=before)
        rows = list(messages.order_by("-seq")[: limit + 1])
        has_more = len(rows) > limit
        rows = rows[:limit][::-1]
    return {"room": room.pk, "messages": [message_dict(m) for m in rows], "has_more": has_more}


def public_rooms(user: AbstractBaseUser, limit: int = 50) -> list[Room]:
    """Public rooms the user has not joined, most active first."""
    return list(
        Room.objects.filter(kind=Room.Kind.PUBLIC)
        .exclude(memberships__user=user)
        .order_by(F("last_message_at").desc(nulls_last=True), "name")[:limit]
    )


def direct_room_id(user: AbstractBaseUser, other: AbstractBaseUser) -> int | None:
    return (
        Room.objects.filter(direct_key=direct_key(user.pk, other.pk))
        .values_list("pk", flat=True)
        .first()
    )
