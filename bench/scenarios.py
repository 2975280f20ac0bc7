"""The bench's scenarios: fan-out to one room, sustained persisted sends, the storm.

Each starts its own server (so no scenario inherits another's memory or backlog), warms
it up with a few library clients, measures, stops it, and scans its log.
"""

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path

from tests.support import free_port

from . import fixtures, probe, procfs, storm
from .environment import parley_env
from .fixtures import RoomFixture
from .loadgen import ClosedLoopResult, LoadGenerator, StepResult
from .search import SearchPlan, search
from .servers import LogReport, ServerKind, running_server

WARM_SOCKETS = 8
SETTLE_IDLE_CORES = 0.15
SETTLE_TIMEOUT = 45.0


@dataclass(frozen=True)
class Target:
    key: str
    label: str
    kind: ServerKind
    redis: bool = False


TARGETS = {
    t.key: t
    for t in (
        Target("ceiling", "ceiling (websockets broadcast)", "ceiling"),
        Target("tutorial", "tutorial consumer, in-memory layer", "tutorial"),
        Target("parley-mem", "Parley, in-memory layer", "parley"),
        Target("parley-redis", "Parley, Redis layer", "parley", redis=True),
    )
}


@dataclass(frozen=True)
class Plan:
    """What one invocation measures, and how long it may take."""

    sizes: tuple[int, ...]
    targets: tuple[str, ...]
    senders: int
    receiver_procs: int
    step_seconds: float
    drain_seconds: float
    low_rate_seconds: float
    search: SearchPlan
    persist_databases: tuple[str, ...]  # "sqlite", "postgres", "postgres-noreuse"
    persist_senders: int
    persist_seconds: float
    storm_sockets: int  # 0: no storm
    storm_concurrency: int
    budget_seconds: float


@dataclass
class Context:
    """What scenarios share in one invocation."""

    workdir: Path
    say: Callable[[str], None]
    deadline: float
    steps: count = field(default_factory=lambda: count(1))

    def prefix(self, name: str) -> str:
        return f"parleybench{os.getpid()}-{name}"


@dataclass
class FanoutResult:
    target: Target
    members: int
    kib_per_socket: float
    connect_seconds: float
    low_rate: StepResult
    steps: list[StepResult]
    log: LogReport
    warm_ok: bool


@dataclass
class PersistResult:
    database: str
    result: ClosedLoopResult
    stored: int
    warm_acks: int
    log: LogReport

    @property
    def all_stored(self) -> bool:
        return self.stored == self.warm_acks + self.result.acks


