"""The buses: Redis pub/sub fan-out (one subscription per room per process, one PUBLISH
per event, resumed after a lost connection) and the payload both ends agree on.

The tests marked `redis` need a Redis (REDIS_URL, else the local default one): without
it they skip on a developer machine and fail under CI=true (tests/conftest.py
require_service). The others talk to a stand-in on a private port.
"""

import asyncio
import contextlib
import logging
import uuid

import pytest
import redis.asyncio as aioredis
from asgiref.sync import sync_to_async
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from chat.realtime import fanout
from chat.realtime.bus import redis as redis_bus
from chat.realtime.bus.codec import pack, unpack
from chat.realtime.bus.redis import RedisBus
from chat.realtime.fanout import room_group, user_group
from chat.realtime.hub import Hub
from tests.factories import RoomFactory, UserFactory
from tests.support import TEST_REDIS_URL as REDIS_URL
from tests.support import FakeSocket, connect, require_service, until


def test_a_payload_carries_the_event_text_unchanged_and_its_routing():
    text = '{"type":"message","body":"ünïcode\\nand a second line"}'
    for message in (
        {"type": "chat.frame", "text": text},
        {"type": "chat.frame", "text": text, "except_user": 12},
        {"type": "chat.frame", "text": text, "except_socket": "4f1c0de9" * 4},
        {"type": "chat.frame", "text": text, "except_user": 12, "except_socket": "ab" * 16},
        {"type": "chat.grant", "room": 9, "text": text},
        {"type": "chat.revoke", "room": 9, "text": text},
    ):
        assert unpack("room.9", pack(message)) == {**message, "group": "room.9"}


@pytest.fixture
async def redis_bus_hub(settings):
    """A hub on a RedisBus under a private prefix, and a plain client to watch Redis."""
    watcher = aioredis.from_url(REDIS_URL)
    try:
        await watcher.ping()
    except aioredis.RedisError as exc:
        require_service("Redis", f"{REDIS_URL} does not answer PING ({exc})")
    settings.REDIS_PREFIX = f"test-{uuid.uuid4().hex[:12]}"
    settings.PARLEY_HEADS_INTERVAL = 25  # no heads round inside a test unless it asks
    hub = Hub(RedisBus(REDIS_URL, settings.REDIS_PREFIX))
    yield hub, watcher
    await hub.stop()
    await watcher.aclose()


async def subscribers(watcher, hub, group: str) -> int:
    [(_channel, count)] = await watcher.pubsub_numsub(hub.bus.channel(group))
    return count


pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.redis
async def test_one_publish_per_event_reaches_every_local_socket_of_the_room(redis_bus_hub):
    hub, watcher = redis_bus_hub
    users = [await sync_to_async(UserFactory)() for _ in range(3)]
    sockets = [FakeSocket(users[i % 3], {7}) for i in range(30)]
    for socket in sockets:
        await connect(hub, socket)
    observer = watcher.pubsub()
    await observer.subscribe(hub.bus.channel(room_group(7)))
    assert await subscribers(watcher, hub, room_group(7)) == 2  # this process, and observer
    fanout.publish_to_room(7, {"type": "message", "n": 1})
    fanout.publish_to_room(7, {"type": "message", "n": 2}, except_user=users[0].pk)
    await until(lambda: _all_heard(sockets, users[0]))
    published = await everything_published(observer)
    assert len(published) == 2  # one PUBLISH per event, whatever the local socket count
    for socket in sockets:
        expected = ['{"type":"message","n":1}']
        if socket.user_id != users[0].pk:
            expected.append('{"type":"message","n":2}')
        assert socket.frames == expected


async def everything_published(observer, quiet: float = 0.3) -> list[bytes]:
    """Every message the observer heard, once nothing more comes for `quiet` s."""
    published = []
    while (reply := await observer.get_message(timeout=quiet)) is not None:
        if reply["type"] == "message":
            published.append(reply["data"])
    await observer.aclose()
    return published


