"""Several workers behind nginx, and clients that follow docs/protocol.md's client duties:
what the cluster tests (test_cluster.py, test_cluster_faults.py) share.

`Cluster` is tests/cluster.py's (workers on their own loopback ports and nginx on one
more, each stopped, restarted or killed with -9 by its pid) set up for these tests.
`Member` is one client that keeps what it holds by seq, catches up on every hello, gap
and head, resends unacknowledged sends with their client_msg_id, and counts what it
saw. The fixtures (`nginx`, `cluster`) are in tests/faults/conftest.py.
"""

import asyncio
import http.client
import json
import random
import time
import uuid
from collections import Counter
from contextlib import suppress
from pathlib import Path

import psycopg
import redis
from channels.db import database_sync_to_async
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from chat.models import Message, Room
from chat.protocol.schema import check_frame
from config.cluster import BODY_SLACK, WORKER_ENV
from tests.cluster import OPEN_TIMEOUT
from tests.cluster import Cluster as BaseCluster
from tests.factories import RoomFactory, UserFactory
from tests.support import HOST, free_port, shared_env, until

UPLOAD_MAX = 1024 * 1024  # the workers' PARLEY_UPLOAD_MAX_BYTES: nginx then caps bodies at 2 MiB
CSRF_SECRET = "c" * 32  # any 32 letters: a CSRF cookie, and the header that must match it


class Cluster(BaseCluster):
    """tests/cluster.py's workers behind nginx as the fault tests run them: on the
    database and Redis of `redis_url` (by default the test database), uploads capped at
    UPLOAD_MAX, no send or history budget to run into; `env` adds to or overrides that."""

    def __init__(
        self, nginx: str, tmp_path: Path, redis_url: tuple[str, str], *, workers: int = 2, **env
    ):
        port = free_port()
        worker_env = shared_env(
            port,  # the proxy's address: the origins and host names the browser uses
            redis_url,
            PARLEY_UPLOAD_MAX_BYTES=str(UPLOAD_MAX),
            PARLEY_SEND_RATE="100000,10",
            PARLEY_LIMIT_HISTORY="0,1",
            **WORKER_ENV,
        )
        worker_env.update(env)
        super().__init__(
            nginx,
            tmp_path,
            port=port,
            workers=workers,
            env=worker_env,
            body_max=UPLOAD_MAX + BODY_SLACK,
        )


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


# A client following docs/protocol.md, "The client's duties".

SEND_EVERY = 0.2  # seconds between one client's sends
WINDOW = 8  # sends a client has unanswered at most, as a person typing would (the server
# closes a socket with 32 frames unanswered: MAX_PENDING_FRAMES)
FETCH_LIMIT = 200
RETRY_SECONDS = (0.5, 2.0)  # after `unavailable`: the first wait to send again, the longest
BACKOFF_SECONDS = (0.1, 2.0)  # reconnecting: the first wait, and the longest (before jitter)
# Holding every frame to its schema costs the client about a millisecond a frame: under
# traffic, each client checks the first few of each type and one in SAMPLE after.
CHECK_FIRST = 3
SAMPLE = 25


