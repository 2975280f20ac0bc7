"""Parts of a cluster dying under traffic (issue 13): a worker killed (-9), Redis killed and
started again, PostgreSQL stopped for a while; and what must hold across workers
(presence, typing, flood control).

Two workers behind nginx (tests/faults/cluster.py), each test on a Redis of its own
(tests/instances.py: kill -9 and a restart leave it empty, as a crash does). The fault
tests' workers use a PostgreSQL cluster of the test's own holding a copy of the test
database (what the test created: people, rooms, sessions): the PostgreSQL test stops it,
and the others are timed without the load other tests put on the shared server. Every
process is started and stopped (or killed) by its pid. The clients are real WebSocket
clients following docs/protocol.md's client duties (`Member`); each test prints its
counts (run with -s to see them). The 5 s and 10 s outages are the scenario; outcomes
are waited for, with time limits.
"""

import asyncio
import json
import time
import uuid
from contextlib import AsyncExitStack, ExitStack

import pytest
from channels.db import database_sync_to_async
from django.conf import settings

from tests.factories import RoomFactory, UserFactory
from tests.faults.cluster import (
    Cluster,
    Member,
    counts,
    heads_at,
    live_sockets,
    people_in_rooms,
    request,
    settled,
    stored_at,
    traffic_flowed,
)
from tests.instances import running_postgres, running_redis
from tests.support import is_ack, is_live, shared_database_url
from tests.wsclient import session_cookie

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

HEADS_INTERVAL = 2.0  # PARLEY_HEADS_INTERVAL of these workers: presence expires in 3 rounds
BACK_SECONDS = 5.0  # the bound on coming back
SETTLE_SECONDS = 30.0


@pytest.fixture
def own_redis(tmp_path):
    directory = tmp_path / "redis"
    directory.mkdir()
    with running_redis(directory) as server:
        yield server


@pytest.fixture
def own_postgres():
    with running_postgres() as server:
        yield server


async def copy_of_test_database(postgres) -> str:
    """The workers' database: a copy, on a PostgreSQL of the test's own (no fsync, no
    other test's load), of what the test database holds now; its URL."""
    return await asyncio.to_thread(
        postgres.create_database, "parley", copy_of=shared_database_url()
    )


@pytest.fixture
def prefix() -> str:
    return f"parley-faults-{uuid.uuid4().hex[:12]}"


def cookie_header(value: str) -> str:
    return f"{settings.SESSION_COOKIE_NAME}={value}"


async def start_cluster(
    stack: ExitStack, nginx: str, tmp_path, redis_url: tuple[str, str], members=(), **env
) -> Cluster:
    """The fault tests' cluster (heads every HEADS_INTERVAL, `env` besides), stopped with
    `stack`; `members` pointed at its proxy."""
    cluster = Cluster(nginx, tmp_path, redis_url, PARLEY_HEADS_INTERVAL=str(HEADS_INTERVAL), **env)
    stack.callback(cluster.stop)
    await asyncio.to_thread(cluster.start)
    for member in members:
        member.port = cluster.port
    return cluster


async def members_of(rooms_of: dict, port: int) -> list[Member]:
    return [
        Member(user.username, cookie_header(await session_cookie(user)), rooms, port)
        for user, rooms in rooms_of.items()
    ]


async def settle(members: list[Member], stored_now) -> dict:
    """Once every send is acked, have every client catch up and hold what is stored; the
    stored messages."""
    acked = await settled(lambda: all(not m.unacked and m.socket for m in members), SETTLE_SECONDS)
    assert acked, {m.name: len(m.unacked) for m in members if m.unacked}
    for member in members:
        await member.catch_up()
    stored = await stored_now()

    def everyone_holds_it() -> bool:
        return all(m.held[room] == stored.get(room, {}) for m in members for room in m.rooms)

    assert await settled(everyone_holds_it, SETTLE_SECONDS), "a client lacks stored messages"
    return stored


