"""The cluster scenario: 1 and N workers behind nginx, side by side, each on PostgreSQL
and a Redis of its own.

Capacity for people who outgrow one process. Each configuration runs exactly as
`make cluster` does (config/cluster.py: `config.serve` workers with `--proxy-headers`
on loopback ports, Debian's nginx in front with deploy/nginx.conf.template), on a
PostgreSQL database and a redis-server of its own (bench/private_redis.py), with every
socket opened through its proxy. Two workloads, both connected throughout:

- **small rooms**: many rooms of a few members (100 rooms of 5); each room's first
  member sends to it, open loop, the rate spread evenly over the rooms. Each message is
  a committed send and a handful of deliveries, so this is the send path's capacity.
- **large room**: one room of hundreds, 10 of its members sending: the fan-out's.

Each workload first runs a few steps at one fixed reference rate, the same in every
configuration, the two configurations taking turns step by step (so the machine's
drifting load falls on both alike): CPU per delivery and Redis commands per message are
compared there, never at rates that differ (a process's CPU per event falls as its rate
rises and events share wake-ups and writes). Then each configuration in turn climbs a
geometric ladder of rates for the most deliveries/s at p99 <= 200 ms.
Worker CPU is the workers' own (user+sys from /proc, summed), so the load generator,
nginx, PostgreSQL and Redis sharing the machine's cores do not enter it; nginx's CPU
and Redis's (its own INFO counters, read around each step) are reported beside it.
"""

import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from config.cluster import (
    BODY_SLACK,
    WORKER_ENV,
    nginx_binary,
    proxy_command,
    proxy_config,
    worker_command,
)
from tests.support import ServerProcess, free_port, start_server

from . import databases, fixtures, probe, procfs
from .cluster_figures import ClusterRun, ClusterStep, Workload, counted, refreshed
from .environment import HOST, parley_env, server_root
from .fixtures import RoomFixture
from .loadgen import LoadGenerator, StepResult
from .private_redis import PrivateRedis, RedisCounters, running_redis
from .scenarios import SETTLE_TIMEOUT, Context, settle
from .search import SearchPlan, search
from .servers import STARTUP_TIMEOUT, LogReport

BODY_MAX = 10 * 1024 * 1024 + BODY_SLACK  # nginx's body cap, as for the default upload limit
ACCEPTED = '"WebSocket /ws/" [accepted]'  # what a worker logs for each socket it takes
WARM_SOCKETS = 4


@dataclass(frozen=True)
class ClusterPlan:
    """What the cluster scenario measures, and how long it may take."""

    workers: int  # N, measured against 1
    small_rooms: int
    small_size: int
    large_size: int
    large_senders: int
    receiver_procs: int  # per workload
    step_seconds: float
    drain_seconds: float
    small_reference: float  # messages/s, all rooms together, for the 1-vs-N comparison
    large_reference: float
    reference_steps: int  # measured, each without a presence refresh in its window
    reference_drain_seconds: float  # long: a backlog on a busy machine still drains
    reference_warmup: int  # unmeasured steps at the reference rate first
    reference_retries: int  # steps more, at most, for those a refresh fell in
    small_search: SearchPlan  # deliveries/s, as bench.search counts them
    large_search: SearchPlan
    budget_seconds: float  # for the searches of one repetition (1 worker, then N)


@dataclass(frozen=True)
class Rooms:
    small: list[RoomFixture]
    large: RoomFixture


@dataclass(frozen=True)
class RunningCluster:
    url: str
    origin: str
    workers: list[ServerProcess]
    proxy: ServerProcess

    @property
    def worker_pids(self) -> list[int]:
        return [w.pid for w in self.workers]

    def proxy_pids(self) -> list[int]:
        """nginx's master and its worker processes."""
        return [self.proxy.pid, *procfs.children(self.proxy.pid)]

    def sockets_per_worker(self) -> list[int]:
        return [w.log.read_text(errors="replace").count(ACCEPTED) for w in self.workers]

    def logs(self) -> list[LogReport]:
        return [LogReport.scan(w.log.read_text(errors="replace")) for w in self.workers]


