import asyncio

import pytest
from django.utils import translation
from django.utils.translation import gettext

from chat.realtime.dbcalls import Batcher, batched, batcher
from tests.support import HeldCall, until

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
    assert (calls.batches, calls.calls) == (2, 6)


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
