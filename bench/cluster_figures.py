"""What the cluster scenario measured: its steps, the reference steps' figures, each
configuration's run (bench/cluster.py takes them, bench/report.py prints them)."""

import statistics
from dataclasses import dataclass, field

from .loadgen import StepResult
from .private_redis import RedisUse
from .search import best
from .servers import LogReport

LIMIT_MS = 200.0


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
    reference_steps: dict[float, list[ClusterStep]] = field(default_factory=dict)  # by rate

    def reference(self, rate: float) -> Reference | None:
        """The reference steps at `rate`, if every message of one reached every member."""
        reference = Reference(self.reference_steps.get(rate, []))
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
