"""Read side: who is in a room, whose presence a user follows, and each member's heads."""

from collections import defaultdict

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import Case, Count, When

from ..access import room_for_reader
from ..models import Membership
from ..protocol.frames import member_dict


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


def room_heads(user_ids: list[int]) -> dict[int, dict[int, int]]:
    """Each user's rooms and their newest seq: one query, for the hub's `heads`."""
    rooms: dict[int, dict[int, int]] = defaultdict(dict)
    rows = Membership.objects.filter(user_id__in=user_ids).values_list(
        "user_id", "room_id", "room__last_seq"
    )
    for user_id, room_id, last_seq in rows:
        rooms[user_id][room_id] = last_seq
    return rooms
