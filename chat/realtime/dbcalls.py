"""Database calls from the event loop, taken to Channels' database thread in batches.

`database_sync_to_async` costs every call a hop to the database thread and back,
about 0.1 ms of CPU in thread wake-ups and context copies (docs/performance.md),
however little the call does. Under load, calls arrive faster than the thread
finishes them, so here the calls that queued while the thread was busy go over
together, in one hop, and run one after another in the order they came, each in
its caller's language and in its own transaction, as if each had hopped alone.
The thread goes from one batch to the next itself, handing each batch's answers to the
loop as it goes, and after a few batches is free for anything else waiting for it. Idle,
a call goes alone at once: batching never waits for company.

Calls made through `batched_together` go further: those of one batch run as one call
of their function with all their arguments (sends share one transaction, group
commit: chat/services/sending.py), where the first of them came in the batch.
"""

import asyncio
import functools
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any, NamedTuple

from channels.db import database_sync_to_async
from django.db import close_old_connections
from django.utils import translation

from .bus import Batch
from .fanout import publish_kept, published_together

MAX_BATCH = 32
MAX_BATCHES_A_HOP = 4  # then the thread is free a moment for other work (a page's queries)


class _Call(NamedTuple):
    language: str | None
    func: Callable[..., Any]
    args: tuple
    future: asyncio.Future
    together: bool = False  # func takes every such call's (language, args) at once


class Batcher:
    """The calls waiting for the database thread, from one event loop."""

    def __init__(self) -> None:
        self.waiting: deque[_Call] = deque()  # appended by the loop, taken by the thread
        self.running: list[_Call] = []  # the batch in the thread, until its answers go out
        self.task: asyncio.Task | None = None
        self.hops = 0
        self.batches = 0
        self.calls = 0

    async def call(self, func: Callable[..., Any], *args: Any, together: bool = False) -> Any:
        future = asyncio.get_running_loop().create_future()
        self.waiting.append(_Call(translation.get_language(), func, args, future, together))
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self.waiting:
                await _run_in_db_thread(self, loop)
        except asyncio.CancelledError:
            self._fail(RuntimeError("the database call was cut off"))
            raise
        except Exception as exc:  # the hop itself failed: its callers hear why
            self._fail(exc)
        finally:
            self.task = None

    def take(self) -> list[_Call]:
        """In the database thread: the next batch, without the calls whose callers left."""
        batch: list[_Call] = []
        while self.waiting and len(batch) < MAX_BATCH:
            call = self.waiting.popleft()  # atomic: the loop may append meanwhile
            if not call.future.done():
                batch.append(call)
        self.running = batch
        self.batches += bool(batch)
        self.calls += len(batch)
        return batch

    def answer(self, batch: list[_Call], outcomes: list[tuple[bool, Any]], events: Batch) -> None:
        """On the loop: each caller's answer, then what the batch published. A caller's
        task, woken first, writes its answer (a send's ack, the sending socket's copy of
        its message) before the hub writes anything of the batch's events to any socket."""
        for call, (ok, value) in zip(batch, outcomes, strict=True):
            if call.future.done():
                continue
            if ok:
                call.future.set_result(value)
            else:
                call.future.set_exception(value)
        publish_kept(events)

    def _fail(self, exc: Exception) -> None:
        for call in [*self.running, *self.waiting]:
            if not call.future.done():
                call.future.set_exception(exc)
        self.running, self.waiting = [], deque()


def _run_batches(calls: Batcher, loop: asyncio.AbstractEventLoop) -> None:
    """In the database thread: batch after batch while calls wait (at most
    MAX_BATCHES_A_HOP), each batch's answers sent to the loop as soon as it is done, so
    the thread goes on to the next without waiting for the loop to hand it over. Each
    call runs in its caller's language; what a batch publishes goes with its answers,
    for the loop to publish after them (`Batcher.answer`)."""
    calls.hops += 1
    for _ in range(MAX_BATCHES_A_HOP):
        batch = calls.take()
        if not batch:
            return
        with published_together(keep=True) as events:
            outcomes = _run_each(batch)
        calls.running = []
        loop.call_soon_threadsafe(calls.answer, batch, outcomes, events)


def _run_each(batch: list[_Call]) -> list[tuple[bool, Any]]:
    outcomes: list[tuple[bool, Any] | None] = [None] * len(batch)
    for i, call in enumerate(batch):
        if outcomes[i] is not None:
            continue
        if call.together:
            group = [j for j in range(i, len(batch)) if batch[j].func is call.func]
            for j, outcome in zip(group, _run_together(call.func, batch, group), strict=True):
                outcomes[j] = outcome
            continue
        try:
            with translation.override(call.language):
                outcomes[i] = (True, call.func(*call.args))
        except Exception as exc:
            outcomes[i] = (False, exc)
            close_old_connections()
    return outcomes  # type: ignore[return-value]


def _run_together(func: Callable[..., Any], batch: list[_Call], group: list[int]) -> list:
    try:
        results = func([(batch[j].language, batch[j].args) for j in group])
    except Exception as exc:
        close_old_connections()
        return [(False, exc)] * len(group)
    outcomes = [(not isinstance(r, Exception), r) for r in results]
    if not all(ok for ok, _ in outcomes):
        close_old_connections()
    return outcomes


# Made once: wrapping a function costs about 6 µs, a hop's worth of the work per batch.
_run_in_db_thread = database_sync_to_async(_run_batches)

_batchers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def batcher() -> Batcher:
    """The running loop's batcher."""
    loop = asyncio.get_running_loop()
    found = _batchers.get(loop)
    if found is None:
        found = _batchers[loop] = Batcher()
    return found


def batched(func: Callable[..., Any]) -> Callable[..., Any]:
    """`database_sync_to_async`, batched: decorate a sync function that uses the database."""

    @functools.wraps(func)
    async def call(*args: Any) -> Any:
        return await batcher().call(func, *args)

    return call


def batched_together(func: Callable[[list[tuple[str | None, tuple]]], list[Any]]):
    """Like `batched`, but the calls of one batch go to `func` at once, as a list of each
    caller's (language, args); it returns each one's result or exception, in that order."""

    @functools.wraps(func)
    async def call(*args: Any) -> Any:
        return await batcher().call(func, *args, together=True)

    return call
