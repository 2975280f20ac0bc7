import asyncio
import logging
import uuid

import pytest
import redis
from asgiref.sync import sync_to_async

from chat.realtime import fanout
from chat.realtime.bus.codec import channel_namespace, unpack
from chat.realtime.bus.local import LocalBus
from chat.realtime.fanout import room_group
from tests.support import TEST_REDIS_URL, ManualClock, require_service, until


@pytest.fixture
async def listener():
    """A process-local bus subscribed to room 7, published to from the serving loop."""
    bus = LocalBus()
    await bus.start()
    await bus.sync([room_group(7)], lambda group: True)
    fanout.serve_from(asyncio.get_running_loop(), bus)
    yield bus
    await bus.stop()


async def test_publishes_from_a_worker_thread_reach_the_bus_in_commit_order(listener):
    def commit_many():
        for i in range(30):
            fanout.publish_to_room(7, {"type": "message", "n": i})

    await sync_to_async(commit_many)()
    texts = [(await asyncio.wait_for(listener.receive(), 2))["text"] for _ in range(30)]
    assert texts == [f'{{"type":"message","n":{i}}}' for i in range(30)]


async def test_a_groups_publishes_go_to_the_loop_in_one_hop_in_their_order(listener, monkeypatch):
    hops = []
    call_on_loop = fanout.buses.call_on_loop
    monkeypatch.setattr(
        fanout.buses, "call_on_loop", lambda *args: hops.append(args) or call_on_loop(*args)
    )
    frames = [(7, {"type": "message", "n": i}, None) for i in range(5)]
    await sync_to_async(fanout.publish_to_rooms)(frames)
    texts = [(await asyncio.wait_for(listener.receive(), 2))["text"] for _ in range(5)]
    assert texts == [f'{{"type":"message","n":{i}}}' for i in range(5)]
    assert len(hops) == 1


async def test_what_a_thread_publishes_together_reaches_the_loop_in_one_hand_over(
    listener, monkeypatch
):
    """A group commit's events: one wake-up of the loop for all of them, in their order,
    handed over even when the block fails after they were published."""
    handed_over = []
    real = fanout.buses.call_on_loop

    def counting(loop, callback, *args):
        handed_over.append(len(args[0]))
        real(loop, callback, *args)

    monkeypatch.setattr(fanout.buses, "call_on_loop", counting)

    def commit_together():
        with fanout.published_together():
            for i in range(5):
                fanout.publish_to_room(7, {"type": "message", "n": i})
            with fanout.published_together():  # nested: the outer block hands over
                fanout.publish_to_room(7, {"type": "message", "n": 5})
            raise RuntimeError("after the commit")

    with pytest.raises(RuntimeError):
        await sync_to_async(commit_together)()
    texts = [(await asyncio.wait_for(listener.receive(), 2))["text"] for _ in range(6)]
    assert texts == [f'{{"type":"message","n":{i}}}' for i in range(6)]
    assert handed_over == [6]


async def test_what_a_thread_keeps_is_published_from_the_loop_when_the_loop_says(
    listener, monkeypatch
):
    """`keep`: nothing reaches the loop from the thread; the loop publishes the kept
    events itself, in their order. A block that fails hands them over at once."""
    handed_over = []
    monkeypatch.setattr(fanout.buses, "call_on_loop", lambda *args: handed_over.append(args))

    def commit_and_keep():
        with fanout.published_together(keep=True) as kept:
            for i in range(3):
                fanout.publish_to_room(7, {"type": "message", "n": i})
        return kept

    kept = await sync_to_async(commit_and_keep)()
    assert handed_over == [] and len(kept) == 3
    fanout.publish_kept(kept)
    texts = [(await asyncio.wait_for(listener.receive(), 2))["text"] for _ in range(3)]
    assert texts == [f'{{"type":"message","n":{i}}}' for i in range(3)]

    def fail_after_publishing():
        with fanout.published_together(keep=True) as kept:
            fanout.publish_to_room(7, {"type": "message", "n": 3})
            raise RuntimeError("after the commit")
        return kept

    with pytest.raises(RuntimeError):
        await sync_to_async(fail_after_publishing)()
    [(_loop, _callback, batch)] = handed_over
    assert [message["text"] for _group, message in batch] == ['{"type":"message","n":3}']


