"""Presence: the two stores behave alike; the socket announces changes to room peers."""

import uuid

import pytest
import redis
from asgiref.sync import sync_to_async
from django.conf import settings as django_settings
from django.db.backends.utils import CursorWrapper

from chat.realtime.presence import (
    IDLE,
    OFFLINE,
    ONLINE,
    Change,
    MemoryPresence,
    RedisPresence,
    presence_ttl,
)
from tests.factories import RoomFactory, UserFactory, direct_room
from tests.support import TEST_REDIS_URL as REDIS_URL
from tests.support import require_service
from tests.wsclient import open_tab, session_cookie


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def store(request):
    if request.param == "memory":
        yield MemoryPresence()
        return
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        require_service("Redis", f"the shared presence store needs {REDIS_URL}")
    prefix = f"test-{uuid.uuid4().hex}"
    shared = RedisPresence(REDIS_URL, prefix)
    yield shared
    keys = [key async for key in shared.redis.scan_iter(f"{prefix}:*")]
    if keys:
        await shared.redis.delete(*keys)
    await shared.close()


async def test_the_first_socket_makes_a_user_online_and_later_ones_change_nothing(store):
    first = await store.check_in(7, "tab-a", "active", 1000.0)
    assert (first.user_id, first.status) == (7, ONLINE)
    assert await store.check_in(7, "tab-b", "active", 1001.0) is None
    assert (await store.statuses([7], 1002.0))[7]["status"] == ONLINE


async def test_the_last_socket_leaving_makes_the_user_offline_with_last_seen(store):
    await store.check_in(7, "tab-a", "active", 1000.0)
    await store.check_in(7, "tab-b", "active", 1000.0)
    assert await store.check_out(7, "tab-a", 1010.0) is None
    gone = await store.check_out(7, "tab-b", 1020.0)
    assert (gone.status, gone.last_seen) == (OFFLINE, 1020.0)
    assert await store.statuses([7], 1021.0) == {7: {"status": OFFLINE, "last_seen": 1020.0}}


async def test_a_user_is_idle_only_when_every_socket_is_idle(store):
    await store.check_in(7, "tab-a", "active", 1000.0)
    await store.check_in(7, "tab-b", "active", 1000.0)
    assert await store.check_in(7, "tab-a", "idle", 1001.0) is None
    idle = await store.check_in(7, "tab-b", "idle", 1002.0)
    assert idle.status == IDLE
    back = await store.check_in(7, "tab-a", "active", 1003.0)
    assert back.status == ONLINE


async def test_sockets_that_stop_checking_in_expire_and_a_sweep_says_so_once(store):
    await store.check_in(7, "crashed-process-tab", "active", 1000.0)
    later = 1000.0 + presence_ttl() + 1
    [gone] = await store.sweep(later)
    assert (gone.user_id, gone.status) == (7, OFFLINE)
    assert await store.sweep(later + 1) == []


async def test_a_refresh_checks_every_socket_in_and_sweeps_like_one_call_each(store):
    await store.check_in(7, "crashed-process-tab", "active", 1000.0)
    later = 1000.0 + presence_ttl() + 1
    changes = await store.refresh([(8, "tab-a", "active"), (8, "tab-b", "idle")], later)
    assert {(c.user_id, c.status) for c in changes} == {(8, ONLINE), (7, OFFLINE)}
    assert await store.refresh([(8, "tab-a", "idle"), (8, "tab-b", "idle")], later + 1) == [
        Change(8, IDLE, None)
    ]
    assert (await store.statuses([7, 8], later + 2))[8]["status"] == IDLE


on_redis_only = pytest.mark.parametrize(
    "store", [pytest.param("redis", marks=pytest.mark.redis)], indirect=True
)


@on_redis_only
async def test_a_refresh_on_redis_is_one_round_trip_however_many_sockets(store, monkeypatch):
    sent = []
    real = store.redis.pipeline

    def counting_pipeline(**kwargs):
        pipe = real(**kwargs)
        execute = pipe.execute

        async def counted(**options):
            sent.append(len(pipe.command_stack))
            return await execute(**options)

        pipe.execute = counted
        return pipe

    monkeypatch.setattr(store.redis, "pipeline", counting_pipeline)
    await store.refresh([(user, f"tab-{user}", "active") for user in range(50)], 1000.0)
    assert sent == [51]  # 50 check-ins and the sweep's query, in one pipeline


@on_redis_only
async def test_a_refresh_on_redis_reloads_a_script_redis_lost(store):
    real = store.script.sha
    store.script.sha = "0" * 40  # as if Redis restarted and forgot the script
    [change] = await store.refresh([(7, "tab-a", "active")], 1000.0)
    assert (change.user_id, change.status) == (7, ONLINE)
    assert store.script.sha == real


