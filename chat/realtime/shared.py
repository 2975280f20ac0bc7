"""Reads that sockets arriving together need alike, done once in one database hop.

After a worker dies or the network blips, every tab of every user connects again at
once: each reads its session, its user's room ids and `hello` state, then fetches what
it missed, and the ten tabs of one person ask exactly the same. Here such reads wait
while the database thread is busy; then all that waited go over in one hop, and reads
with the same key (a session, a user's hello, a page of a room) run once for all their
callers. Idle, a read goes alone at once: sharing never waits for company.

Sharing is only ever with reads that had not started when the caller asked, so a
socket never gets an answer older than its own subscriptions (the consumer subscribes
first, then reads: what commits after the read arrives live). A caller may bring a
`guard`, run for it alone before the shared read (its access check, its budget): a
guard that fails fails that caller only, as does any failure of one read its group.
"""

import asyncio
import copy
import weakref
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from channels.db import database_sync_to_async
from django.db import close_old_connections
from django.utils import translation

MAX_GROUPS = 32  # distinct reads per hop; the rest take the next one


type Check = tuple[Hashable, Callable[[], Any]]


@dataclass
class _Caller:
    guard: Callable[[], Any] | None
    check: Check | None
    future: asyncio.Future


@dataclass
class _Group:
    language: str | None
    func: Callable[..., Any]
    args: tuple
    callers: list[_Caller] = field(default_factory=list)


class SharedReads:
    """The reads waiting for the database thread, from one event loop."""

    def __init__(self) -> None:
        self.waiting: dict[Hashable, _Group] = {}
        self.task: asyncio.Task | None = None
        self.hops = 0  # trips to the database thread
        self.reads = 0  # reads run there
        self.callers = 0  # callers answered by them

    async def read(
        self,
        key: Hashable,
        func: Callable[..., Any],
        *args: Any,
        guard: Callable[[], Any] | None = None,
        check: Check | None = None,
    ) -> Any:
        """`func(*args)` on the database thread, shared with the callers of the same key
        waiting for the same hop; first, there too, `guard()` for this caller alone, and
        `check` = (its key, a function) once for the callers with that key in the group.
        Equal keys must mean equal answers: a key names everything its answer depends on."""
        loop = asyncio.get_running_loop()
        language = translation.get_language()
        key = (language, key)
        group = self.waiting.get(key)
        if group is None:
            group = self.waiting[key] = _Group(language, func, args)
        future = loop.create_future()
        group.callers.append(_Caller(guard, check, future))
        if self.task is None:
            self.task = loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        groups: list[_Group] = []
        try:
            while self.waiting:
                keys = list(self.waiting)[:MAX_GROUPS]
                groups = [self.waiting.pop(key) for key in keys]
                for group in groups:  # callers gone meanwhile (a closed socket)
                    group.callers = [c for c in group.callers if not c.future.done()]
                groups = [group for group in groups if group.callers]
                if not groups:
                    continue
                self.hops += 1
                self.reads += len(groups)
                self.callers += sum(len(group.callers) for group in groups)
                outcomes = await database_sync_to_async(_run_groups)(groups)
                for group, answers in zip(groups, outcomes, strict=True):
                    for caller, (ok, value) in zip(group.callers, answers, strict=True):
                        if caller.future.done():
                            continue
                        if ok:
                            caller.future.set_result(value)
                        else:
                            caller.future.set_exception(value)
                groups = []
        except asyncio.CancelledError:
            self._fail(groups, RuntimeError("the database read was cut off"))
            raise
        except Exception as exc:  # the hop itself failed: its callers hear why
            self._fail(groups, exc)
        finally:
            self.task = None

    def _fail(self, groups: list[_Group], exc: Exception) -> None:
        for group in [*groups, *self.waiting.values()]:
            for caller in group.callers:
                if not caller.future.done():
                    caller.future.set_exception(exc)
        self.waiting = {}


def _run_groups(groups: list[_Group]) -> list[list[tuple[bool, Any]]]:
    """In the database thread: per group, each caller's guard and check, then the read
    once for those that passed. A failure may leave a broken connection: it is replaced
    before the next, as a hop of its own would."""
    outcomes = []
    for group in groups:
        with translation.override(group.language):
            checked: dict[Hashable, Exception | None] = {}
            answers: list[tuple[bool, Any] | None] = []
            for caller in group.callers:
                try:
                    if caller.guard is not None:
                        caller.guard()
                    if caller.check is not None:
                        _check(caller.check, checked)
                    answers.append(None)
                except Exception as exc:
                    answers.append((False, exc))
                    close_old_connections()
            if any(answer is None for answer in answers):
                try:
                    shared = (True, group.func(*group.args))
                except Exception as exc:
                    shared = (False, exc)
                    close_old_connections()
                answers = [_own(shared) if answer is None else answer for answer in answers]
        outcomes.append(answers)
    return outcomes


def _own(outcome: tuple[bool, Any]) -> tuple[bool, Any]:
    """A caller's outcome of the shared read: a failure as its own copy (a caller may add
    its ids to the error it gets); an answer as is (shared, never changed)."""
    ok, value = outcome
    return outcome if ok else (False, copy.copy(value))


def _check(check: Check, checked: dict[Hashable, Exception | None]) -> None:
    """Run the check unless one with its key already ran in this group; raise what it
    raised (a copy: a caller may add its own ids to the error it gets)."""
    key, func = check
    if key not in checked:
        try:
            func()
            checked[key] = None
        except Exception as exc:
            checked[key] = exc
            raise
        return
    if (failed := checked[key]) is not None:
        raise copy.copy(failed)


_by_loop: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def reads() -> SharedReads:
    """The running loop's shared reads."""
    loop = asyncio.get_running_loop()
    found = _by_loop.get(loop)
    if found is None:
        found = _by_loop[loop] = SharedReads()
    return found
