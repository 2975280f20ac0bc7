"""The process-local hub: this process's sockets by room and by user.

Each server process subscribes to a room's (or user's) group once, over its bus
(chat.realtime.bus: a Redis pub/sub channel, or a group of the process-local bus), however
many of its sockets are in that room, and unsubscribes when the last of them
leaves. An event therefore costs one message per process, arrives already encoded
(chat.realtime.fanout encodes it once), and is written as the same text to every local
socket — on the event loop, with no thread hop and no database access. Under load,
events that come close together go out together: one write per socket for all of
them.

The hub also sends every socket its `heads` from one query per interval, and
uses the same answer to repair any subscription a lost event left wrong; after
the bus lost its connection it sends them at once.
"""

import asyncio
import logging
import time
import weakref
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from channels.db import database_sync_to_async
from django.conf import settings

from .. import queries
from ..errors import ChatError
from ..protocol import frames
from . import fanout, presence
from .bus import make_bus
from .clock import Clock, LoopClock
from .coalescing import Coalescer
from .fanout import room_group, user_group
from .framewriter import Event
from .shared import reads

logger = logging.getLogger(__name__)

MAX_ROUTED_TOGETHER = 256  # events already arrived, routed in one pass
SHUTDOWN_FLUSH_SECONDS = 5.0  # at most this long publishing what is queued at shutdown
# After the bus failed to receive, the hub tries again this long later, doubling from the
# first value up to the second: a Redis that comes back is heard within a second.
RECEIVE_RETRY_SECONDS = (0.1, 1.0)


def receive_retry_delay(failures: int) -> float:
    """Seconds to wait after `failures` receives in a row failed."""
    first, longest = RECEIVE_RETRY_SECONDS
    return min(longest, first * 2 ** (failures - 1))


class Socket(Protocol):
    """What the hub needs of a connected tab (chat.realtime.consumer.ChatConsumer)."""

    user: object
    user_id: int
    room_ids: set[int]

    presence_id: str
    presence_state: str
    session_id: str
    address: str | None

    def deliver(self, *events: Event) -> None: ...

    def granted(self, room_id: int) -> None: ...

    def revoked(self, room_id: int) -> None: ...

    def session_ended(self) -> None: ...


@database_sync_to_async
def _memberships(user_ids: list[int]) -> dict[int, dict[int, int]]:
    return queries.room_heads(user_ids)


async def _presence_rooms(user_id: int) -> list[int]:
    """Where a user's presence change goes: read once for the changes waiting together
    (a storm's first tabs all come online at once: chat.realtime.shared)."""
    return await reads().read(("presence rooms", user_id), queries.presence_room_ids, user_id)


@database_sync_to_async
def _room_presence_peers(user_id: int, room_id: int) -> list[int]:
    return queries.room_presence_peers(user_id, room_id)


@database_sync_to_async
def _room_frame(user, room_id: int) -> dict | None:
    try:
        return frames.room(queries.room_for_user(user, room_id))
    except ChatError:
        return None


def _presence_failed(doing: str, exc: Exception) -> None:
    logger.warning(
        "presence store unavailable for %s (%s: %s); sockets serve on",
        doing,
        type(exc).__name__,
        exc,
    )


def _deliver_pending(pending: dict[Socket, list[Event]]) -> None:
    for socket, events in pending.items():
        socket.deliver(*events)
    pending.clear()


@dataclass(eq=False)
class HelloState:
    """What a user's `hello` is made of, read from the database once for the user's
    tabs that were waiting together (chat.realtime.shared); never changed after."""

    user: object
    rooms: list[dict]
    peers: list[int]