@contextlib.contextmanager
def running_cluster(
    workers: int, env: dict[str, str], port: int, directory: Path
) -> Iterator[RunningCluster]:
    """`workers` workers (config.cluster's command) behind nginx on `port`, all stopped
    by their pids on the way out, the workers first (as `make cluster` does)."""
    nginx = nginx_binary()
    if nginx is None:
        raise RuntimeError("nginx is not installed (make services installs Debian's)")
    directory.mkdir(parents=True)
    started: list[ServerProcess] = []
    proxy: ServerProcess | None = None
    ready = lambda status, body: status < 500  # noqa: E731 (as bench.servers: any answer)
    try:
        ports = [free_port() for _ in range(workers)]
        for index, worker_port in enumerate(ports):
            started.append(
                start_server(
                    worker_command(worker_port),
                    name=f"worker-{index + 1}",
                    port=worker_port,
                    env={**env, **WORKER_ENV},
                    log=directory / f"worker-{index + 1}.log",
                    cwd=server_root.path,
                )
            )
        for worker in started:
            worker.wait_ready(ready, STARTUP_TIMEOUT)
        listen = f"{HOST}:{port}"
        config = proxy_config(
            listen=listen, ports=ports, run_dir=directory, body_max=BODY_MAX, as_this_user=True
        )
        (directory / "nginx.conf").write_text(config)
        proxy = start_server(
            proxy_command(nginx, directory),
            name="nginx",
            port=port,
            env=dict(os.environ),
            log=directory / "nginx.log",
        )
        proxy.wait_ready(ready, STARTUP_TIMEOUT)
        yield RunningCluster(f"ws://{listen}/ws/", f"http://{listen}", started, proxy)
    finally:
        for process in [*started, proxy]:
            if process is not None:
                process.stop()


def make_rooms(database_url: str, plan: ClusterPlan) -> Rooms:
    names = {f"cluster-small-{i}": plan.small_size for i in range(plan.small_rooms)}
    made = fixtures.make_rooms(
        parley_env(database_url), {**names, "cluster-large": plan.large_size}
    )
    return Rooms([made[name] for name in names], made["cluster-large"])


def small_generator(rooms: Rooms, plan: ClusterPlan) -> LoadGenerator:
    """Each small room's first member sends (the sender process holds them all)."""
    owners = [room.cookies[0] for room in rooms.small]
    others = [c for room in rooms.small for c in room.cookies[1:]]
    room_ids = [room.id for room in rooms.small]
    others_rooms = [room.id for room in rooms.small for _ in room.cookies[1:]]
    return LoadGenerator(
        owners + others, len(owners), plan.receiver_procs, rooms=room_ids + others_rooms
    )


def large_generator(rooms: Rooms, plan: ClusterPlan) -> LoadGenerator:
    cookies = rooms.large.cookies
    return LoadGenerator(
        cookies, plan.large_senders, plan.receiver_procs, rooms=[rooms.large.id] * len(cookies)
    )


@dataclass(frozen=True)
class Backing:
    """One configuration's PostgreSQL database, Redis and rooms, kept across repetitions:
    the two configurations run side by side, so neither sees the other's messages,
    presence refreshes or Redis counters."""

    database_url: str
    redis: PrivateRedis
    rooms: Rooms