def assert_nothing_lost(members: list[Member], figures: dict) -> None:
    assert (figures["lost"], figures["doubled"], figures["doubled in a view"]) == (0, 0, 0)
    assert figures["acked"] == figures["sent"] == figures["stored"], figures
    assert [c for m in members for c in m.conflicts] == []
    assert [e for m in members for e in m.errors] == []


# kill -9 of a worker.

KILL_CLIENTS, KILL_ROOMS, KILL_MESSAGES = 50, 10, 2000
KILL_SEND_EVERY = 0.4  # seconds between one client's sends: 125 sends a second in all


@pytest.mark.django_db(transaction=True)
async def test_kill_9_of_a_worker_loses_and_doubles_nothing(
    nginx, tmp_path, own_redis, own_postgres, prefix
):
    """50 clients in 10 rooms send 2,000 messages; one worker is killed outright when
    about 40% are acked. Its clients reconnect through the proxy to the other, resend
    what was unacked and catch up: within 5 s every client is connected and holds every
    message stored at the kill; in the end every send is acked, stored once, and held
    once by every client of its room."""
    rooms_of = await database_sync_to_async(people_in_rooms)(KILL_CLIENTS, KILL_ROOMS)
    members = await members_of(rooms_of, 0)
    database_url = await copy_of_test_database(own_postgres)
    with ExitStack() as stack:
        cluster = await start_cluster(
            stack, nginx, tmp_path, (own_redis.url, prefix), members, DATABASE_URL=database_url
        )
        done, quiet = asyncio.Event(), asyncio.Event()
        running = [asyncio.create_task(m.run(done)) for m in members]
        failure = None
        try:
            connected = await settled(lambda: all(m.socket for m in members), 60)
            assert connected, f"not all connected: {counts(members, {})['closes']}"
            per_client = KILL_MESSAGES // KILL_CLIENTS
            talking = [
                asyncio.create_task(m.talk(quiet, count=per_client, every=KILL_SEND_EVERY))
                for m in members
            ]
            assert await settled(
                lambda: sum(len(m.acked) for m in members) >= KILL_MESSAGES * 0.4, 60
            ), "the clients do not get their sends through"
            victims = cluster.worker_logs()["worker-a-1.log"].count('"WebSocket /ws/" [accepted]')
            await asyncio.to_thread(cluster.kill, 0)
            killed_at = time.monotonic()
            heads = await asyncio.to_thread(heads_at, database_url)

            def back() -> bool:
                moved = sum(bool(m.hellos) and m.hellos[-1] > killed_at for m in members)
                return moved >= victims and all(m.holds_through(heads) for m in members)

            came_back = await settled(back, 20)
            back_in = time.monotonic() - killed_at
            reconnected = max(m.hellos[-1] for m in members) - killed_at
            await asyncio.gather(*talking)
            stored = await settle(members, lambda: asyncio.to_thread(stored_at, database_url))
        except Exception as exc:
            failure = f"{type(exc).__name__}: {exc}"
        finally:
            done.set()
            await asyncio.gather(*running, return_exceptions=True)
        if failure is not None:
            raise AssertionError(f"{failure}\n{cluster.tails()}")
        figures = counts(members, stored)
        print(
            f"\nkill -9 of 1 of 2 workers: {KILL_CLIENTS} clients in {KILL_ROOMS} rooms "
            f"sending {KILL_CLIENTS / KILL_SEND_EVERY:.0f} a second, "
            f"{victims} of them on the killed worker; {figures}; every client back "
            f"{reconnected:.1f} s and caught up {back_in:.1f} s after the kill"
        )
        assert came_back and back_in <= BACK_SECONDS, f"back after {back_in:.1f} s"
        assert figures["stored"] == KILL_MESSAGES
        assert_nothing_lost(members, figures)
        assert figures["closes"].get("dropped", 0) >= victims
        assert cluster.workers[1].process.poll() is None
        cluster.no_tracebacks()


# kill -9 of Redis, started again 5 s later.

REDIS_CLIENTS, REDIS_ROOMS = 20, 4
REDIS_DOWN_SECONDS = 5.0
PROBE_EVERY = 0.25