class Member:
    """One client following docs/protocol.md, "The client's duties", through the proxy:
    messages kept by seq per room; on every hello, catch up after the highest contiguous
    seq and resend every unacknowledged send with its client_msg_id; a gap or a head past
    what it holds is fetched; a send or fetch answered `unavailable` is made again a
    moment later (backing off while the answers stay so); a close reconnects, at once
    after 1012, else after a backoff that doubles with each connection that failed
    before its hello."""

    def __init__(self, name: str, cookie: str, rooms: list[int], port: int):
        self.name = name
        self.cookie = cookie
        self.port = port
        self.held: dict[int, dict[int, str]] = {room: {} for room in rooms}  # seq → client_msg_id
        self.contiguous = dict.fromkeys(rooms, 0)
        self.fetching: dict[str, int] = {}  # request_id → room
        self.unacked: dict[str, dict] = {}  # client_msg_id → its send frame
        self.asked_at: dict[str, float] = {}  # client_msg_id → when last sent on this socket
        self.slowest_answer = 0.0  # seconds from a send to its ack or error, at most
        self.connecting_since = 0.0
        self.slowest_hello = 0.0  # seconds from opening a connection to its hello, at most
        self.acked: set[str] = set()
        self.closes: Counter = Counter()  # close code (or "refused") → times
        self.hellos: list[float] = []  # when each hello came (time.monotonic())
        self.heard_again = 0  # another's message heard live twice, and ignored (duty 3)
        self.conflicts: list[str] = []  # one seq, two messages: must never happen
        self.refusals: Counter = Counter()  # error codes answered
        self.errors: list[dict] = []  # error frames other than `unavailable`
        self.resent = 0
        self.socket = None
        self.retrying: set[asyncio.Task] = set()
        self.failures = 0  # connections in a row that ended before their hello
        self.unavailable_in_a_row = 0  # `unavailable` answers since the last ack
        self.seen: Counter = Counter()  # frames by type

    @property
    def rooms(self) -> list[int]:
        return list(self.held)

    async def run(self, done: asyncio.Event) -> None:
        """Stay connected until `done`, reconnecting after every close."""
        while not done.is_set():
            hellos = len(self.hellos)
            code = await self._connection(done)
            self.closes[code] += 1
            self.failures = 0 if len(self.hellos) > hellos else self.failures + 1
            if code != 1012 and not done.is_set():
                first, longest = BACKOFF_SECONDS
                wait = min(longest, first * 2**self.failures)
                await asyncio.sleep(random.uniform(wait / 2, wait))  # noqa: S311 (jitter)
        for task in self.retrying:
            task.cancel()

    async def _connection(self, done: asyncio.Event):
        self.connecting_since = time.monotonic()
        try:
            async with connect(
                f"ws://{HOST}:{self.port}/ws/",
                origin=f"http://{HOST}:{self.port}",
                additional_headers={"Cookie": self.cookie},
                open_timeout=OPEN_TIMEOUT,
            ) as socket:
                self.socket = socket
                closing = asyncio.create_task(done.wait())
                reading = asyncio.create_task(self._read(socket))
                await asyncio.wait({closing, reading}, return_when=asyncio.FIRST_COMPLETED)
                closing.cancel()
                if not reading.done():
                    reading.cancel()
                    await asyncio.gather(reading, return_exceptions=True)
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
            self.asked_at.clear()  # what was asked of that socket is resent on the next
        return "closed"

    async def _read(self, socket) -> None:
        async for text in socket:
            frame = json.loads(text)
            seen = self.seen[frame["type"]] = self.seen[frame["type"]] + 1
            if seen <= CHECK_FIRST or seen % SAMPLE == 0:
                check_frame(frame)
            match frame["type"]:
                case "hello":
                    self.hellos.append(time.monotonic())
                    waited = self.hellos[-1] - self.connecting_since
                    self.slowest_hello = max(self.slowest_hello, waited)
                    self.fetching.clear()  # those answers went with the last socket
                    for room in self.rooms:
                        await self._fetch(room)
                    for send in list(self.unacked.values()):
                        self.resent += 1
                        await self._send(send)
                case "ack":
                    self.unavailable_in_a_row = 0
                    self._answered(frame["client_msg_id"])
                    self.unacked.pop(frame["client_msg_id"], None)
                    self.acked.add(frame["client_msg_id"])
                    await self._hold(frame["message"], again_counts=False)
                case "message":
                    own = frame["message"]["client_msg_id"] in self.acked  # held from its ack
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
                    self._refused(frame)

    def _refused(self, frame: dict) -> None:
        self.refusals[frame["code"]] += 1
        client_msg_id = frame.get("client_msg_id")
        if client_msg_id is not None:
            self._answered(client_msg_id)
        if frame["code"] != "unavailable":
            self.errors.append(frame)
            return
        self.unavailable_in_a_row += 1
        if client_msg_id in self.unacked:
            self._later(self._send, self.unacked[client_msg_id])
        room = self.fetching.pop(frame.get("request_id"), None)
        if room is not None:
            self._later(self._fetch, room)

    def _later(self, action, *args) -> None:
        """Do it again after a wait that doubles while answers are `unavailable`."""
        first, longest = RETRY_SECONDS
        wait = min(longest, first * 2 ** min(self.unavailable_in_a_row - 1, 8))

        async def retry():
            await asyncio.sleep(random.uniform(wait / 2, wait))  # noqa: S311 (jitter)
            with suppress(ConnectionClosed):
                await action(*args)

        task = asyncio.create_task(retry())
        self.retrying.add(task)
        task.add_done_callback(self.retrying.discard)

    def _answered(self, client_msg_id: str) -> None:
        asked = self.asked_at.pop(client_msg_id, None)
        if asked is not None:
            self.slowest_answer = max(self.slowest_answer, time.monotonic() - asked)

    async def _send(self, send: dict) -> None:
        socket = self.socket
        if socket is None:
            return  # resent after the next hello
        self.asked_at[send["client_msg_id"]] = time.monotonic()
        await socket.send(json.dumps(send))

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

    async def talk(
        self, until: asyncio.Event, *, count: int | None = None, every: float = SEND_EVERY
    ) -> None:
        """Send one message `every` so many seconds, to each room in turn, until `until`
        (or `count` sends); none while WINDOW sends are unanswered."""
        n = 0
        while not until.is_set() and (count is None or n < count):
            if len(self.unacked) >= WINDOW:
                await asyncio.sleep(every)
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
            with suppress(ConnectionClosed):  # resent after the next hello
                await self._send(send)
            n += 1
            await asyncio.sleep(every)

    async def catch_up(self) -> None:
        for room in self.rooms:
            await self._fetch(room)

    def holds_through(self, heads: dict[int, int]) -> bool:
        """Connected, and holding every message of its rooms up to these seqs."""
        return self.socket is not None and all(
            self.contiguous[room] >= heads.get(room, 0) for room in self.rooms
        )

    def doubled(self) -> int:
        """Messages this client holds at more than one seq (one send stored twice)."""
        counts = Counter(cid for room in self.held.values() for cid in room.values())
        return sum(n - 1 for n in counts.values() if n > 1)


