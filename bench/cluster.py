"""The cluster scenario: 1 and N workers behind nginx, on PostgreSQL and a Redis of its own.

Capacity for people who outgrow one process. Each configuration runs exactly as
`make cluster` does (config/cluster.py: `config.serve` workers with `--proxy-headers`
on loopback ports, Debian's nginx in front with deploy/nginx.conf.template), on a
PostgreSQL database of the run's own and a redis-server of the run's own
(bench/private_redis.py), with every socket opened through the proxy. Two workloads,
both connected throughout:

- **small rooms**: many rooms of a few members (100 rooms of 5); each room's first
  member sends to it, open loop, the rate spread evenly over the rooms. Each message is
  a committed send and a handful of deliveries, so this is the send path's capacity.
- **large room**: one room of hundreds, 10 of its members sending: the fan-out's.

Each workload first runs a few steps at one fixed reference rate, the same in every
configuration: CPU per delivery and Redis commands per message are compared there,
never at rates that differ (a process's CPU per event falls as its rate rises and
events share wake-ups and writes). Then it climbs a geometric ladder of rates for the
most deliveries/s at p99 <= 200 ms.
Worker CPU is the workers' own (user+sys from /proc, summed), so the load generator,
nginx, PostgreSQL and Redis sharing the machine's cores do not enter it; nginx's CPU
and Redis's (its own INFO counters, read around each step) are reported beside it.
"""

import contextlib
import os
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
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
from .environment import HOST, parley_env, server_root
from .fixtures import RoomFixture
from .loadgen import LoadGenerator, StepResult
from .private_redis import PrivateRedis, RedisCounters, RedisUse, running_redis
from .scenarios import SETTLE_TIMEOUT, Context, settle
from .search import SearchPlan, best, search
from .servers import STARTUP_TIMEOUT, LogReport

BODY_MAX = 10 * 1024 * 1024 + BODY_SLACK  # nginx's body cap, as for the default upload limit
ACCEPTED = '"WebSocket /ws/" [accepted]'  # what a worker logs for each socket it takes
LIMIT_MS = 200.0
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
class ClusterStep:
    """One step, with what the proxy and Redis spent around it."""

    step: StepResult
    proxy_cpu_s: float
    redis: RedisUse

    @property
    def worker_ms_per_1k(self) -> float:
        """Workers' CPU per 1,000 deliveries, in ms (= µs per delivery)."""
        return self.step.cpu_us_per_delivery

    @property
    def proxy_ms_per_1k(self) -> float:
        return self.proxy_cpu_s / self.step.deliveries * 1e6 if self.step.deliveries else 0.0

    @property
    def redis_ops_per_message(self) -> float:
        return self.redis.message_ops / self.step.acks if self.step.acks else 0.0

    @property
    def redis_us_per_message(self) -> float | None:
        cpu = self.redis.message_cpu_s
        return cpu / self.step.acks * 1e6 if cpu is not None and self.step.acks else None

    def calls_per_message(self) -> dict[str, float]:
        return calls_per_message([self])


def calls_per_message(steps: list[ClusterStep]) -> dict[str, float]:
    """Redis calls per acked message, by command, the most frequent first."""
    acks = sum(s.step.acks for s in steps)
    calls: dict[str, int] = {}
    for s in steps:
        for command, n in s.redis.message_calls.items():
            calls[command] = calls.get(command, 0) + n
    if not acks:
        return {}
    return {c: calls[c] / acks for c in sorted(calls, key=calls.get, reverse=True)}


def refreshed(step: ClusterStep) -> bool:
    """Whether a worker's heads round and presence refresh fell in the step's window: a
    cost per socket every PARLEY_HEADS_INTERVAL, not per message, that lands in one
    window and not the next (seen in Redis: the refresh's script calls)."""
    return step.redis.periodic_ops > 0


def counted(step: ClusterStep) -> bool:
    """A reference step whose CPU per delivery counts: every message reached every member
    within the drain (else its deliveries are short and its CPU per delivery wrong), and
    no refresh fell in it."""
    return step.step.complete and not refreshed(step)


