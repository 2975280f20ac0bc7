"""CPU per send in the database thread: `services.send_messages` on groups, no server.

`python -m bench.send_group [--postgres] [--group 32] [--groups 200] [--rounds 3]` stores
groups of sends from 50 users, each alone in a room of its own (the shape of
`python -m bench --sends`), through the service the database thread calls, and prints the
CPU this thread spends per send (what bounds the server's database thread), the wall
time per send, and Python calls per send (cProfile, one extra pass). Events go to an
event loop in another thread, as in the server, over a bus that drops them.

The database is a SQLite file of the run's own, or `--postgres` a PostgreSQL database
of its own (docs/performance.md, "Group commit").
"""

import argparse
import asyncio
import cProfile
import os
import pstats
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from . import databases
from .environment import parley_env

ROOMS = 50


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.send_group", description=__doc__)
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL, not SQLite")
    parser.add_argument("--group", type=int, default=32, help="sends per group")
    parser.add_argument("--groups", type=int, default=200, help="groups per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; each is printed")
    return parser.parse_args()


class DroppingBus:
    """A bus that takes every event and does nothing with it."""

    coalesces = False
    batches = True

    async def publish(self, batch) -> None:
        return None


def serving_loop() -> asyncio.AbstractEventLoop:
    """An event loop in a thread of its own that the fan-out publishes from."""
    from chat.realtime import fanout

    loop = asyncio.new_event_loop()
    fanout.serve_from(loop, DroppingBus())
    threading.Thread(target=loop.run_forever, daemon=True).start()
    return loop


def make_senders() -> list[tuple[object, int]]:
    from django.contrib.auth import get_user_model

    from chat.models import Membership, Room, room_name_key

    users = get_user_model().objects.bulk_create(
        get_user_model()(username=f"sender{n}") for n in range(ROOMS)
    )
    names = [f"send group {n}" for n in range(ROOMS)]
    rooms = Room.objects.bulk_create(
        Room(kind=Room.Kind.PUBLIC, name=name, name_key=room_name_key(name)) for name in names
    )
    Membership.objects.bulk_create(
        Membership(room=room, user=user) for user, room in zip(users, rooms, strict=True)
    )
    return [(user, room.pk) for user, room in zip(users, rooms, strict=True)]


def groups(senders, size: int, count: int, start: int) -> list[list]:
    from chat.services import SendRequest

    made = []
    for g in range(count):
        group = []
        for k in range(size):
            user, room_id = senders[(start + g * size + k) % len(senders)]
            group.append(SendRequest(user, room_id, f"message {g}.{k}", str(uuid.uuid4())))
        made.append(group)
    return made


def run(batches: list[list]) -> tuple[float, float]:
    """Thread CPU seconds and wall seconds to store the groups."""
    from chat import services

    cpu, wall = time.thread_time(), time.perf_counter()
    for group in batches:
        outcomes = services.send_messages(group)
        if any(isinstance(outcome, Exception) for outcome in outcomes):
            raise next(o for o in outcomes if isinstance(o, Exception))
    return time.thread_time() - cpu, time.perf_counter() - wall


def measure(args: argparse.Namespace) -> None:
    senders = make_senders()
    serving_loop()
    run(groups(senders, args.group, 20, 0))  # warm
    sends = args.group * args.groups
    database = "PostgreSQL" if args.postgres else "SQLite"
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"send_messages, {database}, groups of {args.group} in {ROOMS} rooms (load {load})")
    for round_ in range(args.rounds):
        cpu, wall = run(groups(senders, args.group, args.groups, round_))
        print(
            f"  round {round_ + 1}: {cpu / sends * 1e6:.0f} µs CPU per send, "
            f"{wall / sends * 1e6:.0f} µs wall per send"
        )
    profile = cProfile.Profile()
    batches = groups(senders, args.group, 20, 0)
    profile.enable()
    run(batches)
    profile.disable()
    calls = pstats.Stats(profile).total_calls  # type: ignore[attr-defined]
    print(f"  {calls / (args.group * 20):.0f} Python calls per send (cProfile)")


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="parley-bench-send-group-") as directory:
        if args.postgres:
            name = f"parley_bench_send_group_{os.getpid()}"
            context = databases.postgres_database(name)
            url = f"{databases.PG_SERVER}/{name}"
        else:
            context = None
            url = databases.sqlite_url(Path(directory))
        os.environ.update(parley_env(url, redis_url=""))
        os.environ["LOG_LEVEL"] = "WARNING"
        import django

        if context is not None:
            context.__enter__()
        try:
            django.setup()
            from django.core.management import call_command

            call_command("migrate", verbosity=0)
            measure(args)
        finally:
            if context is not None:
                from django.db import connections

                connections.close_all()
                context.__exit__(None, None, None)


if __name__ == "__main__":
    sys.exit(main())
