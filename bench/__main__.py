"""Parley fan-out benchmark: `python -m bench` (~20 min) or `python -m bench --quick` (<1 min).

For N = 100 and 1,000 members of one room, it measures Parley (without and with Redis),
the Channels-tutorial baseline and a bare-broadcaster ceiling with the same load
generator in the same invocation: the highest deliveries/s at p99 <= 100 ms and <= 200 ms
with every message delivered, server CPU per delivery, p99 of one message at a time, and
idle memory per connection. Then sustained acked sends/s on SQLite and PostgreSQL, a
connect/disconnect storm, the reconnect storm (bench/reconnect.py: 1,000 tabs connect at
once and catch up, on SQLite and on PostgreSQL + Redis), the cluster scenario (1 and N
workers behind nginx, bench/cluster.py; `--cluster` runs it alone, `--quick --cluster` a
smaller smoke test of it), and the team scenario (1,000 people x 2 tabs, bench/team.py;
`--team` runs it alone beside the fan-out ceiling, `--quick --team` a team of 100; a plain
`--quick` skips it).
Progress goes to stderr; the tables to stdout. Loopback only.
"""

import argparse
import contextlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from . import databases, fixtures, reconnect, report, sends
from .cluster import ClusterPlan, run_cluster
from .cluster_figures import ClusterRun
from .environment import parley_env, server_root
from .scenarios import (
    TARGETS,
    Context,
    FanoutResult,
    PersistResult,
    Plan,
    run_fanout,
    run_persist,
    run_storm,
)
from .search import SearchPlan
from .storm import StormResult
from .team import TEAM_FULL, TEAM_QUICK, TeamPlan, fanout_ceiling, run_team
from .team import report as team_report

FULL = Plan(
    sizes=(100, 1000),
    targets=("ceiling", "tutorial", "parley-mem", "parley-redis"),
    senders=10,
    receiver_procs=2,
    step_seconds=4.0,
    drain_seconds=3.0,
    low_rate_seconds=5.0,
    search=SearchPlan(
        start_deliveries=2500, factor=2.0, climb_steps=9, bisect_steps=3, max_deliveries=400_000
    ),
    persist_databases=("sqlite", "postgres", "postgres-noreuse"),
    persist_senders=50,
    persist_seconds=8.0,
    storm_sockets=1000,
    storm_concurrency=100,
    budget_seconds=30 * 60,
)
QUICK = Plan(
    sizes=(100,),
    targets=("ceiling", "tutorial", "parley-mem"),
    senders=10,
    receiver_procs=2,
    step_seconds=1.5,
    drain_seconds=1.5,
    low_rate_seconds=1.5,
    search=SearchPlan(
        start_deliveries=3000, factor=3.0, climb_steps=5, bisect_steps=1, max_deliveries=400_000
    ),
    persist_databases=(),  # the sends scenario (bench/sends.py) measures sends on SQLite
    persist_senders=20,
    persist_seconds=2.5,
    storm_sockets=0,
    storm_concurrency=100,
    # What the sweep gets once the sends and the reconnect storm have their reserve: with
    # less, Parley's search had one step and the quick run read it as a target not met.
    budget_seconds=85,
)
CLUSTER_FULL = ClusterPlan(
    workers=max(2, os.cpu_count() or 1),
    small_rooms=100,
    small_size=5,
    large_size=500,
    large_senders=10,
    receiver_procs=2,
    step_seconds=3.0,
    drain_seconds=3.0,
    # The 1-vs-N comparison's rates: high enough that a worker's CPU per event is not
    # mostly the cost of waking for each one (at 1/N of the rate each of N workers pays
    # more per event: fewer events share a wake-up, a database hop, a publish).
    small_reference=200.0,
    large_reference=40.0,
    # Three measured steps each, after one not counted; a step a presence refresh fell in
    # is taken again (at most four times more).
    reference_steps=3,
    reference_drain_seconds=15.0,
    reference_warmup=1,
    reference_retries=4,
    # The ladders (rates offered) are the same for every configuration: 50, 100, 200…
    # messages/s into the small rooms, 10, 25, 62… into the large one.
    small_search=SearchPlan(
        start_deliveries=250, factor=2.0, climb_steps=7, bisect_steps=2, max_deliveries=50_000,
        limits_ms=(200.0,),
    ),
    large_search=SearchPlan(
        start_deliveries=5000, factor=2.5, climb_steps=6, bisect_steps=2, max_deliveries=400_000,
        limits_ms=(200.0,),
    ),
    budget_seconds=150,
)  # fmt: skip
CLUSTER_QUICK = ClusterPlan(
    workers=CLUSTER_FULL.workers,
    small_rooms=50,
    small_size=5,
    large_size=100,
    large_senders=10,
    receiver_procs=1,
    step_seconds=1.5,
    drain_seconds=1.5,
    small_reference=200.0,
    large_reference=40.0,
    reference_steps=1,
    reference_drain_seconds=10.0,
    reference_warmup=1,
    reference_retries=2,
    small_search=SearchPlan(
        start_deliveries=500, factor=3.0, climb_steps=2, bisect_steps=0, max_deliveries=50_000,
        limits_ms=(200.0,),
    ),
    large_search=SearchPlan(
        start_deliveries=2000, factor=4.0, climb_steps=2, bisect_steps=0, max_deliveries=400_000,
        limits_ms=(200.0,),
    ),
    budget_seconds=40,
)  # fmt: skip
# Time kept back from the fan-out searches for the persistence runs and the storm.
RESERVE_PER_PERSIST = 15.0
RESERVE_STORM = 60.0
# CONN_MAX_AGE per persistence run: SQLite as configured (Django's default, 0), PostgreSQL
# as .env.example recommends for production (60) and as settings default it (0).
PERSIST_RUNS = {"sqlite": None, "postgres": 60, "postgres-noreuse": 0}