@database_sync_to_async
def probe_users() -> tuple:
    """Two people alone in a room of their own, one socket on each worker."""
    one, other = UserFactory(username="probe-a"), UserFactory(username="probe-b")
    room = RoomFactory(name="probes", members=[one, other])
    return one, other, room


async def live_again(sender, listener, room_id: int, timeout: float) -> float | None:
    """Seconds until a message sent now (again every PROBE_EVERY s) reaches the
    listener live, or None if none did within `timeout`."""
    began = time.monotonic()
    sent: set[str] = set()
    while time.monotonic() - began < timeout:
        client_msg_id = str(uuid.uuid4())
        sent.add(client_msg_id)
        await sender.send(
            {"type": "send", "room": room_id, "body": "probe", "client_msg_id": client_msg_id}
        )
        deadline = time.monotonic() + PROBE_EVERY
        while time.monotonic() < deadline:
            if any(f["type"] == "message" and f["message"]["client_msg_id"] in sent
                   for f in listener.frames):  # fmt: skip
                return time.monotonic() - began
            await asyncio.sleep(0.01)
    return None


@pytest.mark.django_db(transaction=True)
async def test_kill_9_of_redis_loses_nothing_and_live_delivery_resumes(
    nginx, tmp_path, own_redis, own_postgres, prefix
):
    """20 clients in 4 rooms send all along while Redis is killed (-9) and started again
    5 s later, empty. Every acked message is stored once and every send acked in the end;
    live delivery between the two workers resumes within 5 s of Redis returning (two
    probe sockets, one on each worker, in both directions); within three heads rounds
    every socket is checked in to presence again and a new socket's hello shows everyone
    online; no socket is closed with 1011."""
    rooms_of = await database_sync_to_async(people_in_rooms)(REDIS_CLIENTS, REDIS_ROOMS)
    probe_a, probe_b, probe_room = await probe_users()
    members = await members_of(rooms_of, 0)
    cookies = {user: cookie_header(await session_cookie(user)) for user in (probe_a, probe_b)}
    database_url = await copy_of_test_database(own_postgres)
    with ExitStack() as stack:
        cluster = await start_cluster(
            stack, nginx, tmp_path, (own_redis.url, prefix), members, DATABASE_URL=database_url
        )
        done, quiet = asyncio.Event(), asyncio.Event()
        running = [asyncio.create_task(m.run(done)) for m in members]
        failure = None
        try:
            async with AsyncExitStack() as sockets:
                on_a = await cluster.open_peer(sockets, "probe a", cookies[probe_a], worker=0)
                on_b = await cluster.open_peer(sockets, "probe b", cookies[probe_b], worker=1)
                for peer in (on_a, on_b):
                    await peer.wait_for(lambda f: f["type"] == "hello", "hello")
                connected = await settled(lambda: all(m.socket for m in members), 60)
                assert connected, f"not all connected: {counts(members, {})['closes']}"
                assert await live_again(on_a, on_b, probe_room.pk, 5) is not None
                talking = [asyncio.create_task(m.talk(quiet)) for m in members]
                await traffic_flowed(members)  # before
                await asyncio.to_thread(own_redis.kill)
                killed = time.monotonic()
                # Chat goes on without Redis: a new socket is taken, its send acked.
                during = await cluster.open_peer(sockets, "during", cookies[probe_a], worker=1)
                await during.wait_for(lambda f: f["type"] == "hello", "hello without Redis")
                client_msg_id = str(uuid.uuid4())
                await during.send(
                    {"type": "send", "room": probe_room.pk, "body": "without Redis",
                     "client_msg_id": client_msg_id}
                )  # fmt: skip
                await during.wait_for(is_ack(client_msg_id), "the ack without Redis")
                # The scenario: Redis is away 5 s.
                await asyncio.sleep(max(0.0, killed + REDIS_DOWN_SECONDS - time.monotonic()))
                await asyncio.to_thread(own_redis.start)
                returned = time.monotonic()
                a_to_b = await live_again(on_a, on_b, probe_room.pk, 15)
                b_to_a = await live_again(on_b, on_a, probe_room.pk, 15)
                resumed = time.monotonic() - returned
                # Each socket open, checked in again: probe a has two (on_a, during).
                expected = {u.pk: 1 for u in rooms_of} | {probe_a.pk: 2, probe_b.pk: 1}

                def all_checked_in() -> bool:
                    return live_sockets(own_redis.url, prefix, list(expected)) == expected

                presence_back = await settled(all_checked_in, 3 * HEADS_INTERVAL + 5)
                presence_in = time.monotonic() - returned
                fresh = await cluster.open_peer(sockets, "fresh", members[0].cookie, worker=0)
                hello = await fresh.wait_for(lambda f: f["type"] == "hello", "hello")
                quiet.set()
                await asyncio.gather(*talking)
                stored = await settle(members, lambda: asyncio.to_thread(stored_at, database_url))
        except Exception as exc:
            failure = f"{type(exc).__name__}: {exc}"
        finally:
            done.set()
            await asyncio.gather(*running, return_exceptions=True)
        if failure is not None:
            raise AssertionError(f"{failure}\n{cluster.tails()}")
        members_only = {room: stored[room] for m in members for room in m.rooms}
        figures = counts(members, members_only)
        print(
            f"\nkill -9 of Redis, started again {REDIS_DOWN_SECONDS:.0f} s later: "
            f"{REDIS_CLIENTS} clients in {REDIS_ROOMS} rooms; {figures}; live across workers "
            f"again {a_to_b} s (a to b) and {b_to_a} s (b to a) after, {resumed:.1f} s for "
            f"both; presence all checked in {presence_in:.1f} s after Redis returned"
        )
        assert a_to_b is not None and b_to_a is not None and resumed <= BACK_SECONDS
        assert presence_back and presence_in <= 3 * HEADS_INTERVAL, presence_in
        peers = {int(u) for u, view in hello["presence"].items() if view["status"] == "online"}
        assert peers == set(map(int, hello["presence"])) and len(peers) > 1, hello["presence"]
        assert 1011 not in figures["closes"], figures["closes"]
        assert_nothing_lost(members, figures)
        assert all(w.process.poll() is None for w in cluster.workers)


