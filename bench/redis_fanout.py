"""CPU per event on the Redis fan-out path: channels_redis' group_send vs the bus's PUBLISH.

Run from the project root (Redis must be running):

    .venv/bin/python -m bench.redis_fanout [--events 3000]

One process publishes an event of a typical message's size to one group it is itself
subscribed to, and waits to receive it, one event at a time, so each figure is the
client CPU (this process, not Redis) of one publish plus one receive. The two designs
alternate twice, since these machines are noisy; compare within one run.
"""

import argparse
import asyncio
import os
import time
import uuid

import uvloop

from .environment import REDIS_URL

WARM_UP = 50


def _text() -> str:
    from chat.protocol.frames import encode

    body = "a message of about the size people send " * 3
    return encode({"type": "message", "message": {"id": 1, "seq": 1, "body": body}})


async def layer_events(events: int, prefix: str) -> float:
    """channels_redis: group_send (a Lua script) and the hub channel's receive."""
    from channels_redis.core import RedisChannelLayer

    layer = RedisChannelLayer(
        hosts=[{"address": REDIS_URL, "socket_timeout": 15}],
        prefix=prefix,
        channel_capacity={"hub.*": 20000},
    )
    channel = await layer.new_channel(prefix="hub")
    await layer.group_add("room.7", channel)
    message = {"type": "chat.frame", "text": _text(), "group": "room.7"}
    for i in range(WARM_UP + events):
        if i == WARM_UP:
            started = time.process_time()
        await layer.group_send("room.7", message)
        await layer.receive(channel)
    spent = time.process_time() - started
    await layer.group_discard("room.7", channel)
    await layer.flush()
    return spent / events


async def bus_events(events: int, prefix: str) -> float:
    """chat.realtime.bus.RedisBus: one PUBLISH, and the subscriber's receive."""
    from chat.realtime.bus.redis import RedisBus

    bus = RedisBus(REDIS_URL, prefix)
    await bus.start()
    received: asyncio.Queue = asyncio.Queue()

    async def receive_forever() -> None:
        while True:
            received.put_nowait(await bus.receive())

    reader = asyncio.create_task(receive_forever())
    await bus.sync(["room.7"], lambda group: True)
    batch = [("room.7", {"type": "chat.frame", "text": _text()})]
    for i in range(WARM_UP + events):
        if i == WARM_UP:
            started = time.process_time()
        await bus.publish(batch)
        await received.get()
    spent = time.process_time() - started
    reader.cancel()
    await bus.stop()
    return spent / events


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.redis_fanout")
    parser.add_argument("--events", type=int, default=3000)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    print(f"load {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {args.events} events each")
    for name, run in [("layer", layer_events), ("bus", bus_events)] * 2:
        prefix = f"bench-fanout-{uuid.uuid4().hex[:8]}"
        seconds = uvloop.run(run(args.events, prefix))
        label = "channels_redis group_send" if name == "layer" else "chat.realtime.bus PUBLISH"
        print(f"{label:26} {seconds * 1e6:6.0f} us CPU per event (publish + receive)")


if __name__ == "__main__":
    main()
