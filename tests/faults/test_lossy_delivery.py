"""A loss test: the bus loses events, and clients still see every message.

docs/protocol.md promises that a client following "The client's duties" never
loses or doubles a message: live frames are a convenience, and `hello`, gap
fetches and `heads` catch up from the database by `seq`. Here the real ASGI
application's hub runs on a process-local bus that drops deliveries, several tabs
send at once, and each tab runs a small model of those duties.

What is dropped, and why:

- `chat.frame` events (live messages) are dropped at random, ~30 % of bus
  deliveries, as a flaky Redis or a pub/sub connection being re-established
  would. This is the loss the client's duties are built for, so the main test
  demands a perfect result. Its rooms exist before the tabs connect, so no grant
  flows in it.
- `chat.grant` and `chat.revoke` are just as realistic to lose (fanout swallows
  a failed publish). But a tab that lost a grant does not know the room exists,
  so no `seq` catch-up can find it, and a tab that lost a revoke goes on
  hearing the room: only the server can repair those, from the memberships in
  the database. They get their own tests, each losing every such event, so a
  failure says exactly which repair is missing instead of making the
  message-loss test flaky.
"""

import asyncio
import contextlib
import json
import random
import uuid
from collections import Counter

import pytest
from channels.db import database_sync_to_async

from chat import queries, services
from chat.models import Room
from chat.protocol.frames import message_dict
from chat.protocol.schema import check_frame
from chat.queries import messages_with_authors, with_extras
from chat.realtime import hub as hub_module
from chat.realtime.bus.local import LocalBus
from tests.factories import RoomFactory, UserFactory, direct_room
from tests.support import until
from tests.wsclient import open_tab

pytestmark = [pytest.mark.django_db(transaction=True)]

# Database work from async code goes through database_sync_to_async, which
# closes the thread's connection afterwards: no PostgreSQL session may outlive
# a test, or the test database cannot be dropped.

HEADS_INTERVAL = 0.2
SEED = 20261122


def seeded(seed) -> random.Random:
    """Reproducible randomness for faults and traffic (not for secrets)."""
    return random.Random(seed)  # noqa: S311


class LossyLocalBus(LocalBus):
    """The process-local bus, losing a share of deliveries of some event types.

    A loss happens as the hub takes a message (`receive`, `receive_ready`): one
    delivery to one process's hub, whose sockets all miss that event, as when a
    process's pub/sub connection drops it. The random source is seeded; which
    delivery is lost still depends on task scheduling.
    """

    def __init__(self, drop_rate=0.3, drop_types=("chat.frame",), seed=SEED):
        super().__init__()
        self.drop_rate = drop_rate
        self.drop_types = frozenset(drop_types)
        self.random = seeded(seed)
        self.dropped: Counter[str] = Counter()
        self.delivered: Counter[str] = Counter()

    def _kept(self, message: dict) -> bool:
        kind = message.get("type")
        if kind in self.drop_types and self.random.random() < self.drop_rate:
            self.dropped[kind] += 1
            return False
        self.delivered[kind] += 1
        return True

    async def receive(self) -> dict:
        while not self._kept(message := await super().receive()):
            pass
        return message

    async def receive_ready(self) -> dict | None:
        while (message := await super().receive_ready()) is not None:
            if self._kept(message):
                return message
        return None


@pytest.fixture
def lossy_bus(settings, monkeypatch):
    """Run this test's hub on a LossyLocalBus (with the given losses)."""

    def install(**losses) -> LossyLocalBus:
        bus = LossyLocalBus(**losses)
        monkeypatch.setattr(hub_module, "make_bus", lambda: bus)
        return bus

    settings.PARLEY_HEADS_INTERVAL = HEADS_INTERVAL
    settings.REDIS_URL = ""  # all in this process: the hub's bus is the lossy one
    return install


