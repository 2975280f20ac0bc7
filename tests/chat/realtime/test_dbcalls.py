import asyncio

import pytest
from channels.db import database_sync_to_async
from django.utils import translation
from django.utils.translation import gettext

from chat.realtime import fanout
from chat.realtime.bus.local import LocalBus
from chat.realtime.dbcalls import MAX_BATCH, MAX_BATCHES_A_HOP, Batcher, batched, batcher
from chat.realtime.fanout import room_group
from chat.realtime.framewriter import Event
from chat.realtime.hub import Hub
from tests.support import FakeSocket, HeldCall, connect, until

pytestmark = pytest.mark.django_db(transaction=True)  # the hop closes stale connections


def recorded(name: str, ran: list) -> str:
    ran.append(name)
    return name.upper()


async def test_a_lone_call_goes_at_once_in_a_batch_of_its_own():
    calls = Batcher()
    assert await calls.call(recorded, "solo", []) == "SOLO"
    assert (calls.batches, calls.calls) == (1, 1)


async def test_calls_queued_while_the_thread_is_busy_go_together_in_their_order():
    calls, ran = Batcher(), []
    held = HeldCall(ran)
    first = await held.occupy(calls)  # the first batch is in the thread
    later = [asyncio.ensure_future(calls.call(recorded, f"c{i}", ran)) for i in range(5)]
    await until(lambda: len(calls.waiting) == 5, "five calls queued")
    held.release()
    assert await first == "held"
    assert await asyncio.gather(*later) == ["C0", "C1", "C2", "C3", "C4"]
    assert ran == ["held", "c0", "c1", "c2", "c3", "c4"]
    assert (calls.hops, calls.batches, calls.calls) == (1, 2, 6)


async def test_a_batch_is_answered_as_it_is_done_while_the_thread_goes_on_to_the_next():
    calls, ran = Batcher(), []
    held, second = HeldCall(ran), HeldCall(ran)
    first = await held.occupy(calls)
    early = [asyncio.ensure_future(calls.call(recorded, f"c{i}", ran)) for i in range(MAX_BATCH)]
    late = asyncio.ensure_future(calls.call(second))  # the third batch, alone
    await until(lambda: len(calls.waiting) == MAX_BATCH + 1, "two batches queued")
    held.release()
    assert await first == "held"
    assert await asyncio.gather(*early) == [f"C{i}" for i in range(MAX_BATCH)]
    await until(second.entered.is_set, "the third batch in the thread")
    assert not late.done()
    second.release()
    assert await late == "held"
    assert (calls.hops, calls.batches) == (1, 3)


async def test_other_work_for_the_thread_waits_at_most_a_hop_of_batches():
    calls, ran = Batcher(), []
    held = HeldCall(ran)
    first = await held.occupy(calls)
    queued = (MAX_BATCHES_A_HOP + 1) * MAX_BATCH
    batched_calls = [
        asyncio.ensure_future(calls.call(recorded, f"c{i}", ran)) for i in range(queued)
    ]
    await until(lambda: len(calls.waiting) == queued, "the calls queued")
    other = asyncio.ensure_future(database_sync_to_async(recorded)("other", ran))
    held.release()
    await asyncio.gather(first, other, *batched_calls)
    # The hop that ran the held call ran MAX_BATCHES_A_HOP batches, then the other work.
    assert ran.index("other") == 1 + (MAX_BATCHES_A_HOP - 1) * MAX_BATCH
    assert calls.hops == 2


def failing(message: str) -> None:
    raise ValueError(message)


async def test_a_failing_call_fails_only_its_own_caller():
    calls, ran = Batcher(), []
    held = HeldCall(ran)
    first = await held.occupy(calls)
    bad = asyncio.ensure_future(calls.call(failing, "no"))
    good = asyncio.ensure_future(calls.call(recorded, "after", ran))
    await until(lambda: len(calls.waiting) == 2, "both calls queued")
    held.release()
    await first
    with pytest.raises(ValueError, match="no"):
        await bad
    assert await good == "AFTER"


def language_and_text() -> tuple[str, str]:
    return translation.get_language(), gettext("A message cannot be empty.")


async def test_each_call_of_a_batch_runs_in_its_callers_language():
    calls, held = Batcher(), HeldCall()
    first = await held.occupy(calls)
    with translation.override("de"):
        german = asyncio.ensure_future(calls.call(language_and_text))
    with translation.override("en"):
        english = asyncio.ensure_future(calls.call(language_and_text))
    await until(lambda: len(calls.waiting) == 2, "both calls queued")
    held.release()
    await first
    assert await german == ("de", "Eine Nachricht darf nicht leer sein.")
    assert await english == ("en", "A message cannot be empty.")


