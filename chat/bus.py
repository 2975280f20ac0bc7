"""How events travel from the process that commits them to every process's hub.

Two transports with one interface; `make_bus` picks Redis when REDIS_URL is set:

- LayerBus: the Channels layer (in-memory, one process). The hub joins each group it
  needs with one channel of its own, so an event is one layer message per process.
- RedisBus: Redis pub/sub. Each process holds one subscriber connection; its hub
  subscribes to a channel per room (and per user) that has local sockets and
  unsubscribes when the last one leaves. An event is one PUBLISH of its text, encoded
  once by the publisher, behind a one-line header; Redis keeps no copy per socket or
  per process, and runs no script.

Both carry the same messages, the dicts the hub routes:
{"type": "chat.frame" | "chat.grant" | "chat.revoke", "group", "text", "room"?, "except_user"?}.

Lost events are the database's to repair (clients catch up by seq from `heads`). What
the Redis bus must do itself is notice a lost connection: redis-py reconnects, the bus
subscribes every channel it still wants again, logs it, and tells the hub, which sends
every socket `heads` at once so that whatever was published meanwhile is fetched.
"""

import asyncio
import functools
import logging
import os
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Iterable

from django.conf import settings
from redis.asyncio.client import PubSub
from redis.connection import parse_url

logger = logging.getLogger(__name__)

MAX_CONCURRENT_LAYER_CALLS = 32
CONFIRM_TIMEOUT = 5.0  # seconds to wait for Redis to confirm a subscription

Message = dict
Batch = list[tuple[str, Message]]

_CODES = {"chat.frame": "f", "chat.grant": "g", "chat.revoke": "r"}
_TYPES = {code: kind for kind, code in _CODES.items()}


def pack(message: Message) -> bytes:
    """A message as one pub/sub payload: `code:room:except_user`, a newline, the text."""
    head = f"{_CODES[message['type']]}:{message.get('room', '')}:{message.get('except_user') or ''}"
    return f"{head}\n{message['text']}".encode()


def unpack(group: str, payload: bytes) -> Message:
    """The message `pack` made; the event text itself is not parsed."""
    head, _, text = payload.partition(b"\n")
    code, room, skipped = head.decode().split(":")
    message = {"type": _TYPES[code], "group": group, "text": text.decode()}
    if room:
        message["room"] = int(room)
    if skipped:
        message["except_user"] = int(skipped)
    return message


def channel_namespace(url: str, prefix: str) -> str:
    """The start of every pub/sub channel name. Pub/sub ignores database numbers, so the
    name carries it: deployments (or test runs) on other databases of one Redis never
    hear each other."""
    return f"{prefix}:{parse_url(url).get('db', 0)}:"


class LayerBus:
    """Fan-out over a Channels layer (chat.hub's groups are layer groups)."""

    batches = False

    def __init__(self, layer):
        self.layer = layer
        self.channel: str | None = None
        self.joined: set[str] = set()
        self.on_resume: Callable[[], None] | None = None
        self._locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        # A storm of connects or disconnects must not open a Redis connection per
        # group change: redis-py's pool (100 by default) refuses the excess outright.
        self._calls = asyncio.Semaphore(MAX_CONCURRENT_LAYER_CALLS)

    async def start(self) -> None:
        self.channel = await self.layer.new_channel(prefix="hub")

    async def stop(self) -> None:
        self.channel = None

    async def receive(self) -> Message:
        return await self.layer.receive(self.channel)

    async def sync(
        self, groups: Iterable[str], wanted: Callable[[str], bool], *, wait: bool = True
    ) -> None:
        """Join or leave each group as `wanted` says; returns once the layer has it
        (a layer call is done when it returns, so there is nothing to `wait` for).

        Serialised per group, and decided inside the lock, so an add and a discard
        racing for the same group always end in the state the sockets need.
        """
        for group in groups:
            async with self._locks[group]:
                want = wanted(group)
                try:
                    if want and group not in self.joined:
                        async with self._calls:
                            await self.layer.group_add(group, self.channel)
                        self.joined.add(group)
                    elif not want and group in self.joined:
                        self.joined.discard(group)
                        async with self._calls:
                            await self.layer.group_discard(group, self.channel)
                except Exception:
                    logger.exception(
                        "channel layer %s of %s failed", "join" if want else "leave", group
                    )
            if group not in self.joined and not self._locks[group].locked():
                del self._locks[group]

    async def refresh(self) -> None:
        """Re-join every group, so a layer's group expiry never drops a live one."""
        for group in list(self.joined):
            try:
                async with self._calls:
                    await self.layer.group_add(group, self.channel)
            except Exception:
                logger.warning("refreshing %s failed", group, exc_info=True)

    async def publish(self, batch: Batch) -> None:
        for group, message in batch:
            await self.layer.group_send(group, {**message, "group": group})


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

    def __init__(self, url: str, prefix: str):
        import redis.asyncio as redis

        self.namespace = channel_namespace(url, prefix)
        # The name shows the hub's connections in CLIENT LIST.
        self.client_name = f"{prefix}-hub-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.client = redis.from_url(url, socket_keepalive=True, client_name=self.client_name)
        self.subscriber = _Subscriber(self, self.client.connection_pool)
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
        await self.client.aclose()
        self.joined.clear()

    async def receive(self) -> Message:
        """The next published message; subscription confirmations are handled on the way."""
        await self._connect()
        while True:
            reply = await self.subscriber.get_message(timeout=None)
            if reply is None:
                continue
            kind = reply["type"]
            if kind == "message":
                channel = reply["channel"].decode()
                return unpack(channel[len(self.namespace) :], reply["data"])
            if kind == "subscribe":
                self._confirmed(reply["channel"])

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
        """One PUBLISH per event; a batch goes in one round trip, in order."""
        if len(batch) == 1:
            [(group, message)] = batch
            await self.client.publish(self.channel(group), pack(message))
            return
        async with self.client.pipeline(transaction=False) as pipe:
            for group, message in batch:
                pipe.publish(self.channel(group), pack(message))
            await pipe.execute()


@functools.cache
def _blocking_client(url: str):
    import redis

    return redis.Redis.from_url(url)


def publish_blocking(group: str, message: Message) -> None:
    """Publish from code that has no serving event loop (a management command)."""
    url = settings.REDIS_URL
    channel = f"{channel_namespace(url, settings.REDIS_PREFIX)}{group}"
    _blocking_client(url).publish(channel, pack(message))


def make_bus() -> LayerBus | RedisBus:
    if settings.REDIS_URL:
        return RedisBus(settings.REDIS_URL, settings.REDIS_PREFIX)
    from channels.layers import get_channel_layer

    return LayerBus(get_channel_layer())
