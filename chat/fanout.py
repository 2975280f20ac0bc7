"""Publishing: what services call, after commit, to reach sockets in every process.

Each event is encoded once, here; each process's hub (chat.hub) receives it
once and writes that text to its local sockets. A failed publish is logged and
swallowed: the database already holds the change, and clients catch up from it.

A service commits in a worker thread while the server's event loop runs. The
thread does not wait for the channel layer: it queues the event for that loop,
where one task per loop publishes events in the order they were committed.
Without a serving loop (a management command, a sync test) it publishes in place.
"""

import asyncio
import logging
from collections import deque

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from .protocol import encode

logger = logging.getLogger(__name__)


def room_group(room_id: int) -> str:
    return f"room.{room_id}"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


async def _group_send_now(group: str, message: dict) -> None:
    try:
        await get_channel_layer().group_send(group, {**message, "group": group})
    except Exception as exc:
        # No traceback: under overload formatting one per failure would cost more
        # than the publish itself. The type and message say what went wrong.
        logger.error(
            "publish to %s failed (%s: %s); clients will catch up from the database",
            group,
            type(exc).__name__,
            exc,
        )


class Outbox:
    """Events waiting to be published from one event loop, in commit order."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.pending: deque[tuple[str, dict]] = deque()
        self.draining = False
        self.task: asyncio.Task | None = None  # held, so the loop cannot drop it mid-run

    def put(self, group: str, message: dict) -> None:
        """Called on the loop (via call_soon_threadsafe): queue, and start draining."""
        self.pending.append((group, message))
        if not self.draining:
            self.draining = True
            self.task = self.loop.create_task(self._drain())

    async def _drain(self) -> None:
        try:
            while self.pending:
                await _group_send_now(*self.pending.popleft())
        finally:
            self.draining = False


_outboxes: dict[asyncio.AbstractEventLoop, Outbox] = {}


def serve_from(loop: asyncio.AbstractEventLoop) -> None:
    """Publish from this loop (the hub calls it when it starts on a loop)."""
    _outboxes.setdefault(loop, Outbox(loop))
    for stale in [other for other in _outboxes if other.is_closed()]:
        del _outboxes[stale]


def _serving_loop() -> asyncio.AbstractEventLoop | None:
    """The running loop this worker thread serves, if any."""
    for loop in list(_outboxes):
        if loop.is_running() and not loop.is_closed():
            return loop
    return None


def _group_send(group: str, message: dict) -> None:
    loop = _serving_loop()
    if loop is None:
        try:
            async_to_sync(_group_send_now)(group, message)
        except Exception:
            logger.exception("publish to %s failed", group)
        return
    try:
        on_loop = asyncio.get_running_loop() is loop
    except RuntimeError:
        on_loop = False
    if on_loop:
        _outboxes[loop].put(group, message)
    else:
        loop.call_soon_threadsafe(_outboxes[loop].put, group, message)


def publish_to_room(room_id: int, frame: dict, *, except_user: int | None = None) -> None:
    """Every socket subscribed to the room gets the frame (but `except_user`'s own)."""
    message = {"type": "chat.frame", "text": encode(frame)}
    if except_user is not None:
        message["except_user"] = except_user
    _group_send(room_group(room_id), message)


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
