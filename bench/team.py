"""The team scenario: a thousand people, two tabs each, in the rooms a team has.

`bench.team_shape` draws the team (200 group rooms of 5–20, direct rooms, one room of
500) and its Poisson mix of sends, edits, reactions, typing and reads;
`bench.team_fixtures` makes it in the database; `bench.team_gen` opens every tab as a
real WebSocket client and plays the events. On each backend — in-memory (SQLite and the
in-process bus) and on Redis (PostgreSQL and the Redis bus), one server process each —
it measures a few steps at the team's ordinary rate (`reference_rate`: p50/p99 of
delivery, by kind too), then climbs bench.search's ladder for the most deliveries/s at
p99 <= 200 ms with every frame delivered. Server CPU per delivery, and the generator's
beside it, come from /proc. Afterwards the database must hold exactly the acked sends.
"""

import contextlib
import os
import random
import statistics
import time
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from tests.support import free_port

from . import databases, fixtures, probe, storm
from .environment import parley_env
from .report import _table
from .scenarios import Context, settle
from .search import SearchPlan, search
from .servers import LogReport, running_server
from .team_fixtures import make_team
from .team_gen import TeamGenerator, TeamStep
from .team_shape import KINDS, Schedule, Team, TeamSize, make_shape

LIMIT_MS = 200.0
# Budgets per person, as the bench's SEND_RATE: flood control must not decide the
# figures. Edits stay allowed on the seeds however long the run takes.
TEAM_ENV = {
    "PARLEY_LIMIT_EDIT": "100000,1",
    "PARLEY_LIMIT_REACT": "100000,1",
    "PARLEY_LIMIT_TYPING": "100000,1",
    "PARLEY_LIMIT_READ": "100000,1",
    "PARLEY_EDIT_WINDOW": "0",
}
BACKENDS = {
    "memory": "in-memory (SQLite, in-process bus)",
    "redis": "Redis (PostgreSQL, Redis bus)",
}


@dataclass(frozen=True)
class TeamPlan:
    size: TeamSize
    backends: tuple[str, ...]
    gen_procs: int
    step_seconds: float
    drain_seconds: float
    reference_rate: float  # events/s: the team's ordinary day
    reference_steps: int
    search: SearchPlan  # deliveries/s, as bench.search counts them
    budget_seconds: float  # for one backend's search in one run
    seed: int = 16