async def test_a_failing_bus_is_logged_and_never_fails_the_committing_thread(
    listener, monkeypatch, caplog
):
    async def broken(batch):
        raise ConnectionError("bus down")

    monkeypatch.setattr(listener, "publish", broken)
    with caplog.at_level(logging.ERROR, logger="chat.realtime.fanout"):
        await sync_to_async(fanout.publish_to_room)(7, {"type": "message"})
        await until(lambda: "publish to room.7 failed" in caplog.text, "the failure logged")


async def test_without_a_serving_loop_a_publish_reaches_this_process_hubs_in_place(settings):
    settings.REDIS_URL = ""  # LocalBus; test_bus covers Redis
    bus = LocalBus()
    await bus.start()
    await bus.sync([room_group(8)], lambda group: True)
    await sync_to_async(fanout.publish_to_room)(8, {"type": "message"})  # no outbox there
    received = await asyncio.wait_for(bus.receive(), 2)
    await bus.stop()
    assert received == {"type": "chat.frame", "group": room_group(8), "text": '{"type":"message"}'}


@pytest.mark.redis
def test_without_a_serving_loop_a_publish_on_redis_completes_in_place(settings):
    settings.REDIS_URL = TEST_REDIS_URL
    settings.REDIS_PREFIX = f"test-{uuid.uuid4().hex[:12]}"
    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as exc:
        require_service("Redis", f"{TEST_REDIS_URL} does not answer PING ({exc})")
    observer = client.pubsub(ignore_subscribe_messages=True)
    observer.subscribe(channel_namespace(settings.REDIS_URL, settings.REDIS_PREFIX) + "room.8")
    observer.get_message(timeout=1)  # the confirmation
    fanout.publish_to_room(8, {"type": "message"})
    received = observer.get_message(timeout=2)
    observer.close()
    client.close()
    assert unpack("room.8", received["data"])["text"] == '{"type":"message"}'


class CoalescingBus:
    """A bus that wants publishes coalesced, recording each batch it is given."""

    batches = True
    coalesces = True

    def __init__(self):
        self.published: list[list[str]] = []

    async def publish(self, batch):
        self.published.append([message["text"] for _group, message in batch])


def texts(bus: CoalescingBus) -> list[str]:
    return [text for batch in bus.published for text in batch]


async def test_under_load_publishes_go_together_but_one_after_a_lull_goes_at_once(settings):
    settings.PARLEY_FANOUT_COALESCE_MS = 200
    bus, clock = CoalescingBus(), ManualClock()
    outbox = fanout.Outbox(asyncio.get_running_loop(), bus, clock=clock)
    for n in range(10):  # one every 15 ms: after 0.1 s the rate is known to be worth holding
        outbox.put(room_group(7), {"type": "chat.frame", "text": f"{n}"})
        await until(lambda n=n: len(texts(bus)) == n + 1 or clock.sleeping, f"{n} handled")
        clock.advance(0.015)
    assert clock.sleeping  # holding 8 (9 came meanwhile) until 200 ms after 7 went
    assert [len(batch) for batch in bus.published] == [1] * 8  # no rate yet: each at once
    clock.advance(0.2)
    await until(lambda: len(texts(bus)) == 10, "the held publishes")
    assert texts(bus) == [f"{n}" for n in range(10)]
    assert [len(batch) for batch in bus.published] == [1] * 8 + [2]
    clock.advance(0.3)  # a lull
    outbox.put(room_group(7), {"type": "chat.frame", "text": "late"})
    await until(lambda: len(texts(bus)) == 11, "the late publish")
    assert (bus.published[-1], clock.sleeping) == (["late"], False)