async def test_a_call_whose_caller_left_before_its_batch_is_not_run():
    calls, ran = Batcher(), []
    held = HeldCall(ran)
    first = await held.occupy(calls)
    gone = asyncio.ensure_future(calls.call(recorded, "gone", ran))
    kept = asyncio.ensure_future(calls.call(recorded, "kept", ran))
    await until(lambda: len(calls.waiting) == 2, "both calls queued")
    gone.cancel()
    held.release()
    await first
    assert await kept == "KEPT"
    assert ran == ["held", "kept"]


@batched
def double(n: int) -> int:
    """Twice n."""
    return 2 * n


async def test_a_batched_function_keeps_its_name_and_uses_the_loops_batcher():
    before = batcher().calls
    assert await double(21) == 42
    assert (double.__name__, double.__doc__) == ("double", "Twice n.")
    assert batcher().calls == before + 1


def together(calls: list[tuple[str | None, tuple]]) -> list:
    """Each call's (language, first arg), or its refusal; records each group it got (and
    its turn, in a call's second arg)."""
    together.groups.append([args[0] for _language, args in calls])
    for _language, args in calls:
        if len(args) > 1:
            args[1].append("group")
    return [
        ValueError(args[0]) if args[0] == "bad" else (language, args[0]) for language, args in calls
    ]


together.groups = []


async def test_calls_made_together_go_as_one_call_where_the_first_came_each_with_its_answer():
    calls, ran = Batcher(), []
    together.groups = []
    held = HeldCall(ran)
    first = await held.occupy(calls)
    before = asyncio.ensure_future(calls.call(recorded, "before", ran))
    with translation.override("de"):
        one = asyncio.ensure_future(calls.call(together, "one", ran, together=True))
    between = asyncio.ensure_future(calls.call(recorded, "between", ran))
    bad = asyncio.ensure_future(calls.call(together, "bad", together=True))
    with translation.override("en"):
        two = asyncio.ensure_future(calls.call(together, "two", together=True))
    await until(lambda: len(calls.waiting) == 5, "the calls queued")
    held.release()
    await first
    assert await before == "BEFORE" and await between == "BETWEEN"
    assert await one == ("de", "one") and await two == ("en", "two")
    with pytest.raises(ValueError, match="bad"):
        await bad
    assert together.groups == [["one", "bad", "two"]]  # one call, in the order they came
    assert ran == ["held", "before", "group", "between"]
    assert calls.batches == 2


def failing_together(calls: list) -> list:
    raise RuntimeError("the group's transaction failed")


async def test_a_group_that_fails_whole_fails_each_of_its_callers():
    calls, held = Batcher(), HeldCall()
    first = await held.occupy(calls)
    waiting = [
        asyncio.ensure_future(calls.call(failing_together, i, together=True)) for i in range(3)
    ]
    await until(lambda: len(calls.waiting) == 3, "the calls queued")
    held.release()
    await first
    for call in waiting:
        with pytest.raises(RuntimeError, match="transaction failed"):
            await call


def publishing(n: int) -> str:
    fanout.publish_to_room(7, {"type": "message", "n": n})
    return f"answer {n}"


async def test_a_batchs_answers_come_before_its_events_reach_any_socket(user):
    """A caller writes its answer (a send's ack, the sending socket's only copy of its
    message) before the hub writes the batch's events, its neighbours' included: the
    socket never hears seq n + 1 before its own n."""
    hub = Hub(LocalBus())
    socket = FakeSocket(user, {7})
    await connect(hub, socket)
    calls, held = Batcher(), HeldCall()
    first = await held.occupy(calls)

    async def answer(n: int) -> None:
        socket.deliver(Event(await calls.call(publishing, n)))  # as a consumer writes it

    callers = [asyncio.ensure_future(answer(n)) for n in range(2)]
    await until(lambda: len(calls.waiting) == 2, "both calls queued")
    held.release()
    await first
    await asyncio.gather(*callers)
    await until(lambda: len(socket.frames) == 4, "both events")
    await hub.stop()
    assert socket.frames == [
        "answer 0",
        "answer 1",
        '{"type":"message","n":0}',
        '{"type":"message","n":1}',
    ]
    assert room_group(7) in hub.groups