def persist_rooms(label: str, senders: int) -> dict[str, int]:
    """One single-member room per sender (dict keeps the order)."""
    return {f"persist-{label}-{i}": 1 for i in range(senders)}


@contextlib.contextmanager
def failure_noted(name: str, failures: list[str]) -> Iterator[None]:
    """Run one scenario; if it fails, note why and go on with the others."""
    try:
        yield
    except Exception as exc:
        say(f"{name} FAILED:\n{traceback.format_exc()}")
        failures.append(f"{name}: {type(exc).__name__}: {str(exc)[:300]}")


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N=100, in-memory, a minute or two")
    parser.add_argument("--sizes", type=int, nargs="+", help="room sizes (default 100 1000)")
    parser.add_argument("--targets", nargs="+", choices=sorted(TARGETS), help="servers to measure")
    parser.add_argument("--no-persist", action="store_true", help="skip the sends/s runs")
    parser.add_argument("--no-storm", action="store_true", help="skip the storm")
    parser.add_argument(
        "--no-reconnect", action="store_true", help="skip the reconnect storm (bench/reconnect.py)"
    )
    parser.add_argument(
        "--sends", action="store_true", help="only the 50-room sends scenario (bench/sends.py)"
    )
    parser.add_argument("--no-sends", action="store_true", help="skip the 50-room sends scenario")
    parser.add_argument(
        "--cluster", action="store_true", help="only the cluster scenario (1 and N workers)"
    )
    parser.add_argument("--no-cluster", action="store_true", help="skip the cluster scenario")
    parser.add_argument(
        "--team",
        action="store_true",
        help="only the team scenario (1,000 people x 2 tabs; with --quick a team of 100), "
        "beside the fan-out ceiling (N=1000; --quick N=100); a full run includes it, a quick "
        "run skips it",
    )
    parser.add_argument("--no-team", action="store_true", help="skip the team scenario")
    parser.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help=f"the cluster's N, compared with 1 worker (default {CLUSTER_FULL.workers})",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="N",
        help="run the fan-out sweep N times and judge the targets on the medians (3 in the issue)",
    )
    parser.add_argument("--keep-logs", type=Path, help="copy the server logs to this directory")
    parser.add_argument(
        "--server-root", type=Path, help="measure the Parley tree at this path (another revision)"
    )
    return parser.parse_args()


def plan_from(args: argparse.Namespace) -> Plan:
    plan = QUICK if args.quick else FULL
    changes: dict = {}
    if args.sizes:
        changes["sizes"] = tuple(args.sizes)
    if args.targets:
        changes["targets"] = tuple(t for t in TARGETS if t in args.targets)
    if args.no_persist:
        changes["persist_databases"] = ()
    if args.no_storm:
        changes["storm_sockets"] = 0
    if args.cluster or args.sends:
        changes.update(sizes=(), persist_databases=(), storm_sockets=0)
    if args.team:  # the team's figures beside the ceiling's, measured in the same run
        changes.update(sizes=plan.sizes[-1:], targets=("ceiling",), persist_databases=(),
                       storm_sockets=0)  # fmt: skip
    return Plan(**{**plan.__dict__, **changes})


def team_plan_from(args: argparse.Namespace) -> TeamPlan | None:
    """The team scenario's plan: in a full run and with --team, not in a quick run."""
    only_other = (args.cluster or args.sends) and not args.team
    if args.no_team or (args.quick and not args.team) or only_other:
        return None
    return TEAM_QUICK if args.quick else TEAM_FULL


