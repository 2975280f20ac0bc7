"""Several workers behind nginx on one port, as `make cluster` runs them (config/cluster.py,
deploy/nginx.conf.template), on PostgreSQL and Redis.

The workers and the proxy (the harness in tests/cluster.py) are started by tests/support's
starter on private loopback ports, each stopped by its pid afterwards; the workers use
the test database pytest-django created and a private Redis prefix (the `redis_url`
fixture). nginx must be installed (`make services`): without it these tests skip on a
developer machine and fail under CI=true. Runs in the PostgreSQL CI run only (deselected otherwise).
"""

import asyncio
import http.client
import json
import random
import re
import signal
import socket
import sys
import time
import uuid
from collections import Counter
from contextlib import AsyncExitStack, suppress
from pathlib import Path

import pytest
import redis
from channels.db import database_sync_to_async
from django.conf import settings
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from chat.models import Message
from chat.protocol.schema import check_frame
from config.cluster import BODY_SLACK, WORKER_ENV
from tests.cluster import require_nginx, running_cluster
from tests.factories import RoomFactory, UserFactory
from tests.support import (
    HOST,
    Peer,
    free_port,
    is_ack,
    is_live,
    make_certificates,
    open_peer,
    shared_env,
    start_server,
)
from tests.wsclient import session_cookie

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]

WORKERS = 2
UPLOAD_MAX = 1024 * 1024  # the workers' PARLEY_UPLOAD_MAX_BYTES: nginx then caps bodies at 2 MiB
CSRF_SECRET = "c" * 32  # any 32 letters: a CSRF cookie, and the header that must match it


@pytest.fixture
def nginx() -> str:
    return require_nginx()


@pytest.fixture
def cluster(transactional_db, redis_url, nginx, tmp_path):
    """Depends on transactional_db so that it is torn down first: the workers' database
    sessions must be gone before the test database is flushed."""
    port = free_port()
    env = shared_env(
        port,  # the proxy's address: the origins and host names the browser uses
        redis_url,
        PARLEY_UPLOAD_MAX_BYTES=str(UPLOAD_MAX),
        PARLEY_SEND_RATE="100000,10",
        PARLEY_LIMIT_HISTORY="0,1",
        **WORKER_ENV,
    )
    with running_cluster(
        nginx, tmp_path, port=port, workers=WORKERS, env=env, body_max=UPLOAD_MAX + BODY_SLACK
    ) as cluster:
        yield cluster


# HTTP through the proxy, as a browser would send it.