async def test_statuses_of_many_people_each_as_their_sockets_say(store):
    for user in range(1, 301):
        if user % 3 == 0:
            await store.check_in(user, f"tab-{user}", "active", 1000.0)
            await store.check_in(user, f"tab2-{user}", "idle", 1000.0)
        elif user % 3 == 1:
            await store.check_in(user, f"tab-{user}", "idle", 1000.0)
        if user % 10 == 0:
            await store.check_out(user, f"tab-{user}", 1001.0)
            await store.check_out(user, f"tab2-{user}", 1002.0)
    views = await store.statuses(list(range(1, 302)), 1003.0)

    def expected(user: int) -> dict:
        if user > 300 or user % 3 == 2:  # never seen
            return {"status": OFFLINE, "last_seen": None}
        if user % 10 == 0:  # gone: with their last socket
            return {"status": OFFLINE, "last_seen": 1002.0 if user % 3 == 0 else 1001.0}
        return {"status": ONLINE if user % 3 == 0 else IDLE, "last_seen": None}

    assert views == {user: expected(user) for user in range(1, 302)}
    # Expired check-ins count for nothing.
    later = await store.statuses([3, 4], 1000.0 + presence_ttl() + 1)
    assert [v["status"] for v in later.values()] == [OFFLINE, OFFLINE]


@on_redis_only
async def test_statuses_on_redis_are_one_command_however_many_people(store, monkeypatch):
    """A hello reads the status of everyone the user follows: one script call, never a
    command (or two) per person."""
    for user in range(1, 501, 2):
        await store.check_in(user, f"tab-{user}", "active", 1000.0)
    sent = []
    real = store.redis.execute_command

    async def counted(*args, **options):
        sent.append(args[0])
        return await real(*args, **options)

    monkeypatch.setattr(store.redis, "execute_command", counted)
    monkeypatch.setattr(store.redis, "pipeline", None)  # nothing pipelined either
    views = await store.statuses(list(range(1, 501)), 1001.0)
    assert sent == ["EVALSHA"]
    assert sum(v["status"] == ONLINE for v in views.values()) == 250


async def test_someone_never_seen_is_offline_with_no_last_seen(store):
    assert await store.statuses([99], 1000.0) == {99: {"status": OFFLINE, "last_seen": None}}


live_db = pytest.mark.django_db(transaction=True)


@live_db
async def test_a_room_peer_sees_a_user_come_online_and_go_offline(db):
    alice, bob = [await sync_to_async(UserFactory)(username=n) for n in ("alice", "bob")]
    await sync_to_async(RoomFactory)(members=[alice, bob])
    async with open_tab(bob) as watcher:
        async with open_tab(alice), open_tab(alice):
            online = await watcher.receive_type("presence")
            assert (online["user"], online["status"]) == (alice.pk, ONLINE)
        offline = await watcher.receive_type("presence")
        assert (offline["user"], offline["status"]) == (alice.pk, OFFLINE)
        assert offline["last_seen"].endswith("Z")
        assert await watcher.nothing()  # two tabs came and went: one change each way


@live_db
async def test_hello_carries_the_presence_of_room_peers(db):
    alice, bob = [await sync_to_async(UserFactory)(username=n) for n in ("alice", "bob")]
    await sync_to_async(RoomFactory)(members=[alice, bob])
    async with open_tab(alice), open_tab(bob) as tab:
        assert tab.hello["presence"] == {str(alice.pk): {"status": ONLINE, "last_seen": None}}


@live_db
async def test_idle_reported_by_the_client_reaches_peers(db):
    alice, bob = [await sync_to_async(UserFactory)(username=n) for n in ("alice", "bob")]
    await sync_to_async(RoomFactory)(members=[alice, bob])
    async with open_tab(bob) as watcher, open_tab(alice) as tab:
        await watcher.receive_type("presence")
        await tab.send({"type": "presence", "status": "idle"})
        idle = await watcher.receive_type("presence")
        assert (idle["user"], idle["status"]) == (alice.pk, IDLE)


@live_db
async def test_people_who_share_no_room_hear_nothing(db):
    alice, carol = [await sync_to_async(UserFactory)(username=n) for n in ("alice", "carol")]
    await sync_to_async(RoomFactory)(members=[alice])
    async with open_tab(carol) as watcher, open_tab(alice):
        assert await watcher.nothing(0.3)


@live_db
async def test_rooms_larger_than_the_presence_limit_carry_no_live_presence(db, settings):
    settings.PARLEY_PRESENCE_MAX_MEMBERS = 2
    alice, bob, carol = [
        await sync_to_async(UserFactory)(username=n) for n in ("alice", "bob", "carol")
    ]
    await sync_to_async(RoomFactory)(members=[alice, bob, carol])
    async with open_tab(bob) as watcher, open_tab(alice):
        assert await watcher.nothing(0.3)
    async with open_tab(alice), open_tab(bob) as late:
        assert late.hello["presence"] == {}