def cluster_plan_from(args: argparse.Namespace) -> ClusterPlan | None:
    """The cluster scenario's plan: in a full run and with --cluster, not in a quick run."""
    if args.no_cluster or args.sends or (args.quick and not args.cluster):
        return None
    plan = CLUSTER_QUICK if args.quick else CLUSTER_FULL
    if args.workers:
        plan = ClusterPlan(**{**plan.__dict__, "workers": args.workers})
    return plan


def revision(path: Path) -> str:
    """The git revision of a tree (a commit id in the path's name for an exported one)."""
    result = subprocess.run(
        ["git", "-C", str(path), "log", "-1", "--format=%h %s"], capture_output=True, text=True
    )
    status = ["git", "-C", str(path), "status", "--porcelain", "--", "chat", "config"]
    dirty = subprocess.run(status, capture_output=True, text=True).stdout.strip()
    if result.returncode != 0:
        return "not a git checkout"
    return result.stdout.strip()[:70] + (" + uncommitted changes" if dirty else "")


def header(plan: Plan, cluster: ClusterPlan | None, args: argparse.Namespace) -> str:
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    flags = [f for f, on in (("--quick", args.quick), ("--cluster", args.cluster),
                             ("--team", args.team), ("--sends", args.sends)) if on]  # fmt: skip
    if args.repeat > 1:
        flags.append(f"--repeat {args.repeat}")
    lines = [
        " ".join(["python -m bench", *flags]) + " · "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {platform.node()} · "
        f"{os.cpu_count()} CPUs · load {load} · Python {platform.python_version()}",
        f"server tree: {server_root.path.name}/ ({revision(server_root.path)})",
    ]
    if plan.sizes or plan.persist_databases:
        lines.append(
            f"servers: one process each, DEBUG=false, SQLite (WAL) for the fan-out runs, Redis "
            f"for the sends/s runs; generator: {plan.senders} open-loop senders + "
            f"{plan.receiver_procs} reader processes, steps of {plan.step_seconds:g}s"
        )
    if cluster is not None:
        lines.append(
            f"cluster: 1 and {cluster.workers} workers behind nginx, PostgreSQL and a Redis of "
            f"its own; {cluster.small_rooms} rooms of {cluster.small_size} (each room's owner "
            f"sending) and 1 room of {cluster.large_size} ({cluster.large_senders} sending), "
            f"open loop, steps of {cluster.step_seconds:g}s"
        )
    return "\n".join(lines)