class ClientModel:
    """One tab following the client's duties from docs/protocol.md.

    Per room it keeps the messages by seq and the highest contiguous seq; a live
    message past a gap, a `heads` past what it holds, or a `room` frame makes it
    fetch `after` the contiguous seq, paging while `has_more`. One fetch per room
    is in flight at a time. Anything surprising is recorded in `problems`.
    """

    FETCH_LIMIT = 7  # small, so catch-up pages

    def __init__(self, name: str, tab):
        self.name = name
        self.tab = tab
        self.held: dict[int, dict[int, dict]] = {}
        self.contiguous: dict[int, int] = {}
        self.known_head: dict[int, int] = {}
        self.in_flight: dict[int, bool] = {}
        self.has_more: dict[int, bool] = {}
        self.heads: dict[int, int] = {}
        self.acks: dict[str, asyncio.Future] = {}
        self.sources: Counter[str] = Counter()
        self.frames: Counter[str] = Counter()
        self.problems: list[str] = []
        self.removed: set[int] = set()
        self.last_heads: dict[str, int] | None = None
        self.phase = "live"
        for room in tab.hello["rooms"]:
            self._learn_room(room["id"], room["last_seq"])
        self.reader = asyncio.create_task(self._read_forever(), name=f"reader {name}")

    # Bookkeeping

    def _learn_room(self, room: int, head: int = 0) -> None:
        if room not in self.held:
            self.held[room] = {}
            self.contiguous[room] = 0
            self.known_head[room] = 0
            self.in_flight[room] = False
            self.has_more[room] = False
        self.known_head[room] = max(self.known_head[room], head)

    def _forget_room(self, room: int) -> None:
        self.removed.add(room)
        for table in (self.held, self.contiguous, self.known_head, self.in_flight):
            table.pop(room, None)
        self.has_more.pop(room, None)
        self.heads.pop(room, None)

    def _hold(self, message: dict, source: str) -> None:
        room, seq = message["room"], message["seq"]
        if room not in self.held:
            self.problems.append(f"{self.name} heard room {room} it is not in: {message}")
            return
        held = self.held[room]
        if seq in held:
            if held[seq] != message:
                self.problems.append(f"{self.name}: two versions of {room}#{seq}")
            self.sources["ignored again"] += 1
            return
        held[seq] = message
        self.sources[source] += 1
        self.known_head[room] = max(self.known_head[room], seq)
        while self.contiguous[room] + 1 in held:
            self.contiguous[room] += 1

    async def _catch_up(self, room: int) -> None:
        if self.in_flight[room]:
            return  # the answer will show what is still missing
        self.in_flight[room] = True
        await self.tab.send(
            {
                "type": "fetch",
                "room": room,
                "after": self.contiguous[room],
                "limit": self.FETCH_LIMIT,
            }
        )

    # Frames

    async def _read_forever(self) -> None:
        while True:
            await self._on_frame(await self._next_frame())

    async def _next_frame(self) -> dict:
        """The next frame, read straight off the communicator's output queue and held
        to its schema.

        Not receive_from: it patches channels.db.close_old_connections to a no-op
        while it waits, and four readers waiting at once would unpatch in the
        wrong order and leave it a no-op (and database connections open) for the
        rest of the session.
        """
        communicator = self.tab.communicator
        getter = asyncio.ensure_future(communicator.output_queue.get())
        done, _ = await asyncio.wait(
            {getter, communicator.future}, return_when=asyncio.FIRST_COMPLETED
        )
        if getter not in done:
            getter.cancel()
            communicator.future.result()  # raises the application's error, if any
            raise AssertionError(f"{self.name}'s application ended")
        message = getter.result()
        assert message["type"] == "websocket.send", f"{self.name} got {message}"
        return check_frame(json.loads(message["text"]))

    async def _on_frame(self, frame: dict) -> None:
        kind = frame["type"]
        self.frames[kind] += 1
        match kind:
            case "message":
                message = frame["message"]
                self._hold(message, "live")
                room = message["room"]
                if room in self.held and self.known_head[room] > self.contiguous[room]:
                    await self._catch_up(room)  # duty 3: a gap
            case "heads":
                self.last_heads = frame["rooms"]
                for key, head in frame["rooms"].items():
                    room = int(key)
                    self._learn_room(room, head)
                    self.heads[room] = head
                    if head > self.contiguous[room]:
                        await self._catch_up(room)  # duty 4
            case "messages":
                room = frame["room"]
                if room in self.removed and room not in self.held:
                    return  # an answer to a fetch sent before the room was removed
                for message in frame["messages"]:
                    self._hold(message, "final fetch" if self.phase == "final" else "fetch")
                self.in_flight[room] = False
                self.has_more[room] = frame["has_more"]
                if frame["has_more"] or self.known_head[room] > self.contiguous[room]:
                    await self._catch_up(room)
            case "room.removed":
                self._forget_room(frame["room"])
            case "room":
                room = frame["room"]
                self._learn_room(room["id"], room["last_seq"])
                if self.known_head[room["id"]] > self.contiguous[room["id"]]:
                    await self._catch_up(room["id"])
            case "ack":
                self._hold(frame["message"], "ack")
                future = self.acks.pop(frame["client_msg_id"], None)
                if future is not None:
                    future.set_result(frame["message"])
            case "error":
                self.problems.append(f"{self.name} got {frame}")
                future = self.acks.pop(frame.get("client_msg_id"), None)
                if future is not None:
                    future.set_exception(AssertionError(f"send refused: {frame}"))
            case "presence" | "typing" | "read" | "member":
                pass  # not messages: what this test checks is the message log
            case _:
                self.problems.append(f"{self.name} got an unexpected frame {frame}")

    # Actions

    def check_alive(self) -> None:
        if self.reader.done():
            self.reader.result()  # raises what killed it
            raise AssertionError(f"{self.name}'s reader stopped")

    async def send(self, room: int, body: str) -> dict:
        client_msg_id = str(uuid.uuid4())
        self.acks[client_msg_id] = asyncio.get_running_loop().create_future()
        await self.tab.send(
            {"type": "send", "room": room, "body": body, "client_msg_id": client_msg_id}
        )
        return await asyncio.wait_for(self.acks[client_msg_id], timeout=10)

    def caught_up_with(self, truth: dict[int, int]) -> bool:
        """A heads frame showed the final heads, and nothing is missing or in flight."""
        return all(
            self.heads.get(room) == truth[room]
            and self.contiguous[room] == truth[room]
            and not self.in_flight[room]
            for room in self.held
        )

    async def fetch_to_the_end(self, room: int, timeout: float = 5) -> None:
        """The last duty: fetch after what is held until `has_more` is false."""
        self.phase = "final"
        await until_alive(
            lambda: not self.in_flight[room],
            [self],
            timeout,
            f"{self.name}: fetch of room {room} in flight",
        )
        await self._catch_up(room)
        await until_alive(
            lambda: not (self.in_flight[room] or self.has_more[room]),
            [self],
            timeout,
            f"{self.name}: final fetch of room {room}",
        )

    def view(self, room: int) -> list[dict]:
        return [self.held[room][seq] for seq in sorted(self.held[room])]

    async def stop(self) -> None:
        self.reader.cancel()
        await asyncio.gather(self.reader, return_exceptions=True)


