import asyncio

import pytest
from asgiref.sync import sync_to_async

from chat.realtime import hub as hub_module
from chat.realtime.bus.local import LocalBus, publish_locally
from chat.realtime.fanout import room_group, user_group
from chat.realtime.hub import Hub, receive_retry_delay
from tests.factories import RoomFactory, UserFactory
from tests.support import FakeSocket, ManualClock, UnreachablePresence, connect, until


class CountingBus(LocalBus):
    """The process-local bus, recording each group it subscribes."""

    def __init__(self):
        super().__init__()
        self.subscribed: list[str] = []

    async def sync(self, groups, wanted, *, wait=True):
        before = set(self.joined)
        await super().sync(groups, wanted, wait=wait)
        self.subscribed.extend(self.joined - before)


@pytest.fixture
async def hub():
    hub = Hub(CountingBus())
    yield hub
    await hub.stop()


pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
async def alice():
    return await sync_to_async(UserFactory)(username="alice")


async def test_many_local_sockets_in_a_room_cost_one_subscription(hub, alice):
    sockets = [FakeSocket(alice, {7}) for _ in range(50)]
    for socket in sockets:
        await connect(hub, socket)
    assert hub.bus.subscribed.count(room_group(7)) == 1
    assert hub.bus.subscribed.count(user_group(alice.pk)) == 1
    assert hub.bus in LocalBus._subscribed[room_group(7)]


async def test_one_bus_event_reaches_every_local_socket_of_the_room_once(hub, alice):
    inside = [FakeSocket(alice, {7}) for _ in range(3)]
    outside = FakeSocket(alice, {8})
    for socket in [*inside, outside]:
        await connect(hub, socket)
    publish_locally([frame(room_group(7), "T")])
    await until(lambda: all(s.frames for s in inside), "the event at every socket inside")
    assert [s.frames for s in inside] == [["T"], ["T"], ["T"]]
    assert outside.frames == []  # routed in the same pass as the others


async def test_grant_subscribes_the_users_sockets_before_they_hear_of_it(hub, alice):
    socket = FakeSocket(alice)
    await connect(hub, socket)
    await hub.route({"type": "chat.grant", "group": user_group(alice.pk), "room": 9, "text": "R"})
    assert socket.room_ids == {9}
    assert room_group(9) in hub.bus.joined
    assert socket.frames == ["R"]


async def test_revoke_unsubscribes_and_leaves_the_group_when_nobody_local_needs_it(hub, alice):
    socket = FakeSocket(alice, {9})
    await connect(hub, socket)
    await hub.route({"type": "chat.revoke", "group": user_group(alice.pk), "room": 9, "text": "X"})
    assert socket.room_ids == set()
    assert room_group(9) not in hub.bus.joined
    await hub.route({"type": "chat.frame", "group": room_group(9), "text": "late"})
    assert socket.frames == ["X"]


async def test_last_socket_leaving_leaves_every_group_and_the_hub_keeps_serving(hub, alice):
    socket = FakeSocket(alice, {7})
    await connect(hub, socket)
    await hub.detach(socket)
    assert hub.groups == {}
    assert hub.bus.joined == set()
    assert hub.bus not in LocalBus._subscribed.get(room_group(7), ())
    assert hub._tasks and not any(task.done() for task in hub._tasks)


async def test_sockets_leaving_together_then_a_new_one_still_hears_the_room(hub, alice):
    users = [await sync_to_async(UserFactory)() for _ in range(5)]
    leaving = [FakeSocket(user, {7}) for user in users]
    for socket in leaving:
        await connect(hub, socket)
    await asyncio.gather(*(hub.detach(socket) for socket in leaving))
    assert hub.bus not in LocalBus._subscribed.get(room_group(7), ())
    newcomer = FakeSocket(alice, {7})
    await connect(hub, newcomer)
    publish_locally([frame(room_group(7), "T")])
    await until(lambda: newcomer.frames, "the event at the newcomer")
    assert newcomer.frames == ["T"]


async def test_heads_report_the_databases_rooms_and_repair_lost_grants_and_revokes(hub, alice):
    member_of = await sync_to_async(RoomFactory)(members=[alice])
    socket = FakeSocket(alice, {424242})  # subscribed to a room alice is not in
    await connect(hub, socket)
    await hub.send_heads()
    assert socket.room_ids == {member_of.pk}
    assert '{"type":"room.removed","room":424242}' in socket.frames
    assert f'{{"type":"heads","rooms":{{"{member_of.pk}":0}}}}' in socket.frames
    assert any(f'"type":"room","room":{{"id":{member_of.pk}' in frame for frame in socket.frames)