class Hub:
    """Routes bus events to local sockets. One per event loop; see Hub.current()."""

    def __init__(self, bus, *, clock: Clock | None = None):
        self.bus = bus
        self.clock = clock or LoopClock()  # what holding events back goes by
        self.groups: dict[str, set[Socket]] = defaultdict(set)
        self._started: asyncio.Task | None = None
        self._tasks: list[asyncio.Task] = []
        # When each (user, room) membership last changed by an event, so that heads
        # never undo a change newer than the query they were computed from.
        self._changed_at: dict[tuple[int, int], float] = {}
        self.presence = presence.make_store()
        # Admitted sockets by user and by client address (None: not known).
        self._per_user: Counter[int] = Counter()
        self._per_address: Counter[str | None] = Counter()
        self._admitted: set[Socket] = set()
        # Presence look-ups for rooms just granted, run beside routing (they query).
        self._telling: set[asyncio.Task] = set()
        # Each hello state's frame, built once for the tabs that share the state.
        self._hellos: weakref.WeakKeyDictionary[HelloState, asyncio.Task[Event]] = (
            weakref.WeakKeyDictionary()
        )

    _by_loop: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    @classmethod
    def current(cls) -> "Hub":
        loop = asyncio.get_running_loop()
        hub = cls._by_loop.get(loop)
        if hub is None:
            hub = cls._by_loop[loop] = cls(make_bus())
        return hub

    @classmethod
    async def shut_down(cls) -> None:
        """The server is stopping and its sockets have gone (chat.realtime.lifespan):
        publish what is queued on this loop, within SHUTDOWN_FLUSH_SECONDS, then close
        this loop's hub: its bus and presence connections."""
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(fanout.flush(loop), SHUTDOWN_FLUSH_SECONDS)
        except TimeoutError:
            logger.warning("events still queued at shutdown; clients will catch up from heads")
        hub = cls._by_loop.pop(loop, None)
        if hub is not None:
            await hub.stop()
            await hub.presence.close()

    @property
    def sockets(self) -> set[Socket]:
        return {socket for members in self.groups.values() for socket in members}

    async def admit(self, socket: Socket) -> str | None:
        """Take the socket in, or say why not: this process holds PARLEY_MAX_SOCKETS, its
        address PARLEY_MAX_SOCKETS_PER_ADDRESS here, or its user PARLEY_MAX_SOCKETS_PER_USER
        (checked in across every process, or admitted here). The counts are read and
        the socket counted with no wait between, so sockets arriving together cannot
        all slip under a cap; `detach` lets it go."""
        try:
            live = await self.presence.live_sockets(socket.user_id, presence.now())
        except Exception as exc:
            _presence_failed("counting a user's sockets", exc)
            live = 0  # this process's count still holds
        if len(self._admitted) >= settings.PARLEY_MAX_SOCKETS:
            return "server full"
        if self._per_address[socket.address] >= settings.PARLEY_MAX_SOCKETS_PER_ADDRESS:
            return "too many sockets from this address"
        if max(live, self._per_user[socket.user_id]) >= settings.PARLEY_MAX_SOCKETS_PER_USER:
            return "too many sockets for this user"
        self._per_user[socket.user_id] += 1
        self._per_address[socket.address] += 1
        self._admitted.add(socket)
        return None

    def _let_go(self, socket: Socket) -> None:
        if socket not in self._admitted:
            return
        self._admitted.discard(socket)
        for counts, key in ((self._per_user, socket.user_id), (self._per_address, socket.address)):
            counts[key] -= 1
            if counts[key] <= 0:
                del counts[key]

    async def attach(self, socket: Socket) -> None:
        """Start routing the socket's user and rooms to it; returns once subscribed."""
        await self._start()
        groups = [user_group(socket.user_id), *map(room_group, socket.room_ids)]
        for group in groups:
            self.groups[group].add(socket)
        await self._sync_groups(groups)

    async def subscribe(self, socket: Socket, room_ids: Iterable[int]) -> None:
        """Add rooms to an attached socket; returns once subscribed."""
        room_ids = list(room_ids)
        for room_id in room_ids:
            socket.granted(room_id)
            self.groups[room_group(room_id)].add(socket)
        await self._sync_groups(map(room_group, room_ids))

    def _grant(self, socket: Socket, room_id: int) -> None:
        socket.granted(room_id)
        self.groups[room_group(room_id)].add(socket)

    def _revoke(self, socket: Socket, room_id: int) -> None:
        socket.revoked(room_id)
        self._drop(room_group(room_id), socket)

    async def detach(self, socket: Socket) -> None:
        self._let_go(socket)
        groups = [user_group(socket.user_id), *map(room_group, socket.room_ids)]
        for group in groups:
            self._drop(group, socket)
        await self._sync_groups(groups)

    def _drop(self, group: str, socket: Socket) -> None:
        members = self.groups.get(group)
        if members is not None:
            members.discard(socket)
            if not members:
                del self.groups[group]

    async def _sync_groups(self, groups: Iterable[str], *, wait: bool = True) -> None:
        """Make the bus's subscriptions match whether any local socket wants them."""
        await self.bus.sync(groups, self.groups.__contains__, wait=wait)

    async def _start(self) -> None:
        if self._started is None:
            self._started = asyncio.get_running_loop().create_task(self._begin())
        await self._started

    async def _begin(self) -> None:
        fanout.serve_from(asyncio.get_running_loop(), self.bus)
        self.bus.on_resume = self._resumed
        await self.bus.start()
        self._tasks = [
            asyncio.create_task(self._receive_forever()),
            asyncio.create_task(self._heads_forever()),
        ]

    def _resumed(self) -> None:
        """The bus lost events while reconnecting: send heads now, not at the next round."""
        self._tasks.append(asyncio.get_running_loop().create_task(self._catch_up()))

    async def _catch_up(self) -> None:
        try:
            await self.send_heads()
        except Exception:
            logger.warning("heads after a reconnect failed; next interval then", exc_info=True)

    async def check_in(self, socket: Socket, state: str) -> None:
        """Record the socket's presence state; announce the user's change, if any. If the
        store cannot be reached the socket serves on, and the next heads round (which
        checks every socket in) records it."""
        socket.presence_state = state
        try:
            change = await self.presence.check_in(
                socket.user_id, socket.presence_id, state, presence.now()
            )
            await self._announce([change])
        except Exception as exc:
            _presence_failed("a check-in", exc)

    async def check_out(self, socket: Socket) -> None:
        """If the store cannot be reached, the socket's check-in expires instead."""
        try:
            change = await self.presence.check_out(
                socket.user_id, socket.presence_id, presence.now()
            )
            await self._announce([change])
        except Exception as exc:
            _presence_failed("a check-out", exc)

    async def statuses(self, user_ids: list[int]) -> dict[int, dict]:
        """These people's presence, for a hello; none while the store cannot be reached
        (the changes announced once it is back tell the client)."""
        try:
            return await self.presence.statuses(user_ids, presence.now())
        except Exception as exc:
            _presence_failed("reading statuses", exc)
            return {}

    async def hello(self, state: HelloState) -> Event:
        """The `hello` of this state: its people's presence read and the frame encoded
        (and framed) once for every tab that shares the state. They share only a state read
        after all of them subscribed, and the presence read follows it, so each tab
        hears any later change live."""
        task = self._hellos.get(state)
        if task is None:
            task = self._hellos[state] = asyncio.ensure_future(self._hello(state))
        return await asyncio.shield(task)

    async def _hello(self, state: HelloState) -> Event:
        people = await self.statuses(state.peers)
        return Event(frames.encode(frames.hello(state.user, state.rooms, people)))

    async def refresh_presence(self) -> None:
        """Check every local socket in again, and count gone the sockets of any process
        that stopped checking in: on Redis one round trip for all of them."""
        checked = [(s.user_id, s.presence_id, s.presence_state) for s in self.sockets]
        await self._announce(await self.presence.refresh(checked, presence.now()))

    async def _announce(self, changes: list) -> None:
        for change in changes:
            if change is None:
                continue
            frame = frames.presence(change.user_id, change.status, change.last_seen)
            for room_id in await _presence_rooms(change.user_id):
                fanout.publish_to_room(room_id, frame, except_user=change.user_id)

    async def stop(self) -> None:
        """Stop receiving. In a server the hub never stops while its loop serves: one
        that came and went with the last socket would race the next socket's joins."""
        for task in self._tasks:
            task.cancel()
        self._tasks = []
        if self._started is not None:
            self._started = None
            await self.bus.stop()

    async def _receive_forever(self) -> None:
        """Route events as they come; under load, in batches (chat.realtime.coalescing): a
        socket then takes several events in one write, which costs about what one
        costs (the write is most of the fan-out's CPU)."""
        failures = 0
        coalescer = Coalescer()
        while True:
            try:
                batch = [await self.bus.receive()]
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                if failures == 1:
                    logger.exception("hub receive failed; clients will catch up from heads")
                else:  # the same outage: no traceback each time
                    logger.warning(
                        "hub receive failed %d times in a row (%s: %s)",
                        failures,
                        type(exc).__name__,
                        exc,
                    )
                await asyncio.sleep(receive_retry_delay(failures))
                continue
            if hold := coalescer.hold(self.clock.time()):
                await self.clock.sleep(hold)
            try:
                while len(batch) < MAX_ROUTED_TOGETHER:
                    more = await self.bus.receive_ready()
                    if more is None:
                        break
                    batch.append(more)
            except asyncio.CancelledError:
                raise
            except Exception:  # what did arrive is still routed; the next receive retries
                logger.exception("hub receive failed; clients will catch up from heads")
            await self.route(*batch)
            coalescer.wrote(self.clock.time(), len(batch))

    async def route(self, *messages: dict) -> None:
        """Hand bus events to the local sockets they are for, in arrival order. Each
        socket gets its frames of the events in one write (under load, one syscall
        per socket for several events); a membership change first writes out what
        came before it, then takes effect before anything after it is routed."""
        pending: dict[Socket, list[Event]] = {}
        for message in messages:
            try:
                skipped, skipped_socket = message.get("except_user"), message.get("except_socket")
                targets = [
                    socket
                    for socket in self.groups.get(message.get("group"), ())
                    if socket.user_id != skipped and socket.presence_id != skipped_socket
                ]
                if message.get("type") == "chat.frame":
                    event = Event(message["text"])
                    for socket in targets:
                        pending.setdefault(socket, []).append(event)
                    continue
                _deliver_pending(pending)
                if message.get("type") == "chat.end":
                    for socket in fanout.sessions_ended(message["text"], targets):
                        socket.session_ended()
                else:
                    await self._change_membership(message, targets)
            except Exception:
                logger.exception("hub could not route %r", message.get("type"))
        _deliver_pending(pending)

    async def _change_membership(self, message: dict, targets: list[Socket]) -> None:
        """A grant or revoke for a user's local sockets, then its frame to them."""
        if not targets:
            return
        kind, room_id = message["type"], message["room"]
        change = self._grant if kind == "chat.grant" else self._revoke
        for socket in targets:
            change(socket, room_id)
        self._changed_at[(targets[0].user_id, room_id)] = time.monotonic()
        # Subscribed before the sockets hear of the room, so their catch-up fetch
        # overlaps live delivery and nothing falls between the two. (This is the
        # receiving task: it must not wait for Redis's confirmation, which it alone
        # reads; the SUBSCRIBE is on the wire before the frame goes out.)
        await self._sync_groups([room_group(room_id)], wait=False)
        event = Event(message["text"])
        for socket in targets:
            socket.deliver(event)
        if kind == "chat.grant":
            task = asyncio.create_task(self._tell_presence(targets, room_id))
            self._telling.add(task)
            task.add_done_callback(self._telling.discard)

    async def _tell_presence(self, sockets: list[Socket], room_id: int) -> None:
        """Sockets granted a room (a DM opened, an invitation) hear the status of its
        members at once: their hello told them only of the people in their rooms then."""
        try:
            peers = await _room_presence_peers(sockets[0].user_id, room_id)
            views = await self.presence.statuses(peers, presence.now()) if peers else {}
        except Exception:
            logger.warning("could not tell room %s's presence to a new member", room_id)
            return
        for user_id, view in views.items():
            frame = frames.presence(user_id, view["status"], view["last_seen"])
            event = Event(frames.encode(frame))
            for socket in sockets:
                socket.deliver(event)

    async def _heads_forever(self) -> None:
        while True:
            await asyncio.sleep(settings.PARLEY_HEADS_INTERVAL)
            try:
                await self.send_heads()
            except Exception:
                logger.warning("heads failed; trying again next interval", exc_info=True)
            try:
                await self.refresh_presence()
            except Exception:
                logger.warning("presence refresh failed; trying again next interval", exc_info=True)

    async def send_heads(self) -> None:
        """Send each socket its rooms' newest seqs, from the database's memberships.

        The same answer repairs subscriptions whose grant or revoke event was lost
        on the bus: a room the user has joined is subscribed and announced, and
        one the user has left is dropped, unless an event changed it meanwhile.
        """
        sockets = self.sockets
        if not sockets:
            return
        asked_at = time.monotonic()
        memberships = await _memberships(sorted({socket.user_id for socket in sockets}))
        changed: set[str] = set()
        joined: list[tuple[Socket, int]] = []
        for socket in sockets:
            rooms = memberships.get(socket.user_id, {})
            for room_id in set(rooms) ^ socket.room_ids:
                if self._changed_at.get((socket.user_id, room_id), 0.0) > asked_at:
                    continue
                changed.add(room_group(room_id))
                if room_id in rooms:
                    self._grant(socket, room_id)
                    joined.append((socket, room_id))
                else:
                    self._revoke(socket, room_id)
                    socket.deliver(Event(frames.encode(frames.room_removed(room_id))))
            heads = {
                str(room_id): rooms[room_id] for room_id in socket.room_ids if room_id in rooms
            }
            socket.deliver(Event(frames.encode(frames.heads(heads))))
        if changed:
            logger.warning("heads repaired %d subscriptions a lost event left wrong", len(changed))
            await self._sync_groups(changed)
        for socket, room_id in joined:
            frame = await _room_frame(socket.user, room_id)
            if frame is not None:
                socket.deliver(Event(frames.encode(frame)))
        self._changed_at = {key: at for key, at in self._changed_at.items() if at > asked_at}
