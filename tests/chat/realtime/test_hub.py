import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.layers import InMemoryChannelLayer

from chat.realtime import hub as hub_module
from chat.realtime.bus.layer import LayerBus
from chat.realtime.bus.local import LocalBus, publish_locally
from chat.realtime.fanout import room_group, user_group
from chat.realtime.hub import Hub
from tests.factories import RoomFactory, UserFactory
from tests.support import FakeSocket, ManualClock, connect, until


class CountingLayer(InMemoryChannelLayer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.group_adds: list[str] = []

    async def group_add(self, group, channel):
        self.group_adds.append(group)
        await super().group_add(group, channel)


@pytest.fixture
async def hub():
    hub = Hub(LayerBus(CountingLayer()))
    yield hub
    await hub.stop()


pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
async def alice():
    return await sync_to_async(UserFactory)(username="alice")


async def test_many_local_sockets_in_a_room_cost_one_group_membership(hub, alice):
    sockets = [FakeSocket(alice, {7}) for _ in range(50)]
    for socket in sockets:
        await connect(hub, socket)
    assert hub.bus.layer.group_adds.count(room_group(7)) == 1
    assert hub.bus.layer.group_adds.count(user_group(alice.pk)) == 1


async def test_one_layer_event_reaches_every_local_socket_of_the_room_once(hub, alice):
    inside = [FakeSocket(alice, {7}) for _ in range(3)]
    outside = FakeSocket(alice, {8})
    for socket in [*inside, outside]:
        await connect(hub, socket)
    await hub.bus.layer.group_send(
        room_group(7), {"type": "chat.frame", "group": room_group(7), "text": "T"}
    )
    await until(lambda: all(s.frames for s in inside), "the event at every socket inside")
    assert [s.frames for s in inside] == [["T"], ["T"], ["T"]]
    assert outside.frames == []


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


async def test_last_socket_leaving_leaves_every_group_and_keeps_the_channel(hub, alice):
    socket = FakeSocket(alice, {7})
    await connect(hub, socket)
    channel = hub.bus.channel
    await hub.detach(socket)
    assert hub.groups == {}
    assert hub.bus.joined == set()
    assert hub.bus.channel == channel


class RemoteLayer(InMemoryChannelLayer):
    """Group changes that take a round trip, as on Redis."""

    async def group_add(self, group, channel):
        await asyncio.sleep(0.001)
        await super().group_add(group, channel)

    async def group_discard(self, group, channel):
        await asyncio.sleep(0.001)
        await super().group_discard(group, channel)


async def test_sockets_leaving_together_then_a_new_one_still_hears_the_room(alice):
    hub = Hub(LayerBus(RemoteLayer()))
    users = [await sync_to_async(UserFactory)() for _ in range(5)]
    leaving = [FakeSocket(user, {7}) for user in users]
    for socket in leaving:
        await connect(hub, socket)
    await asyncio.gather(*(hub.detach(socket) for socket in leaving))
    assert hub.bus.layer.groups == {}
    newcomer = FakeSocket(alice, {7})
    await connect(hub, newcomer)
    await hub.bus.layer.group_send(
        room_group(7), {"type": "chat.frame", "group": room_group(7), "text": "T"}
    )
    await until(lambda: newcomer.frames, "the event at the newcomer")
    await hub.stop()
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


class PooledLayer(RemoteLayer):
    """Refuses a call while 40 are in flight, as redis-py's pool does past its size."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.in_flight = self.most = 0

    async def _counted(self, call, group, channel):
        if self.in_flight >= 40:
            raise ConnectionError("Too many connections")
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        try:
            await call(group, channel)
        finally:
            self.in_flight -= 1

    async def group_add(self, group, channel):
        await self._counted(super().group_add, group, channel)

    async def group_discard(self, group, channel):
        await self._counted(super().group_discard, group, channel)


async def test_a_storm_of_sockets_never_has_more_layer_calls_in_flight_than_a_pool_allows():
    hub = Hub(LayerBus(PooledLayer()))
    users = [await sync_to_async(UserFactory)() for _ in range(200)]
    sockets = [FakeSocket(user, {7}) for user in users]
    await asyncio.gather(*(connect(hub, socket) for socket in sockets))
    await asyncio.gather(*(hub.detach(socket) for socket in sockets))
    await hub.stop()
    assert hub.bus.layer.groups == {}
    assert 0 < hub.bus.layer.most <= 32


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
        ]
    )
    await until(lambda: mine.writes and theirs.writes, "a write to each socket")
    await hub.stop()
    assert (mine.frames, mine.writes) == (["a", "d"], [2])
    assert (theirs.frames, theirs.writes) == (["a", "b", "c", "d"], [4])


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
