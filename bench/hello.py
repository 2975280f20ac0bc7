"""CPU per `hello`: what a socket costs its server to connect, by the size of the user's world.

`python -m bench.hello` opens sockets through the real ASGI
application in this process (Channels' test communicator, no network) for users in N
rooms of M members each, and prints the process's CPU (all threads: the database
thread's queries included) per socket, up to its `hello`. Beside it, in the same run,
a user in no room: the handshake, session, user and hub, and the hello's queries with
nothing to find. Every room has other members of its own, so a
user in N rooms of M follows about N × (M − 1) people's presence.

The database is a SQLite file of the run's own, or `--postgres` a PostgreSQL database
of its own; presence is in memory, or `--redis [URL]` in Redis (by default db 13, under
a key prefix of the run's own), where half of the followed people are online. After a
worker dies, its sockets all connect again at once to the others: this cost, times the
sockets, is how long they queue (docs/performance.md, "A socket's hello").
"""

import argparse
import asyncio
import contextlib
import gc
import json
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

from . import databases
from .environment import REDIS_URL, parley_env

SHAPES = ((0, 0), (2, 6), (10, 10), (20, 50))  # (rooms, members); (2, 6): the kill test's
SOCKETS = 20  # measured per shape, one per user (each a first socket: a status change)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.hello", description=__doc__)
    parser.add_argument("--sockets", type=int, default=SOCKETS, help="sockets per shape")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the median is printed")
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL, not SQLite")
    parser.add_argument(
        "--redis",
        nargs="?",
        const=REDIS_URL,
        metavar="URL",
        help=f"presence in Redis ({REDIS_URL})",
    )
    return parser.parse_args()


def configure(args: argparse.Namespace, directory: Path) -> str | None:
    """The environment Django reads at set-up (bench.environment's, as for the bench's
    servers); the PostgreSQL database to make and drop, if any."""
    database = None
    if args.postgres:
        database = f"parley_bench_hello_{os.getpid()}"
        url = f"{databases.PG_SERVER}/{database}"
    else:
        url = databases.sqlite_url(directory)
    prefix = f"bench-hello-{secrets.token_hex(4)}" if args.redis else None
    os.environ.update(
        parley_env(url, port=8000, redis_prefix=prefix, redis_url=args.redis or REDIS_URL)
    )
    os.environ["LOG_LEVEL"] = "WARNING"
    return database