@dataclass
class TeamResult:
    backend: str
    run: int
    load: tuple[float, float, float]
    connect_seconds: float
    reference: list[TeamStep]
    steps: list[TeamStep]
    messages_sent: int = 0
    acks: int = 0  # in their step's window or after it
    received: int = 0  # frames in their step's window, every step (the warm-up's too)
    expected: int = 0
    late_frames: int = 0  # delivered after their step's drain (or outside any step)
    stored: int = 0
    log: LogReport | None = None
    failures: list[str] = field(default_factory=list)

    @property
    def every_step(self) -> list[TeamStep]:
        return self.reference + self.steps

    @property
    def best(self) -> TeamStep | None:
        """The passing step (p99 <= 200 ms, every frame delivered) with the most del/s."""
        passing = [s for s in self.every_step if s.step.ok(LIMIT_MS)]
        return max(passing, key=lambda s: s.step.deliveries_per_s, default=None)

    @property
    def typical(self) -> TeamStep | None:
        """The reference step with the median p99."""
        steps = sorted(self.reference, key=lambda s: s.step.p99_ms)
        return steps[len(steps) // 2] if steps else None

    @property
    def delivered(self) -> tuple[int, int]:
        """(received, expected) over every step, the warm-up's too; frames that came
        after their step's drain count as received (late, not lost)."""
        return self.received + self.late_frames, self.expected

    @property
    def sane(self) -> bool:
        got, want = self.delivered
        return not self.failures and self.messages_sent == self.acks == self.stored and got == want


@dataclass
class Backing:
    """One backend's database, made once, and the schedule's memory of what it holds."""

    key: str
    database_url: str
    team: Team
    schedule: Schedule


@contextlib.contextmanager
def backing(ctx: Context, plan: TeamPlan, key: str) -> Iterator[Backing]:
    with contextlib.ExitStack() as stack:
        if key == "memory":
            directory = ctx.workdir / "team-memory"
            directory.mkdir(exist_ok=True)
            url = databases.sqlite_url(directory)
        else:
            url = stack.enter_context(
                databases.postgres_database(f"parley_bench_team_{os.getpid()}")
            )
        databases.migrate(url)
        rng = random.Random(plan.seed)
        started = time.monotonic()
        team = make_team(parley_env(url), plan.size, make_shape(plan.size, rng))
        ctx.say(
            f"team {key}: {plan.size.users} people, {len(team.rooms)} rooms, "
            f"{sum(map(len, team.seeds))} seed messages, made in {time.monotonic() - started:.0f}s"
        )
        yield Backing(key, url, team, Schedule(team, rng))


def stored(backing_: Backing) -> int:
    env = parley_env(backing_.database_url)
    return sum(fixtures.count_messages(env, backing_.team.room_ids).values())


def run_backend(ctx: Context, plan: TeamPlan, back: Backing, run: int) -> TeamResult:
    """A fresh server on the backend: open every tab, reference steps, the search."""
    team, port = back.team, free_port()
    name = f"team-{back.key}-{run}"
    prefix = ctx.prefix(name) if back.key == "redis" else None
    # On PostgreSQL, connections kept as .env.example recommends for production.
    reuse = 60 if back.key == "redis" else None
    env = parley_env(back.database_url, port=port, redis_prefix=prefix, conn_max_age=reuse)
    env.update(TEAM_ENV)
    before = stored(back)
    result = TeamResult(back.key, run, os.getloadavg(), 0.0, [], [])
    try:
        with running_server(name, "parley", env, ctx.workdir, port) as server:
            pid = server.pid
            group = team.rooms.index(next(r for r in team.rooms if r.kind == "group"))
            warm_cookies = [team.cookies[u] for u in team.rooms[group].members[:4]]
            warm = probe.exchange(server.url, server.origin, warm_cookies, team.room_ids[group])
            if not warm.ok:
                ctx.say(f"  warm-up with the websockets client FAILED: {warm}")
            settle(pid)
            with TeamGenerator(team, plan.gen_procs) as gen:
                opened = gen.connect(server.url, server.origin)
                if opened.failed:
                    raise RuntimeError(f"{opened.failed} sockets failed: {opened.failures}")
                result.connect_seconds = opened.seconds
                ctx.say(f"{name}: {team.sockets} sockets open in {opened.seconds:.1f}s")

                def step(rate: float, into: list[TeamStep]) -> TeamStep:
                    settle(pid)
                    reopened = gen.connect(server.url, server.origin)
                    if reopened.opened or reopened.failed:
                        ctx.say(f"  reopened {reopened.opened} ({reopened.failed} failed)")
                    events = back.schedule.step(rate, plan.step_seconds)
                    taken = gen.run_step(
                        [pid], next(ctx.steps), events, rate, plan.step_seconds,
                        plan.drain_seconds,
                    )  # fmt: skip
                    into.append(taken)
                    result.messages_sent += taken.messages_sent
                    result.acks += taken.step.acks + taken.late_acks
                    result.received += taken.step.deliveries
                    result.expected += taken.step.expected
                    result.late_frames += taken.step.stray
                    ctx.say(f"  {taken.line()}")
                    return taken

                step(plan.reference_rate, [])  # warm-up, not counted: first use of each room
                for _ in range(plan.reference_steps):
                    step(plan.reference_rate, result.reference)
                per_event = statistics.mean(
                    s.step.expected / max(1, s.step.scheduled) for s in result.reference
                ) if result.reference else 100.0  # fmt: skip
                deadline = min(ctx.deadline, time.monotonic() + plan.budget_seconds)
                search(lambda rate: step(rate, result.steps).step, per_event, plan.search, deadline)
                settle(pid)
                # A step of nothing collects what the last step's drain left behind.
                last = gen.run_step([pid], next(ctx.steps), [], 0.0, 0.0, 0.0)
                result.acks += last.late_acks
                result.late_frames += last.step.stray
                gen.close()
            result.log = server.log()
    finally:
        if prefix:
            storm.forget(prefix)
    result.stored = stored(back) - before - warm.acks
    return result


def run_team(ctx: Context, plan: TeamPlan, repeat: int) -> list[list[TeamResult]]:
    """Each run: every backend in turn on a fresh server; the databases are kept."""
    runs: list[list[TeamResult]] = []
    with contextlib.ExitStack() as stack:
        backs = [stack.enter_context(backing(ctx, plan, key)) for key in plan.backends]
        for r in range(repeat):
            runs.append([])
            for back in backs:
                ctx.say(f"--- team, {BACKENDS[back.key]}, run {r + 1} of {repeat}")
                try:
                    runs[-1].append(run_backend(ctx, plan, back, r + 1))
                except Exception as exc:  # the other backends and runs still count
                    ctx.say(f"team {back.key} FAILED:\n{traceback.format_exc()}")
                    failed = TeamResult(back.key, r + 1, os.getloadavg(), 0.0, [], [])
                    failed.failures.append(f"{type(exc).__name__}: {str(exc)[:300]}")
                    runs[-1].append(failed)
    return runs


# Reporting.


def _f(value: float | None, fmt: str = "{:,.0f}") -> str:
    return "-" if value is None else fmt.format(value)


def team_table(results: Sequence[TeamResult], ceiling: float | None) -> str:
    """One row per backend and run: the ordinary day, the capacity, the CPU, the checks."""
    rows = [
        [
            "backend (run)",
            "events/s",
            "del/s",
            "p50 ms",
            "p99 ms",
            "max del/s p99<=200",
            "x ceiling",
            "at events/s",
            "p99 ms",
            "server us/del",
            "gen us/del",
            "gen busiest",
            "machine",
            "sent=acked=stored",
            "received/expected",
            "late",
        ]
    ]
    for r in results:
        ref, top = r.typical, r.best
        got, want = r.delivered
        rows.append(
            [
                f"{BACKENDS[r.backend]} ({r.run})",
                _f(ref and ref.step.rate),
                _f(ref and ref.step.deliveries_per_s),
                _f(ref and ref.step.p50_ms, "{:.1f}"),
                _f(ref and ref.step.p99_ms, "{:.1f}"),
                _f(top and top.step.deliveries_per_s),
                _f(top and ceiling and top.step.deliveries_per_s / ceiling, "{:.2f}"),
                _f(top and top.step.rate),
                _f(top and top.step.p99_ms, "{:.1f}"),
                _f(top and top.step.cpu_us_per_delivery, "{:.1f}"),
                _f(top and top.gen_us_per_delivery, "{:.1f}"),
                _f(top and top.step.gen_cpu_max, "{:.0%}"),
                _f(top and top.step.machine_busy, "{:.0%}"),
                f"{r.messages_sent}/{r.acks}/{r.stored}",
                f"{got}/{want}",
                f"{r.late_frames}",
            ]
        )
    return _table(rows)


def kinds_table(results: Sequence[TeamResult]) -> str:
    """At the ordinary rate: each kind's events, deliveries and latency."""
    rows = [["backend (run)", *(f"{k} n/del p50/p99" for k in KINDS)]]
    for r in results:
        ref = r.typical
        if ref is None:
            continue
        rows.append(
            [f"{BACKENDS[r.backend]} ({r.run})"]
            + [
                f"{f.events}/{f.deliveries} {f.p50_ms:.0f}/{f.p99_ms:.0f}"
                for f in ref.kinds.values()
            ]
        )
    return _table(rows)


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def median_table(runs: Sequence[Sequence[TeamResult]], ceiling: float | None) -> str:
    rows = [["backend", "p50 ms", "p99 ms", "max del/s p99<=200", "x ceiling", "server us/del",
             "gen us/del", "runs checked"]]  # fmt: skip
    for key in BACKENDS:
        mine = [r for run in runs for r in run if r.backend == key]
        if not mine:
            continue
        refs, tops = [r.typical for r in mine], [r.best for r in mine]
        best = _median([t and t.step.deliveries_per_s for t in tops])
        rows.append(
            [
                BACKENDS[key],
                _f(_median([t and t.step.p50_ms for t in refs]), "{:.1f}"),
                _f(_median([t and t.step.p99_ms for t in refs]), "{:.1f}"),
                _f(best),
                _f(best and ceiling and best / ceiling, "{:.2f}"),
                _f(_median([t and t.step.cpu_us_per_delivery for t in tops]), "{:.1f}"),
                _f(_median([t and t.gen_us_per_delivery for t in tops]), "{:.1f}"),
                f"{sum(r.sane for r in mine)}/{len(mine)}",
            ]
        )
    return _table(rows)


def describe(plan: TeamPlan) -> str:
    s = plan.size
    return (
        f"team: {s.users} people x {s.tabs} tabs, {s.groups} group rooms of "
        f"{s.group_sizes[0]}-{s.group_sizes[1]}, {s.directs} direct rooms, 1 room of {s.big}; "
        f"Poisson events, reference {plan.reference_rate:g} events/s, steps of "
        f"{plan.step_seconds:g}s, {plan.gen_procs} generator processes"
    )


def report(runs: Sequence[Sequence[TeamResult]], plan: TeamPlan, ceiling: float | None) -> str:
    """Everything the team scenario prints; `ceiling`: the fan-out ceiling's max del/s at
    p99 <= 200 ms in this invocation (None when the fan-out sweep did not run)."""
    flat = [r for run in runs for r in run]
    lines = [
        "",
        describe(plan),
        "Team: reference-rate steps (median p99 of them), and the most del/s at p99 <= 200 ms"
        " with every frame delivered; x ceiling: against the fan-out ceiling "
        + (f"({ceiling:,.0f} del/s, this run)" if ceiling else "(not measured in this run)"),
        team_table(flat, ceiling),
        "",
        "Team at the reference rate, by kind (events/deliveries, p50/p99 ms):",
        kinds_table(flat),
    ]
    if len(runs) > 1:
        lines += ["", f"Team, medians of {len(runs)} runs:", median_table(runs, ceiling)]
    bad = [r for r in flat if not r.sane or (r.log is not None and not r.log.clean)]
    for r in flat:
        if r.failures:
            lines.append(f"team {r.backend} run {r.run} could not be measured: {r.failures}")
    for r in bad:
        lines.append(
            f"team {r.backend} run {r.run}: CHECK FAILED (sent/acked/stored "
            f"{r.messages_sent}/{r.acks}/{r.stored}, delivered {r.delivered}, "
            f"log {r.log.samples[:2] if r.log else '-'})"
        )
    return "\n".join(lines)


TEAM_FULL = TeamPlan(
    size=TeamSize(users=1000, tabs=2, groups=200, group_sizes=(5, 20), directs=500, big=500,
                  seeds=20),
    backends=("memory", "redis"),
    gen_procs=2,
    step_seconds=4.0,
    drain_seconds=8.0,
    reference_rate=50.0,  # each person does something every 20 s
    reference_steps=3,
    search=SearchPlan(start_deliveries=8000, factor=1.6, climb_steps=8, bisect_steps=2,
                      max_deliveries=400_000, limits_ms=(LIMIT_MS,)),
    budget_seconds=150,
)  # fmt: skip
TEAM_QUICK = TeamPlan(
    size=TeamSize(users=100, tabs=2, groups=20, group_sizes=(5, 20), directs=50, big=50,
                  seeds=20),
    backends=("memory",),
    gen_procs=2,
    step_seconds=1.5,
    drain_seconds=3.0,
    reference_rate=20.0,
    reference_steps=1,
    search=SearchPlan(start_deliveries=2000, factor=3.0, climb_steps=2, bisect_steps=0,
                      max_deliveries=400_000, limits_ms=(LIMIT_MS,)),
    budget_seconds=15,
)  # fmt: skip


def fanout_ceiling(fanout: Sequence[Sequence]) -> float | None:
    """The fan-out ceiling's most del/s at p99 <= 200 ms, largest room, median of runs."""
    found: list[float | None] = []
    for run in fanout:
        ceilings = [r for r in run if r.target.key == "ceiling"]
        if ceilings:
            top = max(ceilings, key=lambda r: r.members)
            passing = [s.deliveries_per_s for s in top.steps if s.ok(LIMIT_MS)]
            found.append(max(passing, default=None))
    return _median(found)