async def _all_heard(sockets, skipped) -> bool:
    return all(len(s.frames) == (1 if s.user_id == skipped.pk else 2) for s in sockets)


@pytest.mark.redis
async def test_the_subscription_follows_the_local_sockets_of_a_room(redis_bus_hub):
    hub, watcher = redis_bus_hub
    alice = await sync_to_async(UserFactory)()
    first, second = FakeSocket(alice, {7}), FakeSocket(alice, {7})
    assert await subscribers(watcher, hub, room_group(7)) == 0
    await connect(hub, first)
    assert await subscribers(watcher, hub, room_group(7)) == 1  # confirmed on return
    assert await subscribers(watcher, hub, user_group(alice.pk)) == 1
    await connect(hub, second)
    assert await subscribers(watcher, hub, room_group(7)) == 1
    await hub.detach(first)
    assert await subscribers(watcher, hub, room_group(7)) == 1
    await hub.detach(second)
    await until(lambda: _gone(watcher, hub, [room_group(7), user_group(alice.pk)]))
    assert hub.bus.joined == set()


async def _gone(watcher, hub, groups) -> bool:
    return all([await subscribers(watcher, hub, group) == 0 for group in groups])


@pytest.mark.redis
async def test_a_grant_subscribes_the_room_and_a_revoke_stops_it_at_once(redis_bus_hub):
    hub, watcher = redis_bus_hub
    alice = await sync_to_async(UserFactory)()
    socket = FakeSocket(alice)
    await connect(hub, socket)
    fanout.grant_room(alice.pk, 9, {"type": "room", "room": {"id": 9}})
    await until(lambda: _heard(socket, 1))
    # What was published before the subscription took is the client's to fetch: the
    # room frame tells it to. From then on the room arrives live.
    assert await subscribers(watcher, hub, room_group(9)) == 1
    fanout.publish_to_room(9, {"type": "message", "n": 1})
    await until(lambda: _heard(socket, 2))
    fanout.revoke_room(alice.pk, 9, {"type": "room.removed", "room": 9})
    fanout.publish_to_room(9, {"type": "message", "n": 2})
    # Published after it, so heard after it, had the message come through at all.
    fanout.publish_to_user(alice.pk, {"type": "marker"})
    await until(lambda: _heard(socket, 4))
    assert socket.frames == [
        '{"type":"room","room":{"id":9}}',
        '{"type":"message","n":1}',
        '{"type":"room.removed","room":9}',
        '{"type":"marker"}',
    ]
    await until(lambda: _gone(watcher, hub, [room_group(9)]))


async def _heard(socket, count: int) -> bool:
    return len(socket.frames) >= count


@pytest.mark.redis
async def test_a_lost_subscription_is_restored_logged_and_followed_by_heads(redis_bus_hub, caplog):
    hub, watcher = redis_bus_hub
    alice = await sync_to_async(UserFactory)()
    room = await sync_to_async(RoomFactory)(members=[alice])
    socket = FakeSocket(alice, {room.pk})
    await connect(hub, socket)
    [hub_client] = [
        c
        for c in await watcher.client_list()
        if c["name"] == hub.bus.client_name and int(c.get("sub", 0)) > 0
    ]
    with caplog.at_level(logging.WARNING, logger="chat.realtime.bus.redis"):
        assert await watcher.client_kill_filter(_id=hub_client["id"]) == 1
        await until(lambda: _resubscribed(watcher, hub, room.pk, alice.pk), timeout=10)
        await until(lambda: _heard(socket, 1))
    assert "re-established" in caplog.text
    assert "hub receive failed" not in caplog.text  # the bus opened it again at once
    assert socket.frames == [f'{{"type":"heads","rooms":{{"{room.pk}":0}}}}']
    fanout.publish_to_room(room.pk, {"type": "message", "n": 1})
    await until(lambda: _heard(socket, 2))
    assert socket.frames[-1] == '{"type":"message","n":1}'


