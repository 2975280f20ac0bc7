"""CPU per event on the Redis fan-out path: the bus's PUBLISH and its subscriber's receive.

Run from the project root (Redis must be running):

    .venv/bin/python -m bench.redis_fanout [--events 3000]

One process publishes an event of a typical message's size to one group it is itself
subscribed to, and waits to receive it, one event at a time, so each figure is the
client CPU (this process, not Redis) of one publish plus one receive. It runs twice,
since these machines are noisy. (It once compared channels_redis' group_send, which
Parley no longer depends on: docs/performance.md keeps that figure as history.)
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
    for _round in range(2):
        prefix = f"bench-fanout-{uuid.uuid4().hex[:8]}"
        micros = uvloop.run(bus_events(args.events, prefix)) * 1e6
        print(f"chat.realtime.bus PUBLISH  {micros:6.0f} us CPU per event (publish + receive)")


if __name__ == "__main__":
    main()