class Configuration:
    """One configuration running: its cluster, every socket open through the proxy, and
    its workloads' steps so far."""

    def __init__(
        self,
        ctx: Context,
        plan: ClusterPlan,
        cluster: RunningCluster,
        redis: PrivateRedis,
        generators: dict[str, LoadGenerator],
        rooms: Rooms,
    ) -> None:
        self.ctx, self.plan, self.cluster, self.rooms = ctx, plan, cluster, rooms
        self.workers = len(cluster.workers)
        self.client = redis.client()
        self.generators = generators
        self.workloads = {name: Workload(name) for name in generators}
        self.load = os.getloadavg()
        self.spread = cluster.sockets_per_worker()

    @classmethod
    @contextlib.contextmanager
    def started(
        cls, ctx: Context, plan: ClusterPlan, workers: int, backing: Backing, name: str
    ) -> Iterator["Configuration"]:
        """Start the cluster and open every socket through the proxy."""
        port = free_port()
        env = parley_env(
            backing.database_url,
            port=port,
            redis_prefix=ctx.prefix(name),
            conn_max_age=60,  # as .env.example recommends for production
            redis_url=backing.redis.url,
        )
        rooms = backing.rooms
        with (
            running_cluster(workers, env, port, ctx.workdir / name) as cluster,
            small_generator(rooms, plan) as small_gen,
            large_generator(rooms, plan) as large_gen,
        ):
            for warm_room in (rooms.small[0], rooms.large):
                warm = probe.exchange(
                    cluster.url, cluster.origin, warm_room.cookies[:WARM_SOCKETS], warm_room.id
                )
                if not warm.ok:
                    ctx.say(f"  warm-up through the proxy FAILED: {warm}")
            pids = cluster.worker_pids
            began, cpu0 = time.monotonic(), procfs.total_cpu_seconds(pids)
            for gen in (small_gen, large_gen):
                opened = gen.connect(cluster.url, cluster.origin)
                if opened.failed:
                    raise RuntimeError(f"{opened.failed} sockets failed to open: {opened.failures}")
            configuration = cls(
                ctx, plan, cluster, backing.redis, {"small": small_gen, "large": large_gen}, rooms
            )
            opening = procfs.total_cpu_seconds(pids) - cpu0
            spread = configuration.spread
            ctx.say(
                f"{workers} worker(s): sockets per worker {spread}, opened in "
                f"{time.monotonic() - began:.1f}s, workers' CPU {opening:.1f}s "
                f"({opening / max(1, sum(spread)) * 1e3:.1f} ms a socket)"
            )
            try:
                yield configuration
            finally:
                configuration.client.close()

    def step(
        self, name: str, rate: float, *, reference: bool = False, warmup: bool = False
    ) -> StepResult:
        """One step of workload `name` at `rate` messages/s, with what the proxy and Redis
        spent around it, kept as a reference step, a search step, or (warm-up) not."""
        plan, cluster, gen, into = (
            self.plan,
            self.cluster,
            self.generators[name],
            self.workloads[name],
        )
        room = self.rooms.large.id if name == "large" else None
        drain = plan.reference_drain_seconds if reference or warmup else plan.drain_seconds
        pids = cluster.worker_pids
        settle_all(pids)
        reopened = gen.connect(cluster.url, cluster.origin)
        if reopened.opened or reopened.failed:
            self.ctx.say(f"  reopened {reopened.opened} sockets ({reopened.failed} failed)")
        redis0 = RedisCounters.read(self.client)
        proxy0 = procfs.total_cpu_seconds(cluster.proxy_pids())
        step = gen.step(pids, next(self.ctx.steps), room, rate, plan.step_seconds, drain)
        proxy_cpu = procfs.total_cpu_seconds(cluster.proxy_pids()) - proxy0
        measured = ClusterStep(step, proxy_cpu, RedisCounters.read(self.client).since(redis0))
        if warmup:
            kind = "warm-up (not counted)"
        else:
            (into.reference_steps.setdefault(rate, []) if reference else into.steps).append(
                measured
            )
            kind = "reference" if reference else "search"
        if reference and not counted(measured):
            why = "a presence refresh fell in it" if refreshed(measured) else "late"
            kind += f" ({why}: not counted)"
        self.ctx.say(f"  {self.workers}w {name} {kind}: {step.line()} | {redis_line(measured)}")
        return step

    def wants_reference(self, name: str, rate: float) -> bool:
        """Fewer than the plan's counted reference steps at `rate` so far."""
        steps = self.workloads[name].reference_steps.get(rate, [])
        return sum(map(counted, steps)) < self.plan.reference_steps

    def search(self, budget: float) -> None:
        """Both workloads' ladders, half the budget each (what the first leaves, the second
        may use)."""
        deadline = time.monotonic() + budget
        half = time.monotonic() + budget / 2
        plan = self.plan
        search(lambda rate: self.step("small", rate), plan.small_size, plan.small_search, half)
        search(lambda rate: self.step("large", rate), plan.large_size, plan.large_search, deadline)

    def result(self) -> ClusterRun:
        settle_all(self.cluster.worker_pids)
        for gen in self.generators.values():
            gen.close()
        return ClusterRun(
            self.workers,
            self.load,
            self.spread,
            self.workloads["small"],
            self.workloads["large"],
            self.cluster.logs(),
        )


