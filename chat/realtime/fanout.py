"""Publishing: what services call, after commit, to reach sockets in every process.

Services call one helper, `publish_on_commit`. Each event is encoded once, here;
each process's hub (chat.realtime.hub) receives it once, over its bus
(chat.realtime.bus: Redis pub/sub, or the process-local bus), and writes
that text to its local sockets. A failed publish is logged and swallowed: the
database already holds the change, and clients catch up from it.

A service commits in a worker thread while the server's event loop runs. The
thread does not wait for the bus: it queues the event for that loop (a batch of
database calls hands over all of its events at once: `published_together`), where one
task per loop publishes events in the order they were committed (on Redis,
whatever has queued meanwhile goes in one write, and under load what comes soon
after a publish waits a moment to go with the next: chat.realtime.coalescing).
Without a serving loop (a management command, a sync test) it publishes in place.
"""

import asyncio
import contextlib
import hashlib
import json
import logging
import threading
from collections import deque
from collections.abc import Callable, Iterator
from functools import partial

from django.db import transaction

from ..protocol.frames import encode
from . import bus as buses
from .clock import Clock, LoopClock
from .coalescing import Coalescer

logger = logging.getLogger(__name__)

MAX_BATCH = 256  # events per round trip to Redis


def room_group(room_id: int) -> str:
    return f"room.{room_id}"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def _failed(batch: buses.Batch, exc: Exception) -> None:
    # No traceback: under overload formatting one per failure would cost more
    # than the publish itself. The type and message say what went wrong.
    groups = list(dict.fromkeys(group for group, _message in batch))
    more = f" and {len(groups) - 3} more" if len(groups) > 3 else ""
    logger.error(
        "publish to %s%s failed (%s: %s); clients will catch up from the database",
        ", ".join(groups[:3]),
        more,
        type(exc).__name__,
        exc,
    )


async def _publish_now(bus, batch: buses.Batch) -> None:
    try:
        await bus.publish(batch)
    except Exception as exc:
        _failed(batch, exc)


class Outbox:
    """Events waiting to be published from one event loop, in commit order."""

    def __init__(self, loop: asyncio.AbstractEventLoop, bus, *, clock: Clock | None = None):
        self.loop = loop
        self.bus = bus
        self.pending: deque[tuple[str, dict]] = deque()
        self.draining = False
        self.task: asyncio.Task | None = None  # held, so the loop cannot drop it mid-run
        self.coalescer = Coalescer()
        self.clock = clock or LoopClock()

    def put(self, group: str, message: dict) -> None:
        """Called on the loop (via call_soon_threadsafe): queue, and start draining."""
        self.put_all([(group, message)])

    def put_all(self, batch: buses.Batch) -> None:
        """`put` for several events, in their order (one hop from a worker thread)."""
        self.pending.extend(batch)
        if not self.draining:
            self.draining = True
            self.task = self.loop.create_task(self._drain())

    async def _drain(self) -> None:
        """Publish what is pending, in commit order; on a bus that `coalesces` (Redis:
        each write wakes Redis and every subscriber, which under load costs more than
        the event), under load in batches (chat.realtime.coalescing)."""
        try:
            while self.pending:
                if self.bus.coalesces and (hold := self.coalescer.hold(self.clock.time())):
                    await self.clock.sleep(hold)
                take = min(len(self.pending), MAX_BATCH if self.bus.batches else 1)
                batch = [self.pending.popleft() for _ in range(take)]
                await _publish_now(self.bus, batch)
                self.coalescer.wrote(self.clock.time(), len(batch))
        finally:
            self.draining = False


_outboxes: dict[asyncio.AbstractEventLoop, Outbox] = {}


def serve_from(loop: asyncio.AbstractEventLoop, bus) -> None:
    """Publish from this loop, over this bus (the hub calls it when it starts on a loop)."""
    outbox = _outboxes.get(loop)
    if outbox is None:
        _outboxes[loop] = Outbox(loop, bus)
    else:
        outbox.bus = bus
    for stale in [other for other in _outboxes if other.is_closed()]:
        del _outboxes[stale]


async def flush(loop: asyncio.AbstractEventLoop) -> None:
    """Return once this loop has published every event queued on it (at shutdown)."""
    outbox = _outboxes.get(loop)
    while outbox is not None and outbox.task is not None and not outbox.task.done():
        await asyncio.wait({outbox.task})


def _serving_loop() -> asyncio.AbstractEventLoop | None:
    """The running loop this worker thread serves, if any."""
    for loop in list(_outboxes):
        if loop.is_running() and not loop.is_closed():
            return loop
    return None


_held = threading.local()  # a worker thread's events while it publishes together


@contextlib.contextmanager
def published_together(*, keep: bool = False) -> Iterator[buses.Batch]:
    """In a worker thread: the events published inside reach the loop in one hand-over
    at the end, in their order, rather than one wake-up each (the sends of one group
    commit: chat.realtime.dbcalls). With `keep` they stay in the list this yields, for
    the caller to publish from the loop (`publish_kept`). If the block fails they are
    handed over at once either way, since what they tell of has committed."""
    if getattr(_held, "batch", None) is not None:
        yield []  # already inside: the outer block hands them over
        return
    batch: buses.Batch = []
    _held.batch = batch
    failed = True
    try:
        yield batch
        failed = False
    finally:
        _held.batch = None
        if batch and (failed or not keep):
            _hand_over(batch[:])
            batch.clear()


def publish_kept(batch: buses.Batch) -> None:
    """On an event loop: what a worker thread kept (`published_together(keep=True)`),
    published from this loop in its order."""
    if not batch:
        return
    outbox = _outboxes.get(asyncio.get_running_loop())
    if outbox is not None:
        outbox.put_all(batch)
    else:
        _hand_over(batch)