async def test_heads_never_undo_a_membership_change_newer_than_their_query(hub, alice, monkeypatch):
    socket = FakeSocket(alice)
    await connect(hub, socket)
    real = hub_module._memberships

    async def slow_memberships(user_ids):
        answer = await real(user_ids)
        await hub.route(
            {"type": "chat.grant", "group": user_group(alice.pk), "room": 31, "text": "R"}
        )
        return answer

    monkeypatch.setattr(hub_module, "_memberships", slow_memberships)
    await hub.send_heads()
    assert socket.room_ids == {31}


def frame(group: str, text: str, **extra) -> tuple[str, dict]:
    return group, {"type": "chat.frame", "text": text, **extra}


async def test_events_that_arrived_together_reach_each_socket_in_one_write_in_order(alice):
    hub = Hub(LocalBus())
    bob = await sync_to_async(UserFactory)(username="bob")
    mine, theirs = FakeSocket(alice, {7}), FakeSocket(bob, {7, 8})
    await connect(hub, mine)
    await connect(hub, theirs)
    publish_locally(
        [
            frame(room_group(7), "a"),
            frame(room_group(8), "b"),
            frame(room_group(7), "c", except_user=alice.pk),
            frame(room_group(7), "d"),
            frame(room_group(7), "e", except_socket=mine.presence_id),  # mine sent it
        ]
    )
    await until(lambda: mine.writes and theirs.writes, "a write to each socket")
    await hub.stop()
    assert (mine.frames, mine.writes) == (["a", "d"], [2])  # routed in the same pass
    assert (theirs.frames, theirs.writes) == (["a", "b", "c", "d", "e"], [5])


async def test_a_grant_among_events_that_arrived_together_keeps_every_frame_in_order(alice):
    hub = Hub(LocalBus())
    socket = FakeSocket(alice, {7})
    await connect(hub, socket)
    grant = {"type": "chat.grant", "room": 9, "text": "granted"}
    publish_locally(
        [
            frame(room_group(7), "before"),
            (user_group(alice.pk), grant),
            frame(room_group(7), "after"),
        ]
    )
    await until(lambda: len(socket.frames) == 3, "three frames")
    await hub.stop()
    assert socket.frames == ["before", "granted", "after"]
    assert socket.room_ids == {7, 9}


async def test_under_load_events_soon_after_a_write_out_go_together_but_not_after_a_lull(
    alice, settings
):
    settings.PARLEY_FANOUT_COALESCE_MS = 200
    clock = ManualClock()
    hub = Hub(LocalBus(), clock=clock)
    socket = FakeSocket(alice, {7})
    await connect(hub, socket)
    for n in range(10):  # one every 15 ms: after 0.1 s the hub knows the rate is worth holding
        publish_locally([frame(room_group(7), f"b{n}")])
        await until(lambda n=n: len(socket.frames) == n + 1 or clock.sleeping, f"b{n} handled")
        clock.advance(0.015)
    assert clock.sleeping  # holding b8 (b9 came meanwhile) until 200 ms after b7's write
    assert socket.writes == [1] * 8  # the first 0.1 s: no rate yet, each at once
    clock.advance(0.2)
    await until(lambda: len(socket.frames) == 10, "the held events")
    assert socket.frames == [f"b{n}" for n in range(10)]
    assert socket.writes == [1] * 8 + [2]  # the held ones, together
    clock.advance(0.3)  # a lull
    publish_locally([frame(room_group(7), "late")])
    await until(lambda: len(socket.frames) == 11, "the late event")
    await hub.stop()
    assert (socket.frames[-1], socket.writes[-1], clock.sleeping) == ("late", 1, False)


async def test_a_presence_store_out_of_reach_costs_no_socket(hub, alice, caplog):
    """Redis away: the socket is admitted (this process's counts still hold), attached,
    checked in and out without an error reaching the consumer, and a hello's statuses
    are empty rather than the handshake failing."""
    hub.presence = UnreachablePresence()
    socket = FakeSocket(alice, {7})
    socket.address, socket.presence_id, socket.presence_state = "192.0.2.1", "tab", "active"
    assert await hub.admit(socket) is None
    await connect(hub, socket)
    await hub.check_in(socket, "idle")
    assert socket.presence_state == "idle"
    assert await hub.statuses([alice.pk]) == {}
    await hub.detach(socket)
    await hub.check_out(socket)
    assert socket not in hub.sockets
    assert caplog.text.count("presence store unavailable") == 4


def test_the_hub_tries_the_bus_again_within_a_second_however_long_it_was_away():
    delays = [receive_retry_delay(failures) for failures in range(1, 60)]
    assert delays[0] == 0.1 and delays == sorted(delays) and max(delays) == 1.0
