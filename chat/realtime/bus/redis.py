"""The bus on Redis pub/sub (REDIS_URL set).

Each process holds one subscriber connection; its hub subscribes to a channel per
room (and per user) that has local sockets and unsubscribes when the last one
leaves. An event is one PUBLISH of its text, encoded once by the publisher, behind
a one-line header (chat.realtime.bus.codec); a batch of events is one write and one
round trip on a connection of its own that only publishes. Redis keeps
no copy per socket or per process, and runs no script.

Lost events are the database's to repair (clients catch up by seq from `heads`). What
this bus must do itself is notice a lost connection: redis-py reconnects, the bus
subscribes every channel it still wants again, logs it, and tells the hub, which sends
every socket `heads` at once so that whatever was published meanwhile is fetched.
"""

import asyncio
import logging
import math
import os
import uuid
from collections import deque
from collections.abc import Callable, Iterable

from hiredis import pack_command
from redis.asyncio.client import PubSub
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .codec import Batch, Message, channel_namespace, pack, unpack

logger = logging.getLogger(__name__)

CONFIRM_TIMEOUT = 5.0  # seconds to wait for Redis to confirm a subscription
CONNECT_TIMEOUT = 5.0  # seconds to open the publishing connection
PUBLISH_TIMEOUT = 10.0  # seconds for Redis to answer a batch of publishes


async def _message_as_is(response: list) -> list:
    """A pub/sub message as read. redis-py's default handler formats every message
    into a debug line (`str()` of the whole payload) whether or not debug is on."""
    return response


