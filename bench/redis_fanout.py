"""CPU per event on the Redis fan-out path: the bus's PUBLISH and its subscriber's receive.

Run from the project root (Redis must be running):

    .venv/bin/python -m bench.redis_fanout [--events 3000]

One process publishes an event of a typical message's size to one group it is itself
subscribed to, and waits to receive it, one event at a time, so each figure is the
client CPU (this process, not Redis) of one publish plus one receive. It runs twice,
since these machines are noisy. With `--batch B`, also the sends' shape: batches of B
events to B rooms, the publish and the receive measured apart. (It once compared
channels_redis' group_send, which Parley no longer depends on: docs/performance.md
keeps that figure as history.)
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


async def bus_batches(events: int, size: int, prefix: str) -> tuple[float, float]:
    """Batches of `size` events to `size` groups (a group commit's, one room each), published
    as the outbox publishes them and received as the hub receives them (`receive`, then
    `receive_ready` until the batch is in): CPU seconds per event of each side."""
    from chat.realtime.bus.redis import RedisBus

    bus = RedisBus(REDIS_URL, prefix)
    await bus.start()
    groups = [f"room.{i}" for i in range(size)]
    await bus.sync(groups, lambda group: True, wait=False)
    batch = [(group, {"type": "chat.frame", "text": _text()}) for group in groups]
    await bus.publish(batch[:1])
    await bus.receive()  # every subscription confirmed before it (they come in order)
    publishing = receiving = 0.0
    rounds = max(1, events // size)
    for i in range(WARM_UP + rounds):
        if i == WARM_UP:
            publishing = receiving = 0.0
        started = time.process_time()
        await bus.publish(batch)
        publishing += time.process_time() - started
        started = time.process_time()
        got = 1 if await bus.receive() else 0
        while got < size:
            got += 1 if (await bus.receive_ready() or await bus.receive()) else 0
        receiving += time.process_time() - started
    await bus.stop()
    return publishing / (rounds * size), receiving / (rounds * size)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.redis_fanout")
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument(
        "--batch",
        type=int,
        metavar="B",
        help="also batches of B events to B rooms, publish and receive apart (a group commit)",
    )
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    print(f"load {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {args.events} events each")
    for _round in range(2):
        prefix = f"bench-fanout-{uuid.uuid4().hex[:8]}"
        micros = uvloop.run(bus_events(args.events, prefix)) * 1e6
        print(f"chat.realtime.bus PUBLISH  {micros:6.0f} us CPU per event (publish + receive)")
    for _round in range(3 if args.batch else 0):
        prefix = f"bench-fanout-{uuid.uuid4().hex[:8]}"
        publish, receive = uvloop.run(bus_batches(args.events, args.batch, prefix))
        print(
            f"batches of {args.batch}: publish {publish * 1e6:5.1f} + receive {receive * 1e6:5.1f}"
            f" = {(publish + receive) * 1e6:5.1f} us CPU per event"
        )


if __name__ == "__main__":
    main()