def settle(pid: int, timeout: float = SETTLE_TIMEOUT) -> None:
    """Wait until the server has worked off any backlog (it is nearly idle)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = procfs.cpu_seconds(pid)
        time.sleep(0.3)
        if (procfs.cpu_seconds(pid) - before) / 0.3 < SETTLE_IDLE_CORES:
            return


def run_fanout(
    ctx: Context, target: Target, room: RoomFixture, database_url: str, plan: Plan
) -> FanoutResult:
    """Idle memory, one message at a time, then the rate search, on a fresh server."""
    members = len(room.cookies)
    name = f"{target.key}-{members}"
    port = free_port()
    prefix = ctx.prefix(name) if target.redis else None
    env = parley_env(database_url, port=port, redis_prefix=prefix)
    try:
        with running_server(name, target.kind, env, ctx.workdir, port) as server:
            pid = server.pid
            warm = probe.exchange(server.url, server.origin, room.cookies[:WARM_SOCKETS], room.id)
            if not warm.ok:
                ctx.say(f"  warm-up with the websockets client FAILED: {warm}")
            settle(pid)
            rss_before = procfs.rss_kib(pid)
            with LoadGenerator(room.cookies, plan.senders, plan.receiver_procs) as gen:
                connected = gen.connect(server.url, server.origin)
                if connected.failed:
                    raise RuntimeError(
                        f"{name}: {connected.failed} sockets failed to open: {connected.failures}"
                    )
                settle(pid)
                time.sleep(0.5)
                kib = (procfs.rss_kib(pid) - rss_before) / members
                ctx.say(
                    f"{name}: {members} sockets open in {connected.seconds:.1f}s, "
                    f"{kib:.1f} KiB each"
                )

                def run_step(rate: float) -> StepResult:
                    settle(pid)
                    reopened = gen.connect(server.url, server.origin)
                    if reopened.opened or reopened.failed:
                        ctx.say(
                            f"  reopened {reopened.opened} sockets the server had closed "
                            f"({reopened.failed} failed)"
                        )
                    result = gen.step(
                        [pid], next(ctx.steps), room.id, rate, plan.step_seconds, plan.drain_seconds
                    )
                    ctx.say(f"  {result.line()}")
                    return result

                settle(pid)
                low = gen.step([pid], next(ctx.steps), room.id, 1.0, plan.low_rate_seconds,
                               plan.drain_seconds)  # fmt: skip
                ctx.say(f"  1 msg/s: {low.line()}")
                steps = search(run_step, members, plan.search, ctx.deadline)
                settle(pid)  # closing sockets with sends still queued is another test (storm)
                gen.close()
            log = server.log()
    finally:
        if prefix:
            storm.forget(prefix)
    return FanoutResult(target, members, kib, connected.seconds, low, steps, log, warm.ok)


def run_persist(
    ctx: Context, label: str, rooms: list[RoomFixture], database_url: str, plan: Plan,
    conn_max_age: int | None = None,
) -> PersistResult:  # fmt: skip
    """Many senders, each in a room of its own so fan-out stays out of the figure: each
    sends, waits for the ack, sends again. Sustained acked (committed) sends/s."""
    port = free_port()
    # The Redis layer, as in production: the publish after commit is part of a send.
    env = parley_env(
        database_url, port=port, redis_prefix=ctx.prefix(label), conn_max_age=conn_max_age
    )
    cookies = [room.cookies[0] for room in rooms]
    with running_server(f"persist-{label}", "parley", env, ctx.workdir, port) as server:
        warm = probe.exchange(server.url, server.origin, cookies[:1], rooms[0].id)
        settle(server.pid)
        with LoadGenerator(cookies, len(cookies), 0) as gen:
            connected = gen.connect(server.url, server.origin)
            if connected.failed:
                raise RuntimeError(f"persist {label}: sockets failed: {connected.failures}")
            result = gen.closed_loop(
                [server.pid], next(ctx.steps), [room.id for room in rooms], plan.persist_seconds
            )
            settle(server.pid)
            gen.close()
        log = server.log()
    storm.forget(ctx.prefix(label))
    counts = fixtures.count_messages(parley_env(database_url), [room.id for room in rooms])
    outcome = PersistResult(label, result, sum(counts.values()), warm.acks, log)
    ctx.say(
        f"persist {label}: {result.acks_per_s:.0f} acked sends/s from {result.senders} senders, "
        f"ack p50 {result.ack_p50_ms:.1f} p99 {result.ack_p99_ms:.1f} ms, errors "
        f"{result.errors + result.timeouts}, stored {outcome.stored} (= warm-up {warm.acks} + "
        f"acked {result.acks}: {outcome.all_stored}), server {result.server_cpu_s:.1f} CPU s"
    )
    return outcome


def run_storm(ctx: Context, room: RoomFixture, database_url: str, plan: Plan) -> storm.StormResult:
    """The storm on Parley with Redis; then look for leftovers."""
    port = free_port()
    prefix = ctx.prefix("storm")
    env = parley_env(database_url, port=port, redis_prefix=prefix)
    try:
        with running_server("storm", "parley", env, ctx.workdir, port) as server:
            probe.exchange(server.url, server.origin, room.cookies[:2], room.id)
            rounds, sent = storm.run_storm(
                server.url, server.origin, room.id, room.cookies[0],
                room.cookies[1 : 1 + plan.storm_sockets], plan.storm_concurrency,
            )  # fmt: skip
            for r in rounds:
                ctx.say(
                    f"storm {r.how}: {r.opened} opened, {r.failed} failed, "
                    f"{r.abandoned} abandoned mid-handshake, {r.seconds:.1f}s {r.failures}"
                )
            settle(server.pid)
            time.sleep(1.0)
            stale = storm.subscriptions(prefix)
            after = probe.exchange(server.url, server.origin, room.cookies[-2:], room.id)
            time.sleep(0.5)
            stale_after_probe = storm.subscriptions(prefix)
            log = server.log()
    finally:
        storm.forget(prefix)
    result = storm.StormResult(
        rounds=rounds,
        sent=sent,
        stale_subscriptions={**stale, **stale_after_probe},
        tracebacks=log.tracebacks,
        errors=log.errors,
        log_samples=log.samples,
        healthy_after=after.ok,
    )
    ctx.say(
        f"storm: stale subscriptions {result.stale_subscriptions}, tracebacks {log.tracebacks}, "
        f"errors {log.errors}, healthy after: {after.ok}, {log.samples[:2]}"
    )
    return result