# PostgreSQL stopped for 10 s.

PG_CLIENTS, PG_ROOMS = 10, 2
PG_DOWN_SECONDS = 10.0
ANSWER_SECONDS = 5.0  # a frame is answered (ack or error) within this, database or not


def post_message(port: int, cookie: str, room_id: int) -> tuple[int, dict]:
    """A send over the HTTP API through the proxy: (status, JSON answer or {})."""
    status, headers, body = request(
        port,
        "POST",
        f"/api/rooms/{room_id}/messages",
        cookie=cookie,
        body=json.dumps({"body": "over HTTP", "client_msg_id": str(uuid.uuid4())}).encode(),
        headers={"Content-Type": "application/json"},
    )
    is_json = headers.get("content-type") == "application/json"
    return status, json.loads(body) if is_json else {"body": body[:200].decode(errors="replace")}


@pytest.mark.django_db(transaction=True)
async def test_postgresql_stopped_for_10_s_answers_unavailable_and_loses_nothing(
    nginx, tmp_path, own_redis, own_postgres, prefix
):
    """10 clients in 2 rooms send all along while the workers' PostgreSQL (a cluster of
    the test's own, with a copy of the test database) is stopped (fast shutdown) for
    10 s. Meanwhile every send is answered, with `unavailable` (never silence, never a
    1011 or a 500), as is a send over the HTTP API (503); the clients retry, and once
    PostgreSQL is back every send is acked, stored once and held once by every client of
    its room. The workers stay up."""
    rooms_of = await database_sync_to_async(people_in_rooms)(PG_CLIENTS, PG_ROOMS)
    members = await members_of(rooms_of, 0)
    postgres = own_postgres
    database_url = await copy_of_test_database(postgres)
    with ExitStack() as stack:
        cluster = await start_cluster(
            stack, nginx, tmp_path, (own_redis.url, prefix), members, DATABASE_URL=database_url
        )
        some = members[0]
        done, quiet = asyncio.Event(), asyncio.Event()
        running = [asyncio.create_task(m.run(done)) for m in members]
        failure = None
        try:
            connected = await settled(lambda: all(m.socket for m in members), 60)
            assert connected, f"not all connected: {counts(members, {})['closes']}"
            talking = [asyncio.create_task(m.talk(quiet)) for m in members]
            assert await settled(lambda: sum(len(m.acked) for m in members) >= 50, 30)
            await asyncio.to_thread(postgres.stop)
            stopped = time.monotonic()
            refused_before = sum(m.refusals["unavailable"] for m in members)
            assert await settled(
                lambda: sum(m.refusals["unavailable"] for m in members) > refused_before + 20, 5
            ), "sends are not answered unavailable"
            over_http = await asyncio.to_thread(
                post_message, cluster.port, some.cookie, some.rooms[0]
            )
            # The scenario: PostgreSQL is away 10 s.
            await asyncio.sleep(max(0.0, stopped + PG_DOWN_SECONDS - time.monotonic()))
            up_during = [w.process.poll() is None for w in cluster.workers]
            await asyncio.to_thread(postgres.start)
            quiet.set()
            await asyncio.gather(*talking)
            stored = await settle(members, lambda: asyncio.to_thread(stored_at, database_url))
            after = await asyncio.to_thread(post_message, cluster.port, some.cookie, some.rooms[0])
        except Exception as exc:
            failure = f"{type(exc).__name__}: {exc}"
        finally:
            done.set()
            await asyncio.gather(*running, return_exceptions=True)
        if failure is not None:
            raise AssertionError(f"{failure}\n{cluster.tails()}")
        http_cid = after[1].get("client_msg_id")
        figures = counts(
            members,
            {
                room: {s: c for s, c in held.items() if c != http_cid}
                for room, held in stored.items()
            },
        )
        slowest = max(m.slowest_answer for m in members)
        print(
            f"\nPostgreSQL stopped for {PG_DOWN_SECONDS:.0f} s: {PG_CLIENTS} clients in "
            f"{PG_ROOMS} rooms; {figures}; slowest answer to a send {slowest:.2f} s; a send "
            f"over HTTP meanwhile {over_http[0]} {over_http[1]}, after {after[0]}"
        )
        assert figures["refused"].get("unavailable", 0) > 20, figures["refused"]
        assert set(figures["refused"]) == {"unavailable"}, figures["refused"]
        assert slowest <= ANSWER_SECONDS, slowest
        assert over_http[0] == 503 and over_http[1]["error"]["code"] == "unavailable", over_http
        assert after[0] == 201, after
        assert set(figures["closes"]) == {"stopped"}, figures["closes"]
        assert_nothing_lost(members, figures)
        assert up_during == [True, True]
        assert all(w.process.poll() is None for w in cluster.workers)


