"""The server's lifespan: at shutdown, queued events are published, then the hub closes."""

import asyncio

from chat.realtime import fanout
from chat.realtime.hub import Hub
from chat.realtime.lifespan import lifespan

STILL_WAITING = 0.2  # how long shutdown is seen to wait for a held publish


class Lifespan:
    """The lifespan application as a server drives it."""

    def __init__(self):
        self.inbox: asyncio.Queue = asyncio.Queue()
        self.answered: list[str] = []
        self.running: asyncio.Task | None = None

    async def send(self, message) -> None:
        self.answered.append(message["type"])

    async def start(self) -> None:
        await self.inbox.put({"type": "lifespan.startup"})
        self.running = asyncio.create_task(
            lifespan({"type": "lifespan"}, self.inbox.get, self.send)
        )

    async def shut_down(self) -> None:
        await self.inbox.put({"type": "lifespan.shutdown"})


async def test_shutdown_publishes_what_is_queued_then_closes_the_hub(monkeypatch, settings):
    settings.REDIS_URL = ""  # the process-local bus; the real servers' tests use Redis
    server = Lifespan()
    await server.start()
    hub = Hub.current()
    await hub._start()
    held, published = asyncio.Event(), []
    publish = hub.bus.publish

    async def held_publish(batch):
        await held.wait()
        published.extend(group for group, _message in batch)
        await publish(batch)

    monkeypatch.setattr(hub.bus, "publish", held_publish)
    fanout.publish_to_room(7, {"type": "message"})  # queued on this loop's outbox

    await server.shut_down()
    done, _ = await asyncio.wait({server.running}, timeout=STILL_WAITING)
    assert not done, "shutdown did not wait for the queued event"
    held.set()
    await asyncio.wait_for(server.running, 5)
    assert server.answered == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert published == ["room.7"]
    assert asyncio.get_running_loop() not in Hub._by_loop


async def test_shutdown_without_a_hub_has_nothing_to_let_go():
    server = Lifespan()
    await server.start()
    await server.shut_down()
    await asyncio.wait_for(server.running, 5)
    assert server.answered == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