def request(
    port: int, method: str, path: str, *, cookie: str = "", body: bytes = b"", headers=()
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        connection.request(
            method,
            path,
            body=body,
            headers={
                "Cookie": f"{cookie}; csrftoken={CSRF_SECRET}",
                "X-CSRFToken": CSRF_SECRET,
                "Origin": f"http://{HOST}:{port}",
                **dict(headers),
            },
        )
        answer = connection.getresponse()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
    finally:
        connection.close()


async def post_message(port: int, cookie: str, room_id: int, body: str) -> str:
    client_msg_id = str(uuid.uuid4())
    status, _headers, answer = await asyncio.to_thread(
        request,
        port,
        "POST",
        f"/api/rooms/{room_id}/messages",
        cookie=cookie,
        body=json.dumps({"body": body, "client_msg_id": client_msg_id}).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert status == 201, (status, answer)
    return client_msg_id


async def send_and_hear(sender: Peer, listeners: list[Peer], room_id: int, body: str) -> None:
    client_msg_id = str(uuid.uuid4())
    await sender.send(
        {"type": "send", "room": room_id, "body": body, "client_msg_id": client_msg_id}
    )
    await sender.wait_for(is_ack(client_msg_id), f"the ack of {body!r}")
    for peer in listeners:
        await peer.wait_for(is_live(client_msg_id), f"{body!r} live")


async def test_two_users_on_two_workers_chat_through_the_proxys_one_port(cluster):
    """Over HTTP and WebSocket; least connections puts the second socket on the other
    worker; a worker stopping closes its socket with 1012, which reconnects through the
    same port to the worker still up and goes on chatting."""
    alice = await database_sync_to_async(UserFactory)(username="alice")
    bob = await database_sync_to_async(UserFactory)(username="bob")
    room = await database_sync_to_async(RoomFactory)(name="across", members=[alice, bob])
    cookies = {
        user.username: f"{settings.SESSION_COOKIE_NAME}={await session_cookie(user)}"
        for user in (alice, bob)
    }
    failure = None
    try:
        async with AsyncExitStack() as stack:
            status, _headers, page = await asyncio.to_thread(
                request, cluster.port, "GET", f"/rooms/{room.pk}/", cookie=cookies["alice"]
            )
            assert status == 200 and b"across" in page, status
            on_one = await open_peer(stack, "alice", cluster.proxy, alice)
            await on_one.wait_for(lambda f: f["type"] == "hello", "hello")
            on_other = await open_peer(stack, "bob", cluster.proxy, bob)
            await on_other.wait_for(lambda f: f["type"] == "hello", "hello")
            holding = cluster.holding()
            assert sorted(holding) == ["worker-a", "worker-b"], holding

            await send_and_hear(on_one, [on_one, on_other], room.pk, "from one worker")
            await send_and_hear(on_other, [on_one, on_other], room.pk, "from the other")
            over_http = await post_message(cluster.port, cookies["bob"], room.pk, "over HTTP")
            for peer in (on_one, on_other):
                await peer.wait_for(is_live(over_http), "the HTTP message live")

            # Bodies: over Parley's limit, its JSON answer; over the proxy's, nginx's.
            uploads = f"/api/rooms/{room.pk}/uploads"
            for size, answered_by in (
                (UPLOAD_MAX * 3 // 2, "parley"),
                (UPLOAD_MAX * 5 // 2, "nginx"),
            ):
                status, headers, _answer = await asyncio.to_thread(
                    request, cluster.port, "POST", uploads, cookie=cookies["alice"],
                    body=b"x" * size, headers={"Content-Type": "application/octet-stream"},
                )  # fmt: skip
                by = "parley" if headers["content-type"] == "application/json" else "nginx"
                assert (status, by) == (413, answered_by), (size, status, headers)

            [first] = [w for w in cluster.workers if w.name == holding[0]]
            await asyncio.to_thread(first.stop)
            assert first.process.returncode == -signal.SIGTERM, first.log_tail()
            await asyncio.wait_for(asyncio.shield(on_one.reader), 5)
            assert on_one.close_code == 1012, on_one.closed
            assert not on_other.reader.done(), on_other.closed
            back = await open_peer(stack, "alice again", cluster.proxy, alice)
            await back.wait_for(lambda f: f["type"] == "hello", "hello after 1012")
            await send_and_hear(back, [back, on_other], room.pk, "after the restart")
    except Exception as exc:  # no chained traceback through websockets' frames
        failure = f"{type(exc).__name__}: {exc}"
    if failure is not None:
        raise AssertionError(f"{failure}\n{cluster.tails()}")
    cluster.no_tracebacks()


# A rolling restart under traffic.

CLIENTS = 20
ROOMS = 4
SEND_EVERY = 0.2  # seconds between one client's sends
WINDOW = 8  # sends a client has unanswered at most, as a person typing would (the server
# closes a socket with 32 frames unanswered: MAX_PENDING_FRAMES)
FETCH_LIMIT = 200
SETTLE_SECONDS = 20.0


class Member:
    """One client following docs/protocol.md, "The client's duties", through the proxy:
    messages kept by seq per room; on every hello, catch up after the highest contiguous
    seq and resend every unacknowledged send with its client_msg_id; a gap or a head past
    what it holds is fetched; a close reconnects, at once after 1012."""

    def __init__(self, name: str, cookie: str, rooms: list[int], port: int):
        self.name = name
        self.cookie = cookie
        self.port = port
        self.held: dict[int, dict[int, str]] = {room: {} for room in rooms}  # seq → client_msg_id
        self.contiguous = dict.fromkeys(rooms, 0)
        self.fetching: dict[str, int] = {}  # request_id → room
        self.unacked: dict[str, dict] = {}  # client_msg_id → its send frame
        self.acked: set[str] = set()
        self.closes: Counter = Counter()  # close code (or "refused") → times
        self.heard_again = 0  # another's message heard live twice, and ignored (duty 3)
        self.conflicts: list[str] = []  # one seq, two messages: must never happen
        self.errors: list[dict] = []
        self.resent = 0
        self.socket = None
        self.sending = True

    @property
    def rooms(self) -> list[int]:
        return list(self.held)

    async def run(self, done: asyncio.Event) -> None:
        """Stay connected until `done`, reconnecting after every close."""
        while not done.is_set():
            code = await self._connection(done)
            self.closes[code] += 1
            if code != 1012 and not done.is_set():
                await asyncio.sleep(random.uniform(0.05, 0.2))  # noqa: S311 (jitter)

    async def _connection(self, done: asyncio.Event):
        try:
            async with connect(
                f"ws://{HOST}:{self.port}/ws/",
                origin=f"http://{HOST}:{self.port}",
                additional_headers={"Cookie": self.cookie},
                open_timeout=5,
            ) as socket:
                self.socket = socket
                closing = asyncio.create_task(done.wait())
                reading = asyncio.create_task(self._read(socket))
                await asyncio.wait({closing, reading}, return_when=asyncio.FIRST_COMPLETED)
                closing.cancel()
                if not reading.done():
                    return "stopped"
                reading.result()
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd is not None else "dropped"
        except InvalidStatus as refused:
            return refused.response.status_code
        except OSError as failed:
            return type(failed).__name__
        except TimeoutError:
            return "timed out"
        finally:
            self.socket = None
        return "closed"

    async def _read(self, socket) -> None:
        async for text in socket:
            frame = check_frame(json.loads(text))
            match frame["type"]:
                case "hello":
                    self.fetching.clear()  # those answers went with the last socket
                    for room in self.rooms:
                        await self._fetch(room)
                    for send in list(self.unacked.values()):
                        self.resent += 1
                        await socket.send(json.dumps(send))
                case "ack":
                    self.unacked.pop(frame["client_msg_id"], None)
                    self.acked.add(frame["client_msg_id"])
                    await self._hold(frame["message"], again_counts=False)
                case "message":
                    own = frame["message"]["client_msg_id"] in self.acked  # its echo
                    await self._hold(frame["message"], again_counts=not own)
                case "messages":
                    room = self.fetching.pop(frame.get("request_id"), None)
                    for message in frame["messages"]:
                        await self._hold(message, fetched=True, again_counts=False)
                    if room is not None and frame["has_more"]:
                        await self._fetch(room)
                case "heads":
                    for room, head in frame["rooms"].items():
                        if head > self.contiguous[int(room)]:
                            await self._fetch(int(room))
                case "error":
                    self.errors.append(frame)

    async def _hold(self, message: dict, *, fetched: bool = False, again_counts=True) -> None:
        room, seq, client_msg_id = message["room"], message["seq"], message["client_msg_id"]
        held = self.held[room]
        if seq in held:
            if held[seq] != client_msg_id:
                self.conflicts.append(f"room {room} seq {seq}: {held[seq]} and {client_msg_id}")
            self.heard_again += again_counts
            return
        held[seq] = client_msg_id
        while self.contiguous[room] + 1 in held:
            self.contiguous[room] += 1
        if seq > self.contiguous[room] + 1 and not fetched:
            await self._fetch(room)  # a gap

    async def _fetch(self, room: int) -> None:
        if room in self.fetching.values() or self.socket is None:
            return
        request_id = uuid.uuid4().hex
        self.fetching[request_id] = room
        frame = {"type": "fetch", "room": room, "after": self.contiguous[room]}
        await self.socket.send(
            json.dumps({**frame, "limit": FETCH_LIMIT, "request_id": request_id})
        )

    async def talk(self, until: asyncio.Event) -> None:
        """Send one message every SEND_EVERY seconds, to each room in turn, until `until`;
        none while WINDOW sends are unanswered."""
        n = 0
        while not until.is_set():
            if len(self.unacked) >= WINDOW:
                await asyncio.sleep(SEND_EVERY)
                continue
            room = self.rooms[n % len(self.rooms)]
            client_msg_id = str(uuid.uuid4())
            send = {
                "type": "send",
                "room": room,
                "body": f"{self.name} {n}",
                "client_msg_id": client_msg_id,
            }
            self.unacked[client_msg_id] = send
            socket = self.socket
            if socket is not None:
                with suppress(ConnectionClosed):  # resent after the next hello
                    await socket.send(json.dumps(send))
            n += 1
            await asyncio.sleep(SEND_EVERY)

    async def catch_up(self) -> None:
        for room in self.rooms:
            await self._fetch(room)


@database_sync_to_async
def stored_messages() -> dict[int, dict[int, str]]:
    rooms: dict[int, dict[int, str]] = {}
    for room, seq, client_msg_id in Message.objects.values_list("room", "seq", "client_msg_id"):
        rooms.setdefault(room, {})[seq] = str(client_msg_id)
    return rooms


@database_sync_to_async
def stored_ids() -> list[str]:
    return [str(cid) for cid in Message.objects.values_list("client_msg_id", flat=True)]


@database_sync_to_async
def people_in_rooms() -> dict:
    """CLIENTS users, ROOMS rooms of CLIENTS / ROOMS each, and one of the next room's
    people in each as well (so some are in two rooms): user → their room ids."""
    users = [UserFactory(username=f"member{n:02d}") for n in range(CLIENTS)]
    size = CLIENTS // ROOMS
    for index in range(ROOMS):
        members = users[index * size : (index + 1) * size]
        guest = users[((index + 1) * size) % CLIENTS]
        RoomFactory(name=f"room {index}", members=[*members, guest])
    return {u: sorted(u.memberships.values_list("room_id", flat=True)) for u in users}


def live_sockets(redis_url: str, prefix: str, user_ids: list[int]) -> dict[int, int]:
    """Each user's sockets checked in to presence now (chat/realtime/presence.py)."""
    client = redis.Redis.from_url(redis_url)
    try:
        now = time.time()
        return {
            user_id: client.zcount(f"{prefix}:presence:expiries:{user_id}", now, "+inf")
            for user_id in user_ids
        }
    finally:
        client.close()


async def settled(members: list[Member], what, timeout: float = SETTLE_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while not what():
        if time.monotonic() > deadline:
            return
        await asyncio.sleep(0.05)


async def test_a_rolling_restart_under_traffic_loses_and_doubles_nothing(
    cluster, redis_url, capsys
):
    """20 clients in 4 rooms send all along while each worker in turn gets SIGTERM and is
    started again. Every acked message is stored exactly once, every send is acked in the
    end, every client holds exactly what the database holds, and no worker logs a
    traceback or leaves a socket checked in to presence."""
    rooms_of = await people_in_rooms()
    users = list(rooms_of)
    members = [
        Member(
            user.username,
            f"{settings.SESSION_COOKIE_NAME}={await session_cookie(user)}",
            rooms_of[user],
            cluster.port,
        )
        for user in users
    ]
    done, quiet = asyncio.Event(), asyncio.Event()
    timings: list[str] = []
    running = [asyncio.create_task(member.run(done)) for member in members]
    failure = None
    try:
        await settled(members, lambda: all(m.socket is not None for m in members), 10)
        assert all(m.socket is not None for m in members), "not every client connected"
        talking = [asyncio.create_task(member.talk(quiet)) for member in members]
        await asyncio.sleep(1.0)  # traffic on both workers
        for index in range(len(cluster.workers)):
            timings.append(
                f"{cluster.workers[index].name} {await asyncio.to_thread(cluster.restart, index)}"
            )
            await asyncio.sleep(0.5)  # traffic on the restarted worker too
        quiet.set()
        await asyncio.gather(*talking)
        began = time.monotonic()

        def everything_acked() -> bool:
            return all(not m.unacked and m.socket is not None for m in members)

        await settled(members, everything_acked)
        for member in members:
            await member.catch_up()
        stored = await stored_messages()

        def everyone_holds_it() -> bool:
            return all(m.held[room] == stored.get(room, {}) for m in members for room in m.rooms)

        await settled(members, everyone_holds_it)
        timings.append(f"settled in {time.monotonic() - began:.1f} s")
        # Each client's one socket now, and none of those the stopped workers held.
        checked_in = await asyncio.to_thread(live_sockets, *redis_url, [u.pk for u in users])
    except Exception as exc:
        failure = f"{type(exc).__name__}: {exc}"
    finally:
        done.set()
        await asyncio.gather(*running, return_exceptions=True)
    if failure is not None:
        raise AssertionError(f"{failure}\n{cluster.tails()}")

    ids = await stored_ids()
    acked = set().union(*(m.acked for m in members))
    sent = sum(len(m.acked) + len(m.unacked) for m in members)
    doubled = sum(n - 1 for n in Counter(ids).values() if n > 1)
    lost = len(acked - set(ids))
    closes = sum((m.closes for m in members), Counter())
    with capsys.disabled():
        print(
            f"\nrolling restart of {len(cluster.workers)} workers under traffic: {CLIENTS} "
            f"clients in {ROOMS} rooms; {sent} sent, {len(acked)} acked, {len(ids)} stored, "
            f"{lost} lost, {doubled} doubled; {sum(m.resent for m in members)} resent after "
            f"a reconnect, {sum(m.heard_again for m in members)} delivered live twice; "
            f"closes: {dict(closes)}; {', '.join(timings)}"
        )
    assert (lost, doubled) == (0, 0)
    assert [m.name for m in members if m.unacked] == [], "sends never acked"
    assert len(acked) == sent == len(ids)
    assert [c for m in members for c in m.conflicts] == []
    assert [e for m in members for e in m.errors] == []
    for member in members:
        for room in member.rooms:
            assert member.held[room] == stored[room], f"{member.name} in room {room}"
    assert closes[1012] >= CLIENTS, "each client was on a worker that restarted"
    assert set(checked_in.values()) == {1}, checked_in  # the closed ones checked out
    cluster.no_tracebacks()


# `make cluster` itself.


def ports_in_a_row(count: int) -> int:
    """A port p with p … p+count-1 all free now (the cluster's proxy, then its workers)."""
    for _ in range(50):
        first = free_port()
        try:
            for port in range(first, first + count):
                with socket.socket() as probe:
                    probe.bind((HOST, port))
        except OSError:
            continue
        return first
    raise AssertionError(f"no {count} free ports in a row")


def family(pid: int) -> set[int]:
    """The process and every process under it, now."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        found.add(current := todo.pop())
        todo.extend(children.get(current, []))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_make_cluster_serves_on_one_port_and_ctrl_c_stops_every_process_it_started(
    transactional_db, redis_url, nginx, tmp_path
):
    port = ports_in_a_row(3)
    env = shared_env(port, redis_url)
    command = [sys.executable, "-m", "config.cluster", "--workers", "2", "--port", str(port)]
    script = start_server(command, name="make cluster", port=port, env=env, log=tmp_path / "out")
    try:
        script.wait_ready()  # nginx answers: the banner follows
        deadline = time.monotonic() + 10
        while "Ctrl-C stops them all" not in script.log.read_text():
            assert time.monotonic() < deadline, script.log_tail()
            time.sleep(0.05)
        started = family(script.pid) - {script.pid}
        names = {Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0] for pid in started}
        assert len(started) >= 4, names  # two workers, nginx and its worker processes
        status, _headers, _page = request(port, "GET", "/accounts/login/")
        assert status == 200
        script.process.send_signal(signal.SIGINT)
        assert script.process.wait(20) == 0, script.log_tail()
    finally:
        script.stop()
    assert [pid for pid in started if alive(pid)] == [], script.log_tail()
    output = script.log.read_text()
    run_dir = re.search(r"run directory (\S+)\.", output).group(1)
    assert not Path(run_dir).exists()
    assert "stopping the cluster" in output
    assert "Traceback" not in output, output[-4000:]


def test_make_cluster_over_https_redirects_plain_http_and_its_workers_run_with_debug_off(
    transactional_db, redis_url, nginx, tmp_path
):
    """`make cluster CERTIFICATE=… CERTIFICATE_KEY=… HTTP_PORT=…` (docs/deploy.md, "TLS")."""
    certificates = make_certificates(tmp_path)
    port, http_port = ports_in_a_row(3), free_port()
    env = shared_env(
        port,
        redis_url,
        CERTIFICATE=str(certificates.certificate),
        CERTIFICATE_KEY=str(certificates.key),
        HTTP_PORT=str(http_port),
        PUBLIC_URL="",  # none from this process: the cluster's own
        SECRET_KEY="",
        STATIC_ROOT="",
    )
    command = [sys.executable, "-m", "config.cluster", "--workers", "2", "--port", str(port)]
    script = start_server(
        command,
        name="make cluster",
        port=port,
        env=env,
        log=tmp_path / "out",
        tls=certificates.client_context(),
    )
    try:
        script.wait_ready(timeout=120)  # migrate and collectstatic first
        deadline = time.monotonic() + 10
        while "Ctrl-C stops them all" not in script.log.read_text():
            assert time.monotonic() < deadline, script.log_tail()
            time.sleep(0.05)
        secure = http.client.HTTPSConnection(
            HOST, port, timeout=10, context=certificates.client_context()
        )
        try:
            secure.request("GET", "/accounts/login/")
            answer = secure.getresponse()
            page = answer.read()
        finally:
            secure.close()
        assert answer.status == 200, page[:2000]
        assert (
            answer.getheader("Strict-Transport-Security") == "max-age=31536000; includeSubDomains"
        )
        assert "; Secure" in answer.getheader("Set-Cookie")
        assert re.search(rb'/static/[\w/]+\.[0-9a-f]{12}\.css"', page), "collected static files"
        status, headers, _body = request(http_port, "GET", "/some/path?x=1")
        assert (status, headers["location"]) == (301, f"https://{HOST}:{port}/some/path?x=1")
        script.process.send_signal(signal.SIGINT)
        assert script.process.wait(20) == 0, script.log_tail()
    finally:
        script.stop()
    output = script.log.read_text()
    assert f"Parley on https://{HOST}:{port}/ (http on port {http_port} redirects" in output
    assert not Path(re.search(r"run directory (\S+)\.", output).group(1)).exists()
    assert "Traceback" not in output, output[-4000:]