@dataclass(frozen=True)
class Reference:
    """The steps at the reference rate. Worker CPU is the median of the counted steps'
    own figures (those with every message delivered and no refresh; all the complete
    ones if a refresh fell in each): one step the machine slowed does not move it, nor
    does where a refresh happened to land."""

    steps: list[ClusterStep]

    @property
    def complete(self) -> bool:
        """Some step delivered every message to every member."""
        return any(s.step.complete for s in self.steps)

    @property
    def p99_ms(self) -> float:
        return max(s.step.p99_ms for s in self.clean)

    @property
    def clean(self) -> list[ClusterStep]:
        return [s for s in self.steps if counted(s)] or [s for s in self.steps if s.step.complete]

    @property
    def worker_ms_per_1k(self) -> float:
        return statistics.median(s.worker_ms_per_1k for s in self.clean)

    @property
    def worker_us_per_message(self) -> float:
        return statistics.median(s.step.server_cpu_s / s.step.sent * 1e6 for s in self.clean)

    @property
    def messages(self) -> int:
        return sum(s.step.sent for s in self.steps)

    @property
    def redis_ops_per_message(self) -> float:
        return sum(s.redis.message_ops for s in self.steps) / sum(s.step.acks for s in self.steps)

    @property
    def redis_us_per_message(self) -> float | None:
        """Over the steps without a presence refresh in their window (None if none was)."""
        clean = [s for s in self.steps if s.redis.message_cpu_s is not None]
        acks = sum(s.step.acks for s in clean)
        return sum(s.redis.cpu_s for s in clean) / acks * 1e6 if acks else None

    def calls_per_message(self) -> dict[str, float]:
        return calls_per_message(self.steps)


@dataclass
class Workload:
    """One workload's steps in one configuration."""

    name: str
    steps: list[ClusterStep] = field(default_factory=list)  # the search's
    reference_steps: list[ClusterStep] = field(default_factory=list)

    @property
    def reference(self) -> Reference | None:
        """The reference steps, if every message of each reached every member."""
        reference = Reference(self.reference_steps)
        return reference if reference.complete else None

    @property
    def best(self) -> ClusterStep | None:
        """The passing step (p99 <= 200 ms, nothing lost) with the most deliveries/s."""
        top = best([s.step for s in self.steps], LIMIT_MS)
        return next((s for s in self.steps if s.step is top), None)


@dataclass
class ClusterRun:
    """One configuration: `workers` behind the proxy, both workloads."""

    workers: int
    load: tuple[float, float, float]  # the machine's load average as it started
    sockets_per_worker: list[int]
    small: Workload
    large: Workload
    logs: list[LogReport]

    def workload(self, name: str) -> Workload:
        return self.small if name == "small" else self.large


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