def settle_all(pids: list[int]) -> None:
    deadline = time.monotonic() + SETTLE_TIMEOUT
    for pid in pids:
        settle(pid, max(1.0, deadline - time.monotonic()))


def redis_line(step: ClusterStep) -> str:
    calls = ", ".join(f"{c} {n:.2f}" for c, n in list(step.calls_per_message().items())[:3])
    us = step.redis_us_per_message
    return (
        f"acks {step.step.acks_per_s:.0f}/s, redis {'-' if us is None else f'{us:.1f}'} us "
        f"{step.redis_ops_per_message:.2f} ops/msg ({calls}; periodic {step.redis.periodic_ops}), "
        f"proxy {step.proxy_ms_per_1k:.1f} ms/1k del"
    )


def run_cluster(
    ctx: Context, plan: ClusterPlan, repeat: int
) -> list[tuple[ClusterRun, ClusterRun]]:
    """1 worker and N, side by side, `repeat` times; each pair is one repetition.

    The two take their reference steps in turn, seconds apart, so both meet the same
    machine: on a busy one the load drifts over the minutes a configuration takes, and
    when one ran after the other the ratio of their CPU per delivery swung with it."""
    pairs: list[tuple[ClusterRun, ClusterRun]] = []
    widths = (1, plan.workers)
    references = (("small", plan.small_reference), ("large", plan.large_reference))
    with contextlib.ExitStack() as backings:
        backing: dict[int, Backing] = {}
        for workers in widths:
            pg = backings.enter_context(
                databases.postgres_database(f"parley_bench_cluster_{os.getpid()}_{workers}w")
            )
            (ctx.workdir / f"redis-{workers}w").mkdir(parents=True)
            redis = backings.enter_context(running_redis(ctx.workdir / f"redis-{workers}w"))
            databases.migrate(pg)
            backing[workers] = Backing(pg, redis, make_rooms(pg, plan))
        ctx.say(
            f"cluster: {plan.small_rooms} rooms of {plan.small_size} and one of "
            f"{plan.large_size}, for each configuration its own PostgreSQL database and Redis"
        )
        for r in range(repeat):
            ctx.say(
                f"--- cluster, run {r + 1} of {repeat}: 1 and {plan.workers} workers, load "
                + " ".join(f"{x:.2f}" for x in os.getloadavg())
            )
            with contextlib.ExitStack() as running:
                both = [
                    running.enter_context(
                        Configuration.started(
                            ctx, plan, workers, backing[workers], f"cluster-{workers}w-{r + 1}"
                        )
                    )
                    for workers in widths
                ]
                one, many = both
                for name, rate in references:
                    # Both at the same total rate, and one worker at 1/N of it: the same
                    # rate per worker as each of the N (report.py, cluster_comparison).
                    turns = [(one, rate / plan.workers), (many, rate), (one, rate)]
                    for _ in range(plan.reference_warmup):
                        for configuration, at in turns:
                            configuration.step(name, at, warmup=True)
                    for _ in range(plan.reference_steps + plan.reference_retries):
                        if not any(c.wants_reference(name, at) for c, at in turns):
                            break
                        for configuration, at in turns:
                            configuration.step(name, at, reference=True)
                for configuration in both:
                    configuration.search(plan.budget_seconds / 2)
                pairs.append((one.result(), many.result()))
    return pairs
