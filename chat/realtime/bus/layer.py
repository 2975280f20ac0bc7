"""The bus over any other configured Channels layer: the hub joins each group it needs
with one channel of its own, so an event is one layer message per process."""

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable

from .codec import Batch, Message

logger = logging.getLogger(__name__)

MAX_CONCURRENT_LAYER_CALLS = 32


class LayerBus:
    """Fan-out over a Channels layer (chat.realtime.hub's groups are layer groups)."""

    batches = False
    coalesces = False

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

    async def receive_ready(self) -> Message | None:
        """None: a layer has no way to take a message without waiting for one."""
        return None

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