async def traffic_flowed(members: list[Member], timeout: float = 30) -> None:
    """Wait until every member has had one more send acked since the call: traffic has
    gone through each one's connection (waited for, not a pause that hopes for it)."""
    before = [len(member.acked) for member in members]
    flowed = await settled(
        lambda: all(len(m.acked) > n for m, n in zip(members, before, strict=True)), timeout
    )
    assert flowed, f"not every client was acked again: {counts(members, {})['closes']}"


async def settled(what, timeout: float) -> bool:
    """tests.support.until, answering whether `what()` came to hold within `timeout`
    seconds instead of failing: the caller says what was missing, with its counts."""
    try:
        await until(what, timeout=timeout)
    except AssertionError:
        return False
    return True


# What the database holds, and who is where.


def people_in_rooms(clients: int, rooms: int) -> dict:
    """`clients` users, `rooms` rooms of clients / rooms each, and one of the next room's
    people in each as well (so some are in two rooms): user → their room ids."""
    users = [UserFactory(username=f"member{n:02d}") for n in range(clients)]
    size = clients // rooms
    for index in range(rooms):
        members = users[index * size : (index + 1) * size]
        guest = users[((index + 1) * size) % clients]
        RoomFactory(name=f"room {index}", members=[*members, guest])
    return {u: sorted(u.memberships.values_list("room_id", flat=True)) for u in users}


@database_sync_to_async
def stored_messages() -> dict[int, dict[int, str]]:
    """The test database's messages: room → seq → client_msg_id."""
    rooms: dict[int, dict[int, str]] = {}
    for room, seq, client_msg_id in Message.objects.values_list("room", "seq", "client_msg_id"):
        rooms.setdefault(room, {})[seq] = str(client_msg_id)
    return rooms


def stored_at(database_url: str) -> dict[int, dict[int, str]]:
    """The same, read from another database (one the test started)."""
    table = Message._meta.db_table
    rooms: dict[int, dict[int, str]] = {}
    with psycopg.connect(database_url) as connection:
        rows = connection.execute(f"SELECT room_id, seq, client_msg_id FROM {table}")  # noqa: S608
        for room, seq, client_msg_id in rows:
            rooms.setdefault(room, {})[seq] = str(client_msg_id)
    return rooms


def heads_at(database_url: str) -> dict[int, int]:
    """Each room's newest seq in another database: room → last_seq."""
    table = Room._meta.db_table
    with psycopg.connect(database_url) as connection:
        return dict(connection.execute(f"SELECT id, last_seq FROM {table}").fetchall())  # noqa: S608


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


def counts(members: list[Member], stored: dict[int, dict[int, str]]) -> dict:
    """What the clients and the database say, added up: the figures each test prints."""
    ids = [cid for room in stored.values() for cid in room.values()]
    acked = set().union(*(m.acked for m in members))
    return {
        "sent": sum(len(m.acked) + len(m.unacked) for m in members),
        "acked": len(acked),
        "stored": len(ids),
        "lost": len(acked - set(ids)),
        "doubled": sum(n - 1 for n in Counter(ids).values() if n > 1),
        "doubled in a view": sum(m.doubled() for m in members),
        "unacked": sum(len(m.unacked) for m in members),
        "resent": sum(m.resent for m in members),
        "slowest hello": round(max((m.slowest_hello for m in members), default=0.0), 2),
        "refused": dict(sum((m.refusals for m in members), Counter())),
        "closes": dict(sum((m.closes for m in members), Counter())),
    }