# What holds across workers.

SEND_LIMIT = 20  # PARLEY_SEND_RATE of these workers: 20 sends an hour (no window edge near)


def answer_to(client_msg_id: str):
    return lambda f: f["type"] in ("ack", "error") and f.get("client_msg_id") == client_msg_id


async def send_on(peer, room_id: int, body: str) -> dict:
    """Send on this socket and wait for its answer: the ack or the error."""
    client_msg_id = str(uuid.uuid4())
    await peer.send({"type": "send", "room": room_id, "body": body, "client_msg_id": client_msg_id})
    return await peer.wait_for(answer_to(client_msg_id), f"the answer to {body!r}")


async def answered(peer, frame: dict) -> None:
    """Send a frame that has no answer, then a ping: once the pong is back, this socket's
    worker has handled the frame (a socket's frames are answered in order)."""
    await peer.send(frame)
    pongs = len(peer.of_type("pong"))
    await peer.send({"type": "ping"})
    await peer.wait_for(lambda f: len(peer.of_type("pong")) > pongs, "the pong")


@pytest.mark.django_db(transaction=True)
async def test_presence_typing_and_flood_control_hold_across_workers(
    nginx, tmp_path, own_redis, prefix
):
    """A user with a tab on each worker is one presence (online once; offline once, when
    the last tab closes), one typing notice per 2 s whichever tabs type, and one send
    budget: sending from both tabs in turn, they get the limit through (one more at
    most: each worker counts alone up to half the limit), not twice the limit."""
    tabs = await database_sync_to_async(UserFactory)(username="tabs")
    watcher = await database_sync_to_async(UserFactory)(username="watcher")
    room = await database_sync_to_async(RoomFactory)(name="across", members=[tabs, watcher])
    with ExitStack() as stack:
        cluster = await start_cluster(
            stack, nginx, tmp_path, (own_redis.url, prefix), PARLEY_SEND_RATE=f"{SEND_LIMIT},3600"
        )
        failure = None
        try:
            async with AsyncExitStack() as sockets:
                cookie = cookie_header(await session_cookie(tabs))
                watching = await cluster.open_peer(
                    sockets, "watcher", cookie_header(await session_cookie(watcher)), worker=0
                )
                await watching.wait_for(lambda f: f["type"] == "hello", "hello")

                def status_of_tabs() -> list[str]:
                    return [
                        f["status"] for f in watching.of_type("presence") if f["user"] == tabs.pk
                    ]

                one = await cluster.open_peer(sockets, "tab on a", cookie, worker=0)
                await one.wait_for(lambda f: f["type"] == "hello", "hello")
                await watching.wait_for(lambda f: status_of_tabs() == ["online"], "online")
                other = await cluster.open_peer(sockets, "tab on b", cookie, worker=1)
                await other.wait_for(lambda f: f["type"] == "hello", "hello")
                mark = await send_on(other, room.pk, "second tab open")
                await watching.wait_for(is_live(mark["client_msg_id"]), "the second tab's")
                after_second_tab = status_of_tabs()

                for peer in (one, other):
                    await answered(peer, {"type": "typing", "room": room.pk})
                marks = [await send_on(peer, room.pk, "typed") for peer in (one, other)]
                for sent in marks:
                    await watching.wait_for(is_live(sent["client_msg_id"]), "after typing")
                typing = [f for f in watching.of_type("typing") if f["user"]["id"] == tabs.pk]

                answers = [mark, *marks]
                for n in range(2 * SEND_LIMIT - len(answers)):
                    answers.append(await send_on((one, other)[n % 2], room.pk, f"flood {n}"))
                got_through = sum(a["type"] == "ack" for a in answers)
                refused = {a["code"] for a in answers if a["type"] == "error"}

                await one.socket.close()
                live = {tabs.pk: 1}
                assert await settled(
                    lambda: live_sockets(own_redis.url, prefix, [tabs.pk]) == live, 10
                ), "the closed tab did not check out"
                await answered(other, {"type": "presence", "status": "active"})
                after_first_close = status_of_tabs()
                await other.socket.close()
                await watching.wait_for(lambda f: "offline" in status_of_tabs(), "offline")
                await answered(watching, {"type": "presence", "status": "active"})
        except Exception as exc:
            failure = f"{type(exc).__name__}: {exc}"
        if failure is not None:
            raise AssertionError(f"{failure}\n{cluster.tails()}")
        print(
            f"\nacross 2 workers, one user with a tab on each: presence heard by another "
            f"{status_of_tabs()}; typing notices from both tabs heard {len(typing)} time(s); "
            f"{got_through} of {len(answers)} sends from both tabs in turn got through "
            f"(limit {SEND_LIMIT}), the rest refused {sorted(refused)}"
        )
        assert after_second_tab == ["online"] and after_first_close == ["online"]
        assert status_of_tabs() == ["online", "offline"]
        assert len(typing) == 1
        assert SEND_LIMIT <= got_through <= SEND_LIMIT + 1 and refused == {"rate_limited"}
        cluster.no_tracebacks()
