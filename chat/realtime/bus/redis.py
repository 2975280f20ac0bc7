"""The bus on Redis pub/sub (REDIS_URL set).

Each process holds one subscriber connection; its hub subscribes to a channel per
room (and per user) that has local sockets and unsubscribes when the last one
leaves. An event is one PUBLISH of its text, encoded once by the publisher, behind
a one-line header (chat.realtime.bus.codec), written on a connection of its own
that only publishes (RedisPublisher); Redis keeps no copy per socket or per process,
and runs no script.

Lost events are the database's to repair (clients catch up by seq from `heads`). What
this bus must do itself is notice a lost connection: redis-py reconnects, the bus
subscribes every channel it still wants again, logs it, and tells the hub, which sends
every socket `heads` at once so that whatever was published meanwhile is fetched.
"""

import asyncio
import logging
import os
import socket
import ssl
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from itertools import repeat
from urllib.parse import urlsplit

from redis.asyncio.client import PubSub
from redis.connection import parse_url
from redis.exceptions import ResponseError

from .codec import Batch, Message, channel_namespace, pack, unpack

logger = logging.getLogger(__name__)

CONFIRM_TIMEOUT = 5.0  # seconds to wait for Redis to confirm a subscription


def command(*parts: bytes) -> bytes:
    """A Redis command in the Redis protocol (RESP)."""
    head = b"*%d\r\n" % len(parts)
    return head + b"".join(b"$%d\r\n%b\r\n" % (len(part), part) for part in parts)


def publish_command(channel: bytes, payload: bytes) -> bytes:
    return command(b"PUBLISH", channel, payload)