class _Subscriber(PubSub):
    """redis-py's pub/sub connection, telling the bus each time it had to reconnect."""

    def __init__(self, bus: "RedisBus", *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.bus = bus

    async def on_connect(self, connection) -> None:
        await super().on_connect(connection)
        await self.bus._reconnected()


class RedisBus:
    """Fan-out over Redis pub/sub: one subscriber connection per process (per event loop)."""

    batches = True
    coalesces = True  # each write wakes Redis and every subscriber: worth coalescing (fanout)

    def __init__(self, url: str, prefix: str):
        import redis.asyncio as redis

        self.namespace = channel_namespace(url, prefix)
        self._prefix_length = len(self.namespace.encode())
        # The name shows the hub's connections in CLIENT LIST.
        self.client_name = f"{prefix}-hub-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.client = redis.from_url(url, socket_keepalive=True, client_name=self.client_name)
        self.subscriber = _Subscriber(
            self, self.client.connection_pool, push_handler_func=_message_as_is
        )
        # Publishes go on a connection of their own: a batch is one write, and a
        # connection that dies or leaves it unanswered fails that batch (logged by the
        # outbox; clients catch up from the database); the next batch opens another.
        self.publisher = redis.from_url(
            url,
            client_name=f"{self.client_name}-pub",
            socket_keepalive=True,
            socket_connect_timeout=CONNECT_TIMEOUT,
        )
        self.joined: set[str] = set()
        self.on_resume: Callable[[], None] | None = None
        self.reconnects = 0
        self._waiting: dict[bytes, deque[asyncio.Future]] = {}
        self._connecting = asyncio.Lock()
        self._writing = asyncio.Lock()
        self._connected_once = False

    def channel(self, group: str) -> bytes:
        return f"{self.namespace}{group}".encode()

    async def start(self) -> None:
        try:
            await self._connect()
        except Exception as exc:
            logger.error("Redis pub/sub unavailable (%s: %s); retrying", type(exc).__name__, exc)

    async def _connect(self) -> None:
        async with self._connecting:
            if self.subscriber.connection is None:
                await self.subscriber.connect()
                self._connected_once = True
                if self.joined:  # wanted while Redis could not be reached
                    await self.subscriber.execute_command(
                        "SUBSCRIBE", *map(self.channel, sorted(self.joined))
                    )

    async def stop(self) -> None:
        await self.subscriber.aclose()
        await self.publisher.aclose()
        await self.client.aclose()
        self.joined.clear()

    async def receive(self) -> Message:
        """The next published message; subscription confirmations are handled on the way."""
        await self._connect()
        while True:
            message = await self._next()
            if message is not None:
                return message

    async def receive_ready(self) -> Message | None:
        """A message already read from the connection, or None at once."""
        connection = self.subscriber.connection
        while connection is not None and await connection.can_read():
            message = await self._next()
            if message is not None:
                return message
        return None

    async def _next(self) -> Message | None:
        """One reply read from the connection itself, not through `PubSub.get_message`:
        its health check, retry wrapper, reply dict and metrics hook cost about half the
        event loop's time of reading an event (docs/performance.md, "The echo read from
        the connection"). A lost connection is opened again at once, as get_message's
        retry would; connecting runs redis-py's callbacks (`_reconnected`). A Redis that
        cannot be reached raises to the hub, which tries again later."""
        connection = self.subscriber.connection
        if not connection.is_connected:
            await connection.connect()
        try:
            reply = await connection.read_response(
                timeout=math.inf, disconnect_on_error=False, push_request=True
            )
        except RedisConnectionError:
            await connection.disconnect()
            await connection.connect()
            return None
        if reply[0] == b"message":
            return unpack(reply[1][self._prefix_length :].decode(), reply[2])
        if reply[0] == b"subscribe":
            self._confirmed(reply[1])
        return None

    async def sync(
        self, groups: Iterable[str], wanted: Callable[[str], bool], *, wait: bool = True
    ) -> None:
        """Subscribe or unsubscribe each group as `wanted` says.

        Decided and written under one lock, so commands reach Redis in the order the
        decisions were made and the last one wins. With `wait`, returns once Redis has
        confirmed the new subscriptions: whatever is published afterwards arrives. The
        hub's receive task must not wait (it is the one that reads the confirmations):
        its SUBSCRIBE is still on the wire before the sockets hear of the room.
        """
        groups = list(dict.fromkeys(groups))
        waiters: list[asyncio.Future] = []
        async with self._writing:
            add = [g for g in groups if wanted(g) and g not in self.joined]
            drop = [g for g in groups if not wanted(g) and g in self.joined]
            self.joined.update(add)
            self.joined.difference_update(drop)
            try:
                await self._connect()
                if drop:
                    await self.subscriber.execute_command("UNSUBSCRIBE", *map(self.channel, drop))
                if add:
                    channels = [self.channel(g) for g in add]
                    if wait:
                        waiters = [self._waiter(c) for c in channels]
                    await self.subscriber.execute_command("SUBSCRIBE", *channels)
            except Exception as exc:
                # `joined` already says what is wanted: the (re)connect subscribes it.
                logger.error(
                    "Redis subscription change for %s failed (%s: %s); made on reconnect",
                    ", ".join(groups[:3]),
                    type(exc).__name__,
                    exc,
                )
                return
        if waiters:
            try:
                async with asyncio.timeout(CONFIRM_TIMEOUT):
                    await asyncio.gather(*waiters)
            except TimeoutError:
                logger.warning(
                    "Redis did not confirm %d subscriptions in %.0f s; clients catch up from heads",
                    len(waiters),
                    CONFIRM_TIMEOUT,
                )

    def _waiter(self, channel: bytes) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(channel, deque()).append(future)
        return future

    def _confirmed(self, channel: bytes) -> None:
        """Redis answers each SUBSCRIBE of a channel in order: wake the oldest waiter."""
        waiting = self._waiting.get(channel)
        while waiting:
            future = waiting.popleft()
            if not future.done():
                future.set_result(None)
                break
        if not waiting:
            self._waiting.pop(channel, None)

    async def _reconnected(self) -> None:
        """The connection came back (redis-py reconnected it): every subscription was
        lost with the old one. Subscribe again, say so, and let the hub catch up."""
        if not self._connected_once:
            return
        self.reconnects += 1
        for waiting in self._waiting.values():
            for future in waiting:
                if not future.done():
                    future.set_result(None)
        self._waiting.clear()
        if self.joined:
            await self.subscriber.execute_command(
                "SUBSCRIBE", *map(self.channel, sorted(self.joined))
            )
        logger.warning(
            "Redis pub/sub connection lost and re-established (%d times); resubscribed to "
            "%d channels; sockets catch up from heads",
            self.reconnects,
            len(self.joined),
        )
        if self.on_resume is not None:
            self.on_resume()

    async def publish(self, batch: Batch) -> None:
        """One PUBLISH per event, a batch in one write, its replies read before the next
        (the outbox awaits each batch, so events reach Redis in the order they were
        committed). Packed by hiredis and sent on redis-py's connection directly: its
        pipeline cost ~13 µs of Python an event, a third of it packing, a third a timeout
        context per reply. A batch that fails or stays unanswered for PUBLISH_TIMEOUT
        drops its connection; the next batch opens another."""
        command = b"".join(
            pack_command((b"PUBLISH", self.channel(group), pack(message)))
            for group, message in batch
        )
        pool = self.publisher.connection_pool
        connection = await pool.get_connection()
        try:
            async with asyncio.timeout(PUBLISH_TIMEOUT):
                await connection.send_packed_command(command, check_health=False)
                for _ in batch:
                    await connection.read_response(timeout=math.inf)
        except TimeoutError:
            await connection.disconnect(nowait=True)
            raise RedisTimeoutError(
                f"Redis left {len(batch)} publishes unanswered for {PUBLISH_TIMEOUT} s"
            ) from None
        except BaseException:
            await connection.disconnect(nowait=True)
            raise
        finally:
            await pool.release(connection)