async def _resubscribed(watcher, hub, room_id: int, user_id: int) -> bool:
    return all(
        [
            await subscribers(watcher, hub, room_group(room_id)) == 1,
            await subscribers(watcher, hub, user_group(user_id)) == 1,
        ]
    )


class FakeRedis:
    """A Redis stand-in on a private port that records each command (a list of bytes)
    and answers with `reply(command)`: a RESP line, or None for no answer."""

    def __init__(self, reply):
        self.reply = reply
        self.commands: list[list[bytes]] = []
        self.connections = 0

    async def __aenter__(self) -> "FakeRedis":
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc) -> None:
        self.server.close()

    async def _serve(self, reader, writer) -> None:
        self.connections += 1
        try:
            while line := await reader.readline():
                parts = []
                for _ in range(int(line[1:])):
                    size = int((await reader.readline())[1:])
                    parts.append((await reader.readexactly(size + 2))[:-2])
                self.commands.append(parts)
                answer = self.reply(parts)
                if answer is not None:
                    writer.write(answer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    def published(self) -> list[bytes]:
        return [c[2] for c in self.commands if c[0] == b"PUBLISH"]


async def test_a_batch_redis_leaves_unanswered_fails_and_the_next_opens_a_connection(monkeypatch):
    """The outbox waits for each batch: a Redis that stops answering must not stall it."""

    def never_answer_the_first(command):
        if command[0] == b"PUBLISH":
            return None if command[2].endswith(b"one") else b":1\r\n"
        return b"+OK\r\n"

    monkeypatch.setattr(redis_bus, "PUBLISH_TIMEOUT", 0.2)
    async with FakeRedis(never_answer_the_first) as fake:
        bus = RedisBus(f"redis://127.0.0.1:{fake.port}", "parley")
        with pytest.raises(RedisTimeoutError):
            await bus.publish([("room.7", {"type": "chat.frame", "text": "one"})])
        await bus.publish([("room.7", {"type": "chat.frame", "text": "two"})])
        await bus.stop()
    assert [unpack("room.7", p)["text"] for p in fake.published()] == ["one", "two"]
    assert fake.connections == 2


@pytest.mark.redis
async def test_published_events_reach_a_subscriber_in_order_over_real_redis(redis_bus_hub):
    hub, watcher = redis_bus_hub
    observer = watcher.pubsub(ignore_subscribe_messages=True)
    await observer.subscribe(hub.bus.channel("room.7"))
    for start in range(0, 100, 10):
        await hub.bus.publish(
            [("room.7", {"type": "chat.frame", "text": str(n)}) for n in range(start, start + 10)]
        )
    received = []
    async with asyncio.timeout(5):
        while len(received) < 100:
            reply = await observer.get_message(timeout=1)
            if reply is not None:
                received.append(int(unpack("room.7", reply["data"])["text"]))
    await observer.aclose()
    assert received == list(range(100))


@pytest.mark.redis
async def test_a_killed_publishing_connection_is_replaced_by_the_next_publish(redis_bus_hub):
    hub, watcher = redis_bus_hub
    observer = watcher.pubsub(ignore_subscribe_messages=True)
    await observer.subscribe(hub.bus.channel("room.7"))
    name = f"{hub.bus.client_name}-pub"
    await hub.bus.publish([("room.7", {"type": "chat.frame", "text": "first"})])
    [client] = [c for c in await watcher.client_list() if c["name"] == name]
    assert await watcher.client_kill_filter(_id=client["id"]) == 1
    for attempt in ("lost with the connection", "second"):
        with contextlib.suppress(RedisConnectionError):
            await hub.bus.publish([("room.7", {"type": "chat.frame", "text": attempt})])
    received = []
    async with asyncio.timeout(5):
        while not received or received[-1] != "second":
            reply = await observer.get_message(timeout=1)
            if reply is not None:
                received.append(unpack("room.7", reply["data"])["text"])
    [again] = [c for c in await watcher.client_list() if c["name"] == name]
    await observer.aclose()
    assert received[0] == "first" and received[-1] == "second"
    assert again["id"] != client["id"]
