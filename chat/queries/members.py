"""Read side: who is in a room, whose presence a user follows, and each member's heads."""

from collections import defaultdict

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import Case, Q, QuerySet, When

from ..access import room_for_reader
from ..content import richtext
from ..errors import ChatError
from ..models import Membership, Room, direct_peer
from ..protocol.frames import member_dict
from . import sql


def _unwritten_direct(rooms: QuerySet[Room]) -> QuerySet[Room]:
    """Of these rooms, the direct ones nobody has written in yet, whose other person may
    not have joined (they join with the first message). No message means no
    `last_message_at`, which the room's kind-and-activity index finds."""
    return rooms.filter(kind=Room.Kind.DIRECT, last_message_at__isnull=True)


def _awaited_peers(user_id: int, rooms: QuerySet[Room]) -> set[int]:
    """The other person of each of these rooms that is direct and unwritten in."""
    keys = _unwritten_direct(rooms).values_list("direct_key", flat=True)
    return {direct_peer(key, user_id) for key in keys}


def presence_room_ids(user_id: int) -> list[int]:
    """The rooms told of the user's status changes: their rooms small enough to carry
    live presence (PARLEY_PRESENCE_MAX_MEMBERS; direct rooms always are), and the direct
    rooms someone opened with them that nobody wrote in yet (its opener sees whether they
    are there). In a larger room every status change would cost a write to every
    member's sockets."""
    most = max(2, settings.PARLEY_PRESENCE_MAX_MEMBERS)
    rooms, awaiting = sql.presence_room_rows(user_id, most)  # plain SQL: on each change
    return sorted(set(rooms) | set(awaiting))


def presence_peers(user_id: int) -> list[int]:
    """Everyone else in the user's presence rooms, and the other person of each direct
    room the user opened that nobody wrote in yet: whose status the user sees."""
    most = max(2, settings.PARLEY_PRESENCE_MAX_MEMBERS)
    members, keys = sql.presence_peer_rows(user_id, most)  # plain SQL: read by every hello
    return sorted(set(members) | {direct_peer(key, user_id) for key in keys})


def room_presence_peers(user_id: int, room_id: int) -> list[int]:
    """The room's other members (and a direct room's other person, joined or not), if the
    room is small enough to carry live presence."""
    most = max(2, settings.PARLEY_PRESENCE_MAX_MEMBERS)
    members = list(
        Membership.objects.filter(room_id=room_id).values_list("user_id", flat=True)[: most + 1]
    )
    if len(members) > most:
        return []
    awaited = _awaited_peers(user_id, Room.objects.filter(pk=room_id))
    return sorted((set(members) | awaited) - {user_id})


MAX_MEMBERS_LISTED = 500


MAX_MATCH_LENGTH = 64


def room_members(
    user: AbstractBaseUser, room_id: int, *, match: str = "", limit: int = MAX_MEMBERS_LISTED
) -> dict:
    """Who is in a room the caller may see, owners first then by name, with their roles.
    `match` keeps those whose username starts with it or whose display name holds it (any
    case): how a composer finds anyone in a room too large to list whole."""
    if len(match) > MAX_MATCH_LENGTH:
        raise ChatError("bad_request", f"`q` is at most {MAX_MATCH_LENGTH} characters.")
    if not match.isprintable():
        raise ChatError("bad_request", "`q` cannot contain control characters.")
    room, _membership = room_for_reader(user, room_id)
    rank = Case(
        When(role=Membership.Role.OWNER, then=0),
        When(role=Membership.Role.ADMIN, then=1),
        default=2,
    )
    members = Membership.objects.filter(room=room)
    if match:
        members = members.filter(
            Q(user__username__istartswith=match) | Q(user__display_name__icontains=match)
        )
    rows = list(members.select_related("user").order_by(rank, "user__username")[: limit + 1])
    return {
        "room": room.pk,
        "members": [member_dict(m.user, m.role) for m in rows[:limit]],
        "has_more": len(rows) > limit,
    }


def room_heads(user_ids: list[int]) -> dict[int, dict[int, int]]:
    """Each user's rooms and their newest seq: one query, for the hub's `heads`."""
    rooms: dict[int, dict[int, int]] = defaultdict(dict)
    rows = Membership.objects.filter(user_id__in=user_ids).values_list(
        "user_id", "room_id", "room__last_seq"
    )
    for user_id, room_id, last_seq in rows:
        rooms[user_id][room_id] = last_seq
    return rooms


def mentioned_members(room_id: int, body: str) -> dict[str, int]:
    """The room's members the body @mentions: username -> user id."""
    if "@" not in body:
        return {}
    usernames = richtext.mention_usernames(body)
    if not usernames:
        return {}
    rows = Membership.objects.filter(room_id=room_id, user__username__in=usernames)
    return dict(rows.values_list("user__username", "user_id"))