@live_db
async def test_a_user_does_not_hear_their_own_presence(db):
    alice, bob = [await sync_to_async(UserFactory)(username=n) for n in ("alice", "bob")]
    await sync_to_async(RoomFactory)(members=[alice, bob])
    async with open_tab(alice) as first, open_tab(alice):
        assert await first.nothing(0.3)


@live_db
async def test_a_dm_opened_after_connecting_brings_the_peers_status_at_once(db):
    from chat import services

    alice, bob = [await sync_to_async(UserFactory)(username=n) for n in ("alice", "bob")]
    async with open_tab(alice), open_tab(bob) as tab:
        assert tab.hello["presence"] == {}
        await sync_to_async(services.open_direct)(bob, "alice")
        await tab.receive_type("room")
        told = await tab.receive_type("presence")
        assert (told["user"], told["status"], told["last_seen"]) == (alice.pk, ONLINE, None)


@live_db
async def test_the_opener_of_a_dm_not_yet_written_in_follows_the_peer_who_hears_nothing(db):
    """The other person is not in the DM until its first message, yet its opener sees
    their status: in hello, and as it changes. They hear nothing of the opener."""
    from chat import services

    alice, bob = [await sync_to_async(UserFactory)(username=n) for n in ("alice", "bob")]
    await sync_to_async(services.open_direct)(bob, "alice")
    async with open_tab(alice), open_tab(bob) as tab:
        assert tab.hello["presence"] == {str(alice.pk): {"status": ONLINE, "last_seen": None}}
    async with open_tab(bob) as watcher:
        async with open_tab(alice) as peer:
            online = await watcher.receive_type("presence")
            assert (online["user"], online["status"]) == (alice.pk, ONLINE)
            assert peer.hello["presence"] == {}
            assert await peer.nothing(0.3)
        offline = await watcher.receive_type("presence")
        assert (offline["user"], offline["status"]) == (alice.pk, OFFLINE)


@live_db
async def test_joining_a_room_too_large_for_presence_brings_no_statuses(db, settings):
    from chat import services

    settings.PARLEY_PRESENCE_MAX_MEMBERS = 2
    alice, bob, carol = [
        await sync_to_async(UserFactory)(username=n) for n in ("alice", "bob", "carol")
    ]
    room = await sync_to_async(RoomFactory)(members=[alice, carol])
    async with open_tab(alice), open_tab(bob) as tab:
        await sync_to_async(services.create_or_join_room)(bob, room.name)
        await tab.receive_type("room")
        assert (await tab.receive_type("member"))["user"]["username"] == "bob"
        assert await tab.nothing(0.3)


def _world(rooms: int, members: int):
    """A user in `rooms` rooms of `members` members (everyone else in each room one of
    its own) and a direct room, half of everyone else online (one socket each)."""
    user = UserFactory()
    people = []
    for _ in range(rooms):
        others = [UserFactory() for _ in range(members - 1)]
        RoomFactory(members=[user, *others])
        people += others
    direct_room(user, UserFactory())
    return user, people


async def _hello_queries(monkeypatch, user) -> tuple[int, dict]:
    """How many SQL statements ran (in any thread) as the user's socket opened, up to its
    hello, and the hello."""
    statements = []
    real = CursorWrapper._execute

    def counted(self, sql, *args):
        statements.append(sql)
        return real(self, sql, *args)

    header = f"{django_settings.SESSION_COOKIE_NAME}={await session_cookie(user)}".encode()
    with monkeypatch.context() as patched:
        patched.setattr(CursorWrapper, "_execute", counted)
        async with open_tab(headers=((b"cookie", header),)) as tab:
            count, hello = len(statements), tab.hello  # not the statements of its closing
    return count, hello


@live_db
async def test_a_hello_costs_the_same_queries_however_many_rooms_and_members(db, monkeypatch):
    """The hello's reads are a fixed number of statements: never one per room or per
    member (they would queue every client of a killed worker as it reconnects)."""
    small, _few = await sync_to_async(_world)(1, 2)
    large, people = await sync_to_async(_world)(8, 12)
    async with open_tab(people[0]):  # someone followed is online
        few, small_hello = await _hello_queries(monkeypatch, small)
        many, large_hello = await _hello_queries(monkeypatch, large)
    assert (len(small_hello["rooms"]), len(large_hello["rooms"])) == (2, 9)
    assert len(large_hello["presence"]) == 8 * 11 + 1
    assert large_hello["presence"][str(people[0].pk)]["status"] == ONLINE
    # The session and the user; the user's rooms (to subscribe to), the rooms with their
    # counts, the direct room's peer, the rooms' pins, the people followed (two); the
    # rooms told that the user came online (two).
    assert few == many <= 10