class _PublishProtocol(asyncio.Protocol):
    """The publishing connection: writes commands, matches Redis's one-line replies to
    them in order. A reply nobody awaits (a PUBLISH's) is only checked for an error."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.waiting: deque[asyncio.Future | None] = deque()
        self.answered_at = 0.0
        self.refused = 0
        self._buffer = b""
        self._writable = asyncio.Event()
        self._writable.set()

    def connection_made(self, transport) -> None:
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family != socket.AF_UNIX:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)

    def write(self, data: bytes, replies: int) -> None:
        """Write commands whose `replies` nobody waits for."""
        self._send(data, repeat(None, replies))

    def request(self, data: bytes) -> asyncio.Future:
        """Write one command; its reply, when it comes."""
        answer = asyncio.get_running_loop().create_future()
        self._send(data, [answer])
        return answer

    def _send(self, data: bytes, waiters: Iterable[asyncio.Future | None]) -> None:
        if self.closed or self.transport is None or self.transport.is_closing():
            raise ConnectionError("the Redis publishing connection is closed")
        if not self.waiting:
            self.answered_at = asyncio.get_running_loop().time()
        self.waiting.extend(waiters)
        self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        self.answered_at = asyncio.get_running_loop().time()
        self._buffer += data
        while (end := self._buffer.find(b"\r\n")) >= 0:
            line, self._buffer = self._buffer[:end], self._buffer[end + 2 :]
            if line[:1] not in (b"+", b"-", b":") or not self.waiting:
                logger.error("unexpected reply on the Redis publishing connection: %r", line[:80])
                self.transport.abort()
                return
            self._answered(self.waiting.popleft(), line)

    def _answered(self, waiter: asyncio.Future | None, line: bytes) -> None:
        error = line[1:].decode(errors="replace") if line[:1] == b"-" else None
        if waiter is not None:
            if waiter.done():
                return
            if error:
                waiter.set_exception(ResponseError(error))
            else:
                waiter.set_result(line)
        elif error:
            self.refused += 1
            logger.error(
                "Redis refused a publish (%s; %d refused on this connection); "
                "clients will catch up from the database",
                error,
                self.refused,
            )

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    async def writable(self) -> None:
        await self._writable.wait()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._writable.set()
        unanswered = [w for w in self.waiting if w is None]
        for waiter in self.waiting:
            if waiter is not None and not waiter.done():
                waiter.set_exception(ConnectionError("Redis closed the connection"))
        self.waiting.clear()
        if unanswered:
            logger.warning(
                "Redis publishing connection lost with %d publishes unconfirmed (%s); "
                "clients will catch up from the database",
                len(unanswered),
                exc or "closed",
            )


class RedisPublisher:
    """A connection of its own that only publishes, and never waits for Redis.

    Each batch is written at once and Redis's replies are only counted and checked, so
    a publish costs a few microseconds of CPU where redis-py's client, which awaits each
    reply, costs about 70 (docs/performance.md). Order holds: one connection, written in
    the order of the calls. A connection that dies, or leaves its replies overdue by
    REPLY_TIMEOUT, is dropped and the next publish opens another; what was written to it
    unanswered is logged as lost, and clients catch up from the database.
    """

    CONNECT_TIMEOUT = 5.0
    REPLY_TIMEOUT = 10.0

    def __init__(self, url: str, client_name: str):
        self.url = url
        self.client_name = client_name
        self._protocol: _PublishProtocol | None = None
        self._connecting = asyncio.Lock()

    async def publish(self, commands: list[bytes]) -> None:
        protocol = self._protocol
        if protocol is None or protocol.closed or self._overdue(protocol):
            protocol = await self._connect()
        protocol.write(b"".join(commands), len(commands))
        await protocol.writable()  # past the transport's high-water mark: Redis is slow

    def _overdue(self, protocol: _PublishProtocol) -> bool:
        late = asyncio.get_running_loop().time() - protocol.answered_at > self.REPLY_TIMEOUT
        if protocol.waiting and late:
            logger.warning(
                "Redis left %d publishes unanswered for %.0f s; reconnecting",
                len(protocol.waiting),
                self.REPLY_TIMEOUT,
            )
            protocol.transport.abort()
            return True
        return False

    async def _connect(self) -> _PublishProtocol:
        async with self._connecting:
            protocol = self._protocol
            if protocol is None or protocol.closed or protocol.transport.is_closing():
                async with asyncio.timeout(self.CONNECT_TIMEOUT):
                    self._protocol = protocol = await self._open()
            return protocol

    async def _open(self) -> _PublishProtocol:
        loop = asyncio.get_running_loop()
        parts, options = urlsplit(self.url), parse_url(self.url)
        if parts.scheme == "unix":
            _transport, protocol = await loop.create_unix_connection(
                _PublishProtocol, options["path"]
            )
        else:
            tls = None
            if parts.scheme == "rediss":
                tls = ssl.create_default_context()
                if options.get("ssl_cert_reqs") in ("none", "CERT_NONE"):
                    tls.check_hostname = False
                    tls.verify_mode = ssl.CERT_NONE
            _transport, protocol = await loop.create_connection(
                _PublishProtocol,
                options.get("host", "localhost"),
                options.get("port", 6379),
                ssl=tls,
            )
        hello = []
        if options.get("password"):
            user = [options["username"].encode()] if options.get("username") else []
            hello.append(command(b"AUTH", *user, options["password"].encode()))
        hello.append(command(b"CLIENT", b"SETNAME", self.client_name.encode()))
        try:
            await asyncio.gather(*map(protocol.request, hello))
        except BaseException:
            protocol.transport.abort()
            raise
        return protocol

    async def aclose(self) -> None:
        protocol, self._protocol = self._protocol, None
        if protocol is not None and protocol.transport is not None:
            protocol.transport.close()


class PipelinePublisher:
    """redis-py's asyncio client, publishing each batch as one pipeline (one PUBLISH per
    event, one round trip, its replies awaited), on a connection of its own."""

    CONNECT_TIMEOUT = 5.0
    REPLY_TIMEOUT = 10.0

    def __init__(self, url: str, client_name: str):
        import redis.asyncio as redis

        self.client = redis.from_url(
            url,
            client_name=client_name,
            socket_keepalive=True,
            socket_connect_timeout=self.CONNECT_TIMEOUT,
            socket_timeout=self.REPLY_TIMEOUT,
        )

    async def publish(self, messages: list[tuple[bytes, bytes]]) -> None:
        async with self.client.pipeline(transaction=False) as pipe:
            for channel, payload in messages:
                pipe.publish(channel, payload)
            await pipe.execute()

    async def aclose(self) -> None:
        await self.client.aclose()


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

    def __init__(self, url: str, prefix: str, publisher: str = "own"):
        import redis.asyncio as redis

        self.namespace = channel_namespace(url, prefix)
        # The name shows the hub's connections in CLIENT LIST.
        self.client_name = f"{prefix}-hub-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.client = redis.from_url(url, socket_keepalive=True, client_name=self.client_name)
        self.subscriber = _Subscriber(self, self.client.connection_pool)
        # "own" (RedisPublisher) or "redis-py" (PipelinePublisher), to measure the two.
        self.pipelined = publisher == "redis-py"
        publishers = PipelinePublisher if self.pipelined else RedisPublisher
        self.publisher = publishers(url, f"{self.client_name}-pub")
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
        reply = await self.subscriber.get_message(timeout=None)
        if reply is None:
            return None
        kind = reply["type"]
        if kind == "message":
            channel = reply["channel"].decode()
            return unpack(channel[len(self.namespace) :], reply["data"])
        if kind == "subscribe":
            self._confirmed(reply["channel"])
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

    async def refresh(self) -> None:
        """Nothing expires: a subscription lasts as long as its connection."""

    async def publish(self, batch: Batch) -> None:
        """One PUBLISH per event; a batch is one write, in order."""
        if self.pipelined:
            await self.publisher.publish(
                [(self.channel(group), pack(message)) for group, message in batch]
            )
            return
        await self.publisher.publish(
            [publish_command(self.channel(group), pack(message)) for group, message in batch]
        )
