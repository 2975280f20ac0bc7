"""The read side: what a user's client needs to draw rooms, members and history.

Callers import the package (`queries.rooms_for_user`); each module reads one thing."""

from .invites import invite_target, room_invites
from .members import (
    mentioned_members,
    presence_peers,
    presence_room_ids,
    room_heads,
    room_members,
    room_presence_peers,
)
from .messages import (
    check_page,
    message_page,
    messages_with_authors,
    room_page,
    spend_page,
    thread_page,
    with_extras,
)
from .people import people_page, person_card
from .pins import pins_for_reader, room_pins
from .rooms import (
    direct_room_id,
    member_room_ids,
    peers_by_room,
    public_rooms,
    room_for_user,
    rooms_for_user,
)
from .search import search_messages
from .webhooks import room_webhooks

__all__ = [
    "check_page",
    "direct_room_id",
    "invite_target",
    "member_room_ids",
    "mentioned_members",
    "message_page",
    "messages_with_authors",
    "peers_by_room",
    "people_page",
    "person_card",
    "pins_for_reader",
    "presence_peers",
    "presence_room_ids",
    "public_rooms",
    "room_for_user",
    "room_heads",
    "room_invites",
    "room_members",
    "room_page",
    "room_pins",
    "room_presence_peers",
    "room_webhooks",
    "rooms_for_user",
    "search_messages",
    "spend_page",
    "thread_page",
    "with_extras",
]