@database_sync_to_async
def database_truth(room_ids) -> dict[int, list[dict]]:
    """Every room's messages as the protocol shapes them, by seq."""
    return {
        room: [
            message_dict(m)
            for m in with_extras(list(messages_with_authors().filter(room_id=room).order_by("seq")))
        ]
        for room in room_ids
    }


@database_sync_to_async
def last_seqs(room_ids) -> dict[int, int]:
    return dict(Room.objects.filter(pk__in=room_ids).values_list("pk", "last_seq"))


async def until_alive(predicate, clients, timeout: float, what) -> None:
    """`until` the predicate holds, failing at once if a client's reader died."""

    def alive_and_true() -> bool:
        for client in clients:
            client.check_alive()
        return predicate()

    await until(alive_and_true, what, timeout)


@pytest.fixture
async def people():
    make = database_sync_to_async(UserFactory)
    return {name: await make(username=name) for name in ("alice", "bob", "carol")}


@pytest.fixture
async def rooms(people):
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    general = await database_sync_to_async(RoomFactory)(name="general", members=[alice, bob, carol])
    plans = await database_sync_to_async(RoomFactory)(
        kind=Room.Kind.PRIVATE, name="plans", members=[bob, alice]
    )
    dm = await database_sync_to_async(direct_room)(bob, carol)
    return {"general": general.pk, "plans": plans.pk, "dm": dm.pk}