def run_configuration(
    ctx: Context,
    workers: int,
    rooms: Rooms,
    database_url: str,
    redis: PrivateRedis,
    plan: ClusterPlan,
    budget: float,
    name: str,
) -> ClusterRun:
    """Start the cluster, open every socket through the proxy, search both workloads."""
    port = free_port()
    env = parley_env(
        database_url,
        port=port,
        redis_prefix=ctx.prefix(name),
        conn_max_age=60,  # as .env.example recommends for production
        redis_url=redis.url,
    )
    load = os.getloadavg()
    client = redis.client()
    with running_cluster(workers, env, port, ctx.workdir / name) as cluster:
        pids = cluster.worker_pids
        for warm_room in (rooms.small[0], rooms.large):
            warm = probe.exchange(
                cluster.url, cluster.origin, warm_room.cookies[:WARM_SOCKETS], warm_room.id
            )
            if not warm.ok:
                ctx.say(f"  warm-up through the proxy FAILED: {warm}")
        small, large = Workload("small"), Workload("large")
        with small_generator(rooms, plan) as small_gen, large_generator(rooms, plan) as large_gen:
            began, cpu0 = time.monotonic(), procfs.total_cpu_seconds(pids)
            for gen in (small_gen, large_gen):
                opened = gen.connect(cluster.url, cluster.origin)
                if opened.failed:
                    raise RuntimeError(f"{opened.failed} sockets failed to open: {opened.failures}")
            spread = cluster.sockets_per_worker()
            opening = procfs.total_cpu_seconds(pids) - cpu0
            ctx.say(
                f"{workers} worker(s): sockets per worker {spread}, opened in "
                f"{time.monotonic() - began:.1f}s, workers' CPU {opening:.1f}s "
                f"({opening / max(1, sum(spread)) * 1e3:.1f} ms a socket)"
            )
            # The searches' time starts now: opening the sockets is not what is measured.
            deadline = time.monotonic() + budget

            def stepper(gen: LoadGenerator, room: int | None, into: Workload):
                def run_step(
                    rate: float, *, reference: bool = False, warmup: bool = False
                ) -> StepResult:
                    drain = (
                        plan.reference_drain_seconds if reference or warmup else plan.drain_seconds
                    )
                    settle_all(pids)
                    reopened = gen.connect(cluster.url, cluster.origin)
                    if reopened.opened or reopened.failed:
                        ctx.say(f"  reopened {reopened.opened} sockets ({reopened.failed} failed)")
                    redis0 = RedisCounters.read(client)
                    proxy0 = procfs.total_cpu_seconds(cluster.proxy_pids())
                    step = gen.step(pids, next(ctx.steps), room, rate, plan.step_seconds, drain)
                    proxy_cpu = procfs.total_cpu_seconds(cluster.proxy_pids()) - proxy0
                    measured = ClusterStep(
                        step, proxy_cpu, RedisCounters.read(client).since(redis0)
                    )
                    if warmup:
                        kind = "warm-up (not counted)"
                    else:
                        (into.reference_steps if reference else into.steps).append(measured)
                        kind = "reference" if reference else "search"
                    if reference and not counted(measured):
                        why = "a presence refresh fell in it" if refreshed(measured) else "late"
                        kind += f" ({why}: not counted)"
                    ctx.say(f"  {into.name} {kind}: {step.line()} | {redis_line(measured)}")
                    return step

                return run_step

            small_step = stepper(small_gen, None, small)
            large_step = stepper(large_gen, rooms.large.id, large)
            for _ in range(plan.reference_warmup):
                small_step(plan.small_reference, warmup=True)
                large_step(plan.large_reference, warmup=True)
            for workload, step, rate in (
                (small, small_step, plan.small_reference),
                (large, large_step, plan.large_reference),
            ):
                for _ in range(plan.reference_steps + plan.reference_retries):
                    if sum(map(counted, workload.reference_steps)) >= plan.reference_steps:
                        break
                    step(rate, reference=True)
            half = time.monotonic() + (deadline - time.monotonic()) / 2
            search(small_step, plan.small_size, plan.small_search, half)
            search(large_step, plan.large_size, plan.large_search, deadline)
            settle_all(pids)
            small_gen.close()
            large_gen.close()
        logs = cluster.logs()
    client.close()
    return ClusterRun(workers, load, spread, small, large, logs)


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
    """1 worker, then N, `repeat` times (alternating, so both meet the same drift); each
    pair is one repetition."""
    pairs: list[tuple[ClusterRun, ClusterRun]] = []
    with (
        databases.postgres_database(f"parley_bench_cluster_{os.getpid()}") as pg,
        running_redis(ctx.workdir) as redis,
    ):
        databases.migrate(pg)
        rooms = make_rooms(pg, plan)
        ctx.say(
            f"cluster: {plan.small_rooms} rooms of {plan.small_size} and one of "
            f"{plan.large_size} on PostgreSQL; Redis of its own at {redis.url}"
        )
        runs = [(r, n) for r in range(repeat) for n in (1, plan.workers)]
        done: list[ClusterRun] = []
        for r, workers in runs:
            ctx.say(
                f"--- cluster, {workers} worker(s), run {r + 1} of {repeat}, load "
                + " ".join(f"{x:.2f}" for x in os.getloadavg())
            )
            run = run_configuration(
                ctx, workers, rooms, pg, redis, plan, plan.budget_seconds / 2,
                f"cluster-{workers}w-{r + 1}",
            )  # fmt: skip
            done.append(run)
            if len(done) == 2:
                pairs.append((done[0], done[1]))
                done = []
    return pairs