def make_users(rooms: int, members: int, sockets: int, tag: str) -> tuple[list[str], list[int]]:
    """`sockets` users, each in `rooms` rooms of its own of `members` members (the same
    others in each user's first room, and so on); the users' session cookie values, and
    everyone in those rooms."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    from chat.models import Membership, Room, room_name_key

    model = get_user_model()
    made = model.objects.bulk_create(
        [model(username=f"h{tag}-{n}", display_name=f"H {n}") for n in range(sockets)]
    )
    others = model.objects.bulk_create(
        [model(username=f"h{tag}-o{n}") for n in range(rooms * max(0, members - 1))]
    )
    names = [f"hello {tag} {user.pk} {index}" for user in made for index in range(rooms)]
    made_rooms = Room.objects.bulk_create(
        Room(kind=Room.Kind.PUBLIC, name=name, name_key=room_name_key(name)) for name in names
    )
    memberships = []
    for number, room in enumerate(made_rooms):
        user, index = made[number // rooms], number % rooms
        share = others[index * (members - 1) : (index + 1) * (members - 1)]
        memberships += [Membership(room=room, user=u) for u in [user, *share]]
    Membership.objects.bulk_create(memberships)
    cookies = []
    for user in made:
        client = Client()
        client.force_login(user)
        cookies.append(client.cookies[settings.SESSION_COOKIE_NAME].value)
    return cookies, [u.pk for u in others]


async def online(user_ids: list[int]) -> None:
    """Half of these people checked in (in the store the server reads)."""
    from chat.realtime import presence

    store = presence.make_store()
    for user_id in user_ids[::2]:
        await store.check_in(user_id, f"bench-{user_id}", "active", presence.now())
    await store.close()


async def open_sockets(cookies: list[str]) -> tuple[float, list]:
    """CPU seconds of this process to open one socket per cookie, each up to its hello."""
    from channels.testing import WebsocketCommunicator
    from django.conf import settings

    from config.asgi import application

    opened = []
    began = time.process_time()
    for cookie in cookies:
        headers = [
            (b"origin", b"http://127.0.0.1:8000"),
            (b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()),
        ]
        socket = WebsocketCommunicator(application, "/ws/", headers=headers)
        connected, _ = await socket.connect(timeout=30)
        if not connected:
            raise RuntimeError("a socket was refused")
        while json.loads(await socket.receive_from(timeout=30))["type"] != "hello":
            pass
        opened.append(socket)
    return time.process_time() - began, opened


async def measure(args: argparse.Namespace) -> None:
    from channels.db import database_sync_to_async

    from chat import queries
    from chat.models import Membership

    # Warm: imports, the hub's start, Redis's scripts, the database's caches.
    warm, _people = await database_sync_to_async(make_users)(2, 6, args.sockets, "warm")
    _seconds, opened = await open_sockets(warm)
    for socket in opened:
        await socket.disconnect()
    per_shape: dict[tuple[int, int], list[float]] = {shape: [] for shape in SHAPES}
    followed: dict[tuple[int, int], int] = {}
    for round_ in range(args.rounds):
        for rooms, members in SHAPES:
            tag = f"{round_}-{rooms}x{members}"
            cookies, people = await database_sync_to_async(make_users)(
                rooms, members, args.sockets, tag
            )
            if args.redis:
                await online(people)
            gc.collect()  # no collection of the set-up's garbage inside the window
            seconds, opened = await open_sockets(cookies)
            per_shape[(rooms, members)].append(seconds / len(cookies) * 1e3)
            sample = await database_sync_to_async(
                lambda tag=tag: Membership.objects.filter(user__username=f"h{tag}-0").first()
            )()
            if sample is not None:
                followed[(rooms, members)] = len(
                    await database_sync_to_async(queries.presence_peers)(sample.user_id)
                )
            for socket in opened:
                await socket.disconnect()
    base = sorted(per_shape[(0, 0)])[len(per_shape[(0, 0)]) // 2]
    store = "Redis" if args.redis else "memory"
    database = "PostgreSQL" if args.postgres else "SQLite"
    print(f"CPU per socket up to its hello ({database}, presence in {store}; median of "
          f"{args.rounds} rounds of {args.sockets} sockets; load "
          + " ".join(f"{x:.2f}" for x in os.getloadavg()) + ")")  # fmt: skip
    print("| user in | people followed | ms CPU per socket | above no room (ms) | rounds |")
    print("|---|---|---|---|---|")
    for (rooms, members), values in per_shape.items():
        median = sorted(values)[len(values) // 2]
        shape = f"{rooms} rooms of {members}" if rooms else "no room"
        print(
            f"| {shape} | {followed.get((rooms, members), 0)} | {median:.2f} | "
            f"{median - base:.2f} | {', '.join(f'{v:.2f}' for v in values)} |"
        )


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="parley-bench-hello-") as directory:
        database = configure(args, Path(directory))
        import django

        context = databases.postgres_database(database) if database else contextlib.nullcontext()
        with context:
            django.setup()
            from django.core.management import call_command

            call_command("migrate", verbosity=0)
            try:
                asyncio.run(measure(args))
            finally:
                if args.redis:
                    forget(args.redis, os.environ["CHANNEL_PREFIX"])


def forget(url: str, prefix: str) -> None:
    """Delete the run's keys (presence's hashes have no expiry)."""
    import redis

    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(f"{prefix}:*", count=1000))
    for start in range(0, len(keys), 1000):
        client.delete(*keys[start : start + 1000])
    client.close()


if __name__ == "__main__":
    sys.exit(main())