def main() -> int:
    args = parse_args()
    if args.repeat < 1:
        raise SystemExit("--repeat must be at least 1")
    plan = plan_from(args)
    cluster_plan = None if args.team else cluster_plan_from(args)
    team_plan = team_plan_from(args)
    if cluster_plan is not None and cluster_plan.workers < 2:
        raise SystemExit("--workers must be at least 2 (it is compared with 1)")
    if args.server_root:
        server_root.path = args.server_root.resolve()
    started = time.monotonic()
    end = started + (0 if args.cluster else plan.budget_seconds) * args.repeat
    fanout: list[list[FanoutResult]] = [[] for _ in range(args.repeat)]
    persist: list[PersistResult] = []
    storm: StormResult | None = None
    reconnect_plan = (
        None
        if args.no_reconnect or args.cluster or args.team or args.sends
        else (reconnect.QUICK if args.quick else reconnect.FULL)
    )
    reconnects: list[reconnect.ReconnectRun] = []
    cluster: list[tuple[ClusterRun, ClusterRun]] = []
    team: list = []
    sends_plan = sends.QUICK if args.quick else sends.FULL
    if args.no_sends or args.cluster or args.team:
        sends_plan = None
    sent: list[sends.SendsResult] = []
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="parley-bench-") as tmp:
        workdir = Path(tmp)
        ctx = Context(workdir=workdir, say=say, deadline=end)
        try:
            sqlite = databases.sqlite_url(workdir)
            rooms = {f"{t}-{n}": n for n in plan.sizes for t in plan.targets}
            if "sqlite" in plan.persist_databases:
                rooms.update(persist_rooms("sqlite", plan.persist_senders))
            if plan.storm_sockets:
                rooms["storm"] = plan.storm_sockets + 1
            if sends_plan is not None and "sqlite" in sends_plan.databases:
                rooms.update(sends.room_names("sqlite"))
            made = {}
            if rooms:
                databases.migrate(sqlite)
                made = fixtures.make_rooms(parley_env(sqlite), rooms)
                say(f"database ready: {sum(rooms.values())} users in {len(rooms)} rooms")

            reserve = RESERVE_PER_PERSIST * len(plan.persist_databases)
            reserve += RESERVE_STORM if plan.storm_sockets else 0
            reserve += reconnect.RESERVE_SECONDS[args.quick] if reconnect_plan else 0
            if sends_plan is not None:
                reserve += sends.reserve(sends_plan) * len(sends_plan.databases) * args.repeat
            # Each run is a whole sweep, so that every server meets the same drift.
            runs = [(r, n, t) for r in range(args.repeat) for n in plan.sizes for t in plan.targets]
            for i, (r, n, key) in enumerate(runs):
                share = (end - reserve - time.monotonic()) / (len(runs) - i)
                ctx.deadline = time.monotonic() + max(share, 5.0)
                say(f"--- {key}, N={n}" + (f" (run {r + 1} of {args.repeat})" if r else ""))
                with failure_noted(f"{key} N={n}", failures):
                    result = run_fanout(ctx, TARGETS[key], made[f"{key}-{n}"], sqlite, plan)
                    fanout[r].append(result)

            for label in plan.persist_databases:
                say(f"--- sustained sends, {label}")
                names = persist_rooms(label, plan.persist_senders)
                if label == "sqlite":
                    rooms_ = [made[name] for name in names]
                    with failure_noted(f"sends/s {label}", failures):
                        persist.append(run_persist(ctx, label, rooms_, sqlite, plan))
                    continue
                with (
                    failure_noted(f"sends/s {label}", failures),
                    databases.postgres_database() as pg,
                ):
                    databases.migrate(pg)
                    made_pg = fixtures.make_rooms(parley_env(pg), names)
                    rooms_ = [made_pg[name] for name in names]
                    persist.append(run_persist(ctx, label, rooms_, pg, plan, PERSIST_RUNS[label]))

            if sends_plan is not None:
                with failure_noted("sends", failures):
                    sent = sends.run_all(
                        ctx, sends_plan, args.repeat, sqlite, made, databases.postgres_database
                    )

            if plan.storm_sockets:
                say(f"--- storm, {plan.storm_sockets} sockets, Redis layer")
                with failure_noted("storm", failures):
                    storm = run_storm(ctx, made["storm"], sqlite, plan)

            if reconnect_plan is not None:
                say(f"--- reconnect storm, {reconnect_plan.sockets} tabs")
                with failure_noted("reconnect storm", failures):
                    reconnects = reconnect.run(
                        reconnect_plan, workdir, args.repeat, say, ctx.prefix("reconnect"),
                        sqlite=sqlite if rooms else None,
                    )  # fmt: skip

            if cluster_plan is not None:
                with failure_noted("cluster", failures):
                    cluster = run_cluster(ctx, cluster_plan, args.repeat)

            if team_plan is not None:
                ctx.deadline = time.monotonic() + 3600
                with failure_noted("team", failures):
                    team = run_team(ctx, team_plan, args.repeat)
        finally:
            if args.keep_logs:
                args.keep_logs.mkdir(parents=True, exist_ok=True)
                for log in workdir.glob("*.log"):
                    shutil.copy(log, args.keep_logs / log.name)

    print(header(plan, cluster_plan, args))
    for r, run in enumerate(fanout if plan.sizes else []):
        print(f"\nRun {r + 1} of {args.repeat}." if args.repeat > 1 else "")
        print(report.fanout_table(run))
    if args.repeat > 1 and plan.sizes:
        print()
        print(report.median_table(fanout))
    if persist:
        print()
        print(report.persist_table(persist))
    if sent:
        print()
        print(sends.sends_table(sent))
    if storm is not None:
        print()
        print(report.storm_lines(storm))
    if reconnects and reconnect_plan is not None:
        print()
        print(reconnect.table(reconnects, reconnect_plan))
    problems = [
        f"{r.target.key}-{r.members}: {r.log.samples[:2]}"
        for run in fanout
        for r in run
        if not r.log.clean
    ]
    problems += [f"persist {p.database}: {p.log.samples[:2]}" for p in persist if not p.log.clean]
    problems += [f"sends {r.database}: {r.log.samples[:2]}" for r in sent if not r.log.clean]
    problems += [
        f"cluster {run.workers} worker(s): {log.samples[:2]}"
        for pair in cluster
        for run in pair
        for log in run.logs
        if not log.clean
    ]
    if problems:
        print("\nserver logs with tracebacks or errors:\n" + "\n".join(problems))
    if failures:
        print("\nscenarios that could not be measured:\n" + "\n".join(failures))
    if cluster and cluster_plan is not None:
        print("\nCluster: each configuration's best step (most del/s at p99 <= 200 ms).")
        print(report.cluster_table([run for pair in cluster for run in pair], cluster_plan))
        print()
        print(report.cluster_comparison(cluster, cluster_plan))
    if team and team_plan is not None:
        print(team_report(team, team_plan, fanout_ceiling(fanout)))
    if plan.sizes and not args.team:
        print()
        print(report.targets(fanout, storm))
    print(f"\ntotal {time.monotonic() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
