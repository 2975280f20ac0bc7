"""Publishing: what services call, after commit, to reach sockets in every process.

Each event is encoded once, here; each process's hub (chat.hub) receives it
once and writes that text to its local sockets. A failed publish is logged and
swallowed: the database already holds the change, and clients catch up from it.
"""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from .hub import room_group, user_group
from .protocol import encode

logger = logging.getLogger(__name__)


def _group_send(group: str, message: dict) -> None:
    try:
        async_to_sync(get_channel_layer().group_send)(group, {**message, "group": group})
    except Exception:
        logger.exception("publish to %s failed; clients will catch up from the database", group)


def publish_to_room(room_id: int, frame: dict) -> None:
    """Every socket subscribed to the room gets the frame."""
    _group_send(room_group(room_id), {"type": "chat.frame", "text": encode(frame)})


def publish_to_user(user_id: int, frame: dict) -> None:
    """Every socket of the user (all tabs) gets the frame."""
    _group_send(user_group(user_id), {"type": "chat.frame", "text": encode(frame)})


def grant_room(user_id: int, room_id: int, frame: dict) -> None:
    """The user's sockets start hearing the room, then get the frame."""
    _group_send(user_group(user_id), {"type": "chat.grant", "room": room_id, "text": encode(frame)})


def revoke_room(user_id: int, room_id: int, frame: dict) -> None:
    """The user's sockets stop hearing the room, then get the frame."""
    _group_send(
        user_group(user_id), {"type": "chat.revoke", "room": room_id, "text": encode(frame)}
    )