async def test_every_tab_sees_every_message_exactly_once_when_the_bus_drops_30_percent(
    lossy_bus, people, rooms
):
    """Four tabs (alice twice, bob, carol) in a public room, a private room and a DM
    send 48 messages at once while ~30 % of live deliveries are lost; every tab
    ends with exactly the database's messages, recovered by gap fetches and
    heads alone (the final fetch-to-the-end finds nothing new)."""
    bus = lossy_bus(drop_rate=0.3, drop_types=["chat.frame"])
    membership = {
        "alice-1": {rooms["general"], rooms["plans"]},
        "alice-2": {rooms["general"], rooms["plans"]},
        "bob": set(rooms.values()),
        "carol": {rooms["general"], rooms["dm"]},
    }
    sends_per_tab = 12
    rng = seeded(SEED)
    async with (
        open_tab(people["alice"]) as a1,
        open_tab(people["alice"]) as a2,
        open_tab(people["bob"]) as b1,
        open_tab(people["carol"]) as c1,
    ):
        clients = []
        try:
            for name, tab in zip(membership, (a1, a2, b1, c1), strict=True):
                clients.append(ClientModel(name, tab))
            for client in clients:
                assert set(client.held) == membership[client.name], client.name

            async def chatter(client: ClientModel, rng: random.Random) -> None:
                for i in range(sends_per_tab):
                    room = rng.choice(sorted(membership[client.name]))
                    await client.send(room, f"{client.name} says {i} ({rng.random():.6f})")
                    await asyncio.sleep(rng.uniform(0, 0.02))

            await asyncio.gather(*(chatter(c, seeded(rng.random())) for c in clients))

            truth_heads = await last_seqs(rooms.values())
            assert sum(truth_heads.values()) == sends_per_tab * len(clients)
            await until_alive(
                lambda: all(c.caught_up_with(truth_heads) for c in clients),
                clients,
                timeout=10,
                what=lambda: (
                    {
                        c.name: {
                            "held up to": c.contiguous,
                            "heads seen": c.heads,
                            "in flight": [r for r, f in c.in_flight.items() if f],
                        }
                        for c in clients
                        if not c.caught_up_with(truth_heads)
                    }
                    | {"truth": truth_heads}
                ),
            )
            for client in clients:
                for room in client.held:
                    await client.fetch_to_the_end(room)
        finally:
            for client in clients:
                await client.stop()

    truth = await database_truth(rooms.values())
    assert bus.dropped["chat.frame"] > 0, "the bus dropped nothing: the test proves nothing"
    for client in clients:
        assert client.problems == [], client.problems
        assert set(client.held) == membership[client.name]
        for room in client.held:
            view = client.view(room)
            assert [m["seq"] for m in view] == list(range(1, len(truth[room]) + 1)), (
                f"{client.name}, room {room}"
            )
            assert view == truth[room], f"{client.name}, room {room}"
        assert client.sources["final fetch"] == 0, (
            f"{client.name} only caught up in the final fetch: heads and gap fetches fell short"
        )
    recovered = sum(c.sources["fetch"] for c in clients)
    assert recovered > 0, "no message was recovered by a fetch: the loss was not exercised"


async def test_a_lost_room_grant_is_recovered_without_reconnecting(lossy_bus, people):
    """A tab that lost the grant of a new DM learns of it within a few heads
    intervals while it stays connected, and gets its messages.

    No `seq` catch-up can find a room the tab does not know, so the server must
    repair the subscription (for instance from the memberships when it sends
    `heads`) instead of leaving the tab deaf to the room until it reconnects.
    """
    bus = lossy_bus(drop_rate=1.0, drop_types=["chat.grant"])
    alice, bob = people["alice"], people["bob"]
    async with open_tab(alice) as tab:
        client = ClientModel("alice", tab)
        try:
            room, _ = await database_sync_to_async(services.open_direct)(bob, "alice")
            await database_sync_to_async(services.send_message)(
                bob, room.pk, "psst", str(uuid.uuid4())
            )
            await until_alive(
                lambda: bus.dropped["chat.grant"] >= 1,
                [client],
                timeout=5,
                what=lambda: "no grant was lost: the test proves nothing",
            )
            await until_alive(
                lambda: client.contiguous.get(room.pk, 0) >= 1,
                [client],
                timeout=10 * HEADS_INTERVAL,
                what=lambda: (
                    f"in 10 heads intervals alice's open tab has not heard of the DM {room.pk} "
                    f"whose grant was lost; heads listed only {client.heads}"
                ),
            )
        finally:
            await client.stop()
    assert [m["body"] for m in client.view(room.pk)] == ["psst"]


