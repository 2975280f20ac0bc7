"""Read-side queries: what a user's client needs to draw rooms and history."""

from collections import defaultdict

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import Case, Count, F, OuterRef, Subquery, When
from django.db.models.functions import Coalesce

from .access import room_for_reader
from .models import Attachment, Membership, Message, Reaction, Room, direct_key
from .protocol import message_dict, user_dict


def _unread(user: AbstractBaseUser, *, mentioned: bool = False):
    """Messages after the caller's read pointer that others wrote (and that mention
    the caller, if `mentioned`), counted in a subquery per membership row."""
    unread = Message.objects.filter(
        room=OuterRef("room"), seq__gt=OuterRef("last_read_seq"), deleted_at__isnull=True
    ).exclude(author=user)
    if mentioned:
        unread = unread.filter(mentions=user)
    counted = unread.order_by().values("room").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted), 0)


def with_extras(messages: list[Message]) -> list[Message]:
    """Attach what message_dict needs beyond the row: reactions, mentions and
    attachments, in three queries for the whole list."""
    ids = [m.pk for m in messages if m.deleted_at is None]
    reactions: dict[int, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    mentions: dict[int, list[int]] = defaultdict(list)
    attachments: dict[int, list[Attachment]] = defaultdict(list)
    if ids:
        rows = (
            Reaction.objects.filter(message_id__in=ids)
            .order_by("created_at", "pk")
            .values_list("message_id", "emoji", "user_id")
        )
        for message_id, emoji, user_id in rows:
            reactions[message_id][emoji].append(user_id)
        rows = Message.mentions.through.objects.filter(message_id__in=ids).values_list(
            "message_id", "user_id"
        )
        for message_id, user_id in rows:
            mentions[message_id].append(user_id)
        for attachment in Attachment.objects.filter(message_id__in=ids).order_by("pk"):
            attachments[attachment.message_id].append(attachment)
    for message in messages:
        message.reaction_summary = [
            {"emoji": emoji, "count": len(users), "users": users}
            for emoji, users in reactions.get(message.pk, {}).items()
        ]
        message.mention_ids = sorted(mentions.get(message.pk, []))
        message.attachment_list = attachments.get(message.pk, [])
    return messages


def messages_with_authors():
    return Message.objects.select_related("author", "reply_to__author")


def room_dict(
    room: Room, membership: Membership | None, *, unread: int = 0, mentions: int = 0, peer=None
) -> dict:
    """A room as seen by one user (direct rooms are named after the other person)."""
    return {
        "id": room.pk,
        "name": peer.shown_name if room.is_direct and peer is not None else room.name,
        "kind": room.kind,
        "topic": room.topic,
        "last_seq": room.last_seq,
        "last_rev": room.last_rev,
        "last_read_seq": membership.last_read_seq if membership else 0,
        "unread": unread,
        "unread_mentions": mentions,
        "role": membership.role if membership else None,
        "muted": membership.muted if membership else False,
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


def _presence_rooms(user_id: int):
    return (
        Membership.objects.filter(user_id=user_id)
        .annotate(size=Count("room__memberships"))
        .filter(size__lte=max(2, settings.PARLEY_PRESENCE_MAX_MEMBERS))
        .values("room_id")
    )


def presence_room_ids(user_id: int) -> list[int]:
    """The user's rooms small enough to carry live presence (PARLEY_PRESENCE_MAX_MEMBERS);
    direct rooms always are. In a larger room every status change would cost a write
    to every member's sockets."""
    return [row["room_id"] for row in _presence_rooms(user_id)]


def presence_peers(user_id: int) -> list[int]:
    """Everyone else in the user's presence rooms: whose status the user sees."""
    return list(
        Membership.objects.filter(room_id__in=_presence_rooms(user_id))
        .exclude(user_id=user_id)
        .order_by("user_id")
        .values_list("user_id", flat=True)
        .distinct()
    )


def room_presence_peers(user_id: int, room_id: int) -> list[int]:
    """The room's other members, if the room is small enough to carry live presence."""
    most = max(2, settings.PARLEY_PRESENCE_MAX_MEMBERS)
    members = list(
        Membership.objects.filter(room_id=room_id).values_list("user_id", flat=True)[: most + 1]
    )
    return [] if len(members) > most else sorted(m for m in members if m != user_id)


def rooms_for_user(user: AbstractBaseUser, *, with_last_message: bool = False) -> list[dict]:
    """The user's rooms, most recently active first, with unread counts."""
    memberships = list(
        Membership.objects.filter(user=user)
        .select_related("room")
        .annotate(unread=_unread(user), unread_mentions=_unread(user, mentioned=True))
        .order_by(F("room__last_message_at").desc(nulls_last=True), "-room__created_at")
    )
    direct_ids = [m.room_id for m in memberships if m.room.is_direct]
    peers = peers_by_room(user, direct_ids) if direct_ids else {}
    rooms = [
        room_dict(m.room, m, unread=m.unread, mentions=m.unread_mentions, peer=peers.get(m.room_id))
        for m in memberships
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
    peer = peers_by_room(user, [room.pk]).get(room.pk) if room.is_direct else None
    unread = mentions = 0
    if membership is not None:
        counts = Membership.objects.filter(pk=membership.pk).annotate(
            unread=_unread(user), unread_mentions=_unread(user, mentioned=True)
        )
        unread, mentions = counts.values_list("unread", "unread_mentions").get()
    return room_dict(room, membership, unread=unread, mentions=mentions, peer=peer)


def message_page(
    user: AbstractBaseUser,
    room_id: int,
    *,
    after: int | None = None,
    before: int | None = None,
    changed_after: int | None = None,
    limit: int = 50,
) -> dict:
    """A page of history in ascending seq (after a seq, before a seq, or the newest),
    or the messages changed since a revision, in ascending rev."""
    room, _membership = room_for_reader(user, room_id)
    messages = messages_with_authors().filter(room=room)
    if changed_after is not None:
        rows = list(messages.filter(rev__gt=changed_after).order_by("rev")[: limit + 1])
        has_more = len(rows) > limit
        rows = rows[:limit]
    elif after is not None:
        rows = list(messages.filter(seq__gt=after).order_by("seq")[: limit + 1])
        has_more = len(rows) > limit
        rows = rows[:limit]
    else:
        if before is not None:
            messages = messages.filter(seq__lt=before)
        rows = list(messages.order_by("-seq")[: limit + 1])
        has_more = len(rows) > limit
        rows = rows[:limit][::-1]
    rows = with_extras(rows)
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


MAX_MEMBERS_LISTED = 500


def room_members(user: AbstractBaseUser, room_id: int, limit: int = MAX_MEMBERS_LISTED) -> dict:
    """Who is in a room the caller may see, owners first then by name, with their roles."""
    room, _membership = room_for_reader(user, room_id)
    rank = Case(
        When(role=Membership.Role.OWNER, then=0),
        When(role=Membership.Role.ADMIN, then=1),
        default=2,
    )
    rows = list(
        Membership.objects.filter(room=room)
        .select_related("user")
        .order_by(rank, "user__username")[: limit + 1]
    )
    return {
        "room": room.pk,
        "members": [member_dict(m.user, m.role) for m in rows[:limit]],
        "has_more": len(rows) > limit,
    }


def member_dict(user: AbstractBaseUser, role: str | None) -> dict:
    return {"user": user_dict(user), "role": role}