def _publish(group: str, message: dict) -> None:
    _publish_all([(group, message)])


def _publish_all(batch: buses.Batch) -> None:
    """The events, in their order, to the loop in one hand-over (or with the batch of
    the `published_together` block this thread is in)."""
    held = getattr(_held, "batch", None)
    if held is not None:
        held.extend(batch)
    else:
        _hand_over(batch)


def _hand_over(batch: buses.Batch) -> None:
    loop = _serving_loop()
    if loop is None:
        for group, message in batch:
            try:
                buses.publish_blocking(group, message)
            except Exception as exc:
                _failed([(group, message)], exc)
        return
    buses.call_on_loop(loop, _outboxes[loop].put_all, batch)


def publish_to_room(
    room_id: int,
    frame: dict,
    *,
    except_user: int | None = None,
    except_socket: str | None = None,
) -> None:
    """Every socket subscribed to the room gets the frame (but `except_user`'s own, and
    the socket whose `presence_id` is `except_socket`)."""
    _publish(room_group(room_id), _room_message(frame, except_user, except_socket))


def _room_message(frame: dict | str, except_user: int | None, except_socket: str | None) -> dict:
    """The bus message for a room's frame (a dict, or its text already encoded)."""
    message = {"type": "chat.frame", "text": frame if isinstance(frame, str) else encode(frame)}
    if except_user is not None:
        message["except_user"] = except_user
    if except_socket is not None:
        message["except_socket"] = except_socket
    return message


def publish_to_user(user_id: int, frame: dict) -> None:
    """Every socket of the user (all tabs) gets the frame."""
    _publish(user_group(user_id), {"type": "chat.frame", "text": encode(frame)})


def grant_room(user_id: int, room_id: int, frame: dict) -> None:
    """The user's sockets start hearing the room, then get the frame."""
    _publish(user_group(user_id), {"type": "chat.grant", "room": room_id, "text": encode(frame)})


def revoke_room(user_id: int, room_id: int, frame: dict) -> None:
    """The user's sockets stop hearing the room, then get the frame."""
    _publish(user_group(user_id), {"type": "chat.revoke", "room": room_id, "text": encode(frame)})


Frame = dict | Callable[[], dict]


def publish_on_commit(
    frame: Frame,
    *,
    room: int | None = None,
    user: int | None = None,
    except_user: int | None = None,
    except_socket: str | None = None,
    grant: int | None = None,
    revoke: int | None = None,
) -> None:
    """Publish `frame` once the current transaction commits (at once outside one), so no
    client hears of a change that could still roll back.

    To a `room`'s sockets (but `except_user`'s, and the socket `except_socket`, which
    has its news already), or to all of a `user`'s, who start (`grant`) or stop
    (`revoke`) hearing that room id first. A callable `frame` is built after the
    commit, for frames that read the committed state.
    """
    if (room is None) == (user is None) or (room is not None and (grant or revoke)):
        raise ValueError("publish to one room, or to one user")
    transaction.on_commit(
        partial(_publish_frame, frame, room, user, except_user, except_socket, grant, revoke)
    )


# A room, a frame (or its encoded text), the socket it skips (or None).
RoomFrame = tuple[int, dict | str, str | None]


def publish_to_rooms_on_commit(frames: list[RoomFrame]) -> None:
    """`publish_on_commit` for each (room, frame, except_socket), in that order, with one
    callback for them all (a group of sends)."""
    transaction.on_commit(lambda: publish_to_rooms(frames))


def publish_to_rooms(frames: list[RoomFrame]) -> None:
    """`publish_to_room` for each (room, frame, except_socket), in that order, in one hop
    to the event loop (each hop from a worker thread wakes the loop)."""
    _publish_all([(room_group(room), _room_message(f, None, socket)) for room, f, socket in frames])


def _publish_frame(
    frame: Frame,
    room: int | None,
    user: int | None,
    except_user: int | None,
    except_socket: str | None,
    grant: int | None,
    revoke: int | None,
) -> None:
    frame = frame() if callable(frame) else frame
    if room is not None:
        publish_to_room(room, frame, except_user=except_user, except_socket=except_socket)
    elif grant is not None:
        grant_room(user, grant, frame)
    elif revoke is not None:
        revoke_room(user, revoke, frame)
    else:
        publish_to_user(user, frame)


def session_id(session_key: str | None) -> str:
    """A session's name on the bus: a digest, so no session key ever leaves the process."""
    return hashlib.sha256((session_key or "").encode()).hexdigest()[:32]


def token_session(token_id: int) -> str:
    """What stands for a session key for a socket opened with API token `token_id`
    (accounts.tokens): revoking the token ends that "session" (`end_sessions(only=...)`).
    Never a real session key, which is 32 lowercase letters and digits."""
    return f"token:{token_id}"


def end_sessions(user_id: int, *, only: str | None = None, keep: str | None = None) -> None:
    """After commit, close the user's sockets in every process: of session key `only`,
    or of every session but `keep`. They close with 4401, "log in again"."""
    selector = {
        "only": session_id(only) if only is not None else None,
        "keep": session_id(keep) if keep is not None else None,
    }
    message = {"type": "chat.end", "text": json.dumps(selector)}
    transaction.on_commit(partial(_publish, user_group(user_id), message))


def sessions_ended(selector: str, sockets: list) -> list:
    """Of a user's sockets (each with its `session_id`), those whose session the chat.end
    event `end_sessions` published ends; `selector` is its text."""
    ended = json.loads(selector)
    return [
        socket
        for socket in sockets
        if ended["only"] in (None, socket.session_id) and ended["keep"] != socket.session_id
    ]