async def test_a_tab_that_lost_a_room_grant_gets_the_room_on_reconnect(lossy_bus, people):
    """The database holds the membership, so `hello` on the next connect carries it."""
    lossy_bus(drop_rate=1.0, drop_types=["chat.grant"])
    alice, bob = people["alice"], people["bob"]
    room, _ = await database_sync_to_async(services.open_direct)(bob, "alice")
    await database_sync_to_async(services.send_message)(bob, room.pk, "psst", str(uuid.uuid4()))
    async with open_tab(alice) as tab:
        client = ClientModel("alice", tab)
        try:
            await until_alive(
                lambda: client.contiguous.get(room.pk) == 1 and not client.in_flight[room.pk],
                [client],
                timeout=5,
                what=lambda: client.contiguous,
            )
        finally:
            await client.stop()
    assert [m["body"] for m in client.view(room.pk)] == ["psst"]


async def test_a_lost_revoke_is_repaired_and_the_removed_member_stops_hearing_the_room(
    lossy_bus, people
):
    """A member removed while the revoke event is lost is told so within a few heads
    intervals, and from then on hears nothing of the room, not even in heads.

    (Until that repair, a message sent right after the removal can still reach
    the removed member's open tab; this test does not measure that window.)
    """
    bus = lossy_bus(drop_rate=1.0, drop_types=["chat.revoke"])
    alice, bob = people["alice"], people["bob"]
    room = await database_sync_to_async(RoomFactory)(
        kind=Room.Kind.PRIVATE, name="secret", members=[bob, alice]
    )
    lobby = await database_sync_to_async(RoomFactory)(name="lobby", members=[bob, alice])
    send = database_sync_to_async(services.send_message)
    async with open_tab(alice) as tab:
        client = ClientModel("alice", tab)
        try:
            await database_sync_to_async(services.remove_member)(bob, room.pk, "alice")
            await until_alive(
                lambda: bus.dropped["chat.revoke"] >= 1,
                [client],
                timeout=5,
                what=lambda: "no revoke was lost: the test proves nothing",
            )
            await until_alive(
                lambda: room.pk in client.removed,
                [client],
                timeout=10 * HEADS_INTERVAL,
                what=lambda: (
                    f"in 10 heads intervals alice's open tab was never told she left private "
                    f"room {room.pk}; heads still list {client.heads}"
                ),
            )
            heads_before = client.frames["heads"]
            await send(bob, room.pk, "now that alice is gone", str(uuid.uuid4()))
            # Published after it, so heard after it, had the first come through at all.
            await send(bob, lobby.pk, "in a room alice is still in", str(uuid.uuid4()))
            await until_alive(
                lambda: client.contiguous[lobby.pk] == 1 and client.frames["heads"] > heads_before,
                [client],
                timeout=10 * HEADS_INTERVAL,
                what=lambda: f"the lobby's message and a heads frame: {client.frames}",
            )
        finally:
            await client.stop()
    # A message of a room the tab does not hold is recorded as a problem.
    assert client.problems == [], (
        f"alice's tab still receives messages of private room {room.pk} she was removed "
        f"from: {client.problems}"
    )
    assert str(room.pk) not in client.last_heads, (
        f"heads still list room {room.pk}: {client.last_heads}"
    )


async def test_a_message_committed_while_a_tab_connects_reaches_it_at_once(
    lossy_bus, settings, people, rooms, monkeypatch
):
    """A message committed just after the hello rooms are read still reaches the tab
    at once: either `hello`'s last_seq includes it or it arrives live.

    If the socket joined its room groups only after reading the rooms, such a
    message would be in neither, and would wait for the next `heads` (25 s by
    default). The message is committed from inside the hello query.
    """
    lossy_bus(drop_rate=0.0)  # in-process, losing nothing
    settings.PARLEY_HEADS_INTERVAL = 25  # the default: no heads inside this test
    bob, carol = people["bob"], people["carol"]
    general = rooms["general"]
    read_rooms = queries.rooms_for_user

    def rooms_then_a_message(user, **kwargs):
        answer = read_rooms(user, **kwargs)
        if user.pk == carol.pk:
            services.send_message(bob, general, "in between", str(uuid.uuid4()))
        return answer

    monkeypatch.setattr(queries, "rooms_for_user", rooms_then_a_message)
    async with open_tab(carol) as tab:
        [hello_general] = [r for r in tab.hello["rooms"] if r["id"] == general]
        live = None
        if hello_general["last_seq"] != 1:  # not in hello: then it comes live, at once
            with contextlib.suppress(TimeoutError):
                live = (await tab.receive_type("message", timeout=1))["message"]["body"]
    assert hello_general["last_seq"] == 1 or live == "in between", (
        f"hello said last_seq={hello_general['last_seq']} and no live message came: the "
        "message committed while the tab connected is invisible until the next heads"
    )
