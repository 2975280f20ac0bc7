"""The tables `python -m bench` prints, and the check against the issue's targets."""

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from .cluster import ClusterPlan
from .cluster_figures import ClusterRun
from .loadgen import StepResult
from .scenarios import FanoutResult, PersistResult
from .search import best
from .storm import StormResult

GEN_SATURATED = 0.9  # a generator process busier than this share of a core
MACHINE_SATURATED = 0.95


def _table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        cells = [
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _num(value: float | None, fmt: str = "{:,.0f}") -> str:
    return "-" if value is None or math.isinf(value) else fmt.format(value)


def _ratio(value: float | None, ceiling: float | None) -> str:
    if value is None or not ceiling or math.isinf(value) or math.isinf(ceiling):
        return "-"
    return f"{value / ceiling:.2f}"


@dataclass(frozen=True)
class Row:
    """The figures of one fan-out scenario that the table and the targets use."""

    result: FanoutResult

    @property
    def best100(self) -> StepResult | None:
        return best(self.result.steps, 100.0)

    @property
    def best200(self) -> StepResult | None:
        return best(self.result.steps, 200.0)

    @property
    def max100(self) -> float | None:
        return self.best100.deliveries_per_s if self.best100 else None

    @property
    def max200(self) -> float | None:
        return self.best200.deliveries_per_s if self.best200 else None

    @property
    def cpu_us(self) -> float | None:
        """Server CPU per delivery at the highest passing step (p99 ≤ 100 ms, else 200 ms)."""
        step = self.best100 or self.best200
        return step.cpu_us_per_delivery if step else None

    @property
    def lost_below_saturation(self) -> int:
        """Deliveries missing in steps offered no more than the best passing (200 ms) rate."""
        top = self.best200.rate if self.best200 else 0.0
        steps = [self.result.low_rate, *(s for s in self.result.steps if s.rate <= top)]
        return sum(s.expected - s.deliveries for s in steps)

    @property
    def generator_bound(self) -> bool:
        """Did the generator or the machine run out of CPU around the measured maximum?"""
        steps = [s for s in (self.best100, self.best200) if s is not None]
        above = [s for s in self.result.steps if self.best200 and s.rate > self.best200.rate]
        if above:
            steps.append(min(above, key=lambda s: s.rate))
        return any(
            s.gen_cpu_max > GEN_SATURATED or s.machine_busy > MACHINE_SATURATED for s in steps
        )


def fanout_table(results: Sequence[FanoutResult]) -> str:
    rows = [Row(r) for r in results]
    ceilings = {r.result.members: r for r in rows if r.result.target.key == "ceiling"}
    header = (
        "server", "N", "del/s p99<=100ms", "x ceil", "del/s p99<=200ms", "x ceil",
        "CPU us/del", "x ceil", "p99 1 msg/s", "lost", "KiB/conn",
    )  # fmt: skip
    table = [header]
    for row in rows:
        r = row.result
        ceiling = ceilings.get(r.members)
        low = r.low_rate
        table.append((
            r.target.label + (" *" if row.generator_bound else ""),
            f"{r.members:,}",
            _num(row.max100),
            _ratio(row.max100, ceiling.max100 if ceiling else None),
            _num(row.max200),
            _ratio(row.max200, ceiling.max200 if ceiling else None),
            _num(row.cpu_us, "{:.1f}"),
            _ratio(row.cpu_us, ceiling.cpu_us if ceiling else None),
            f"{low.p99_ms:.1f} ms",
            f"{low.expected - low.deliveries}",
            f"{r.kib_per_socket:.1f}",
        ))  # fmt: skip
    notes = [
        "del/s: messages delivered per second, every receiving socket counted, at the highest "
        "measured rate whose p99 end-to-end latency met the limit with nothing lost.",
        "CPU us/del: server process CPU (user+sys, /proc) per delivery at that step. "
        "p99 1 msg/s / lost: one message at a time to the whole room.",
    ]
    if any(row.generator_bound for row in rows):
        notes.append(
            "* the generator or the machine was CPU-saturated around the maximum: that "
            "maximum is a lower bound, and ratios against it are optimistic."
        )
    return _table(table) + "\n" + "\n".join(notes)


def persist_table(results: Sequence[PersistResult]) -> str:
    table = [
        ("database", "senders", "acked sends/s", "ack p50", "ack p99", "errors", "stored = acked")
    ]
    for p in results:
        r = p.result
        table.append((
            p.database, str(r.senders), f"{r.acks_per_s:,.0f}", f"{r.ack_p50_ms:.1f} ms",
            f"{r.ack_p99_ms:.1f} ms", str(r.errors + r.timeouts),
            "yes" if p.all_stored else f"NO ({p.stored} stored)",
        ))  # fmt: skip
    return _table(table)


def storm_lines(result: StormResult) -> str:
    rounds = "; ".join(
        f"{r.how}: {r.opened} opened, {r.failed} failed"
        + (f", {r.abandoned} abandoned mid-handshake" if r.abandoned else "")
        + f" ({r.seconds:.1f}s)"
        for r in result.rounds
    )
    return (
        f"{rounds}\n"
        f"stale subscriptions after: {len(result.stale_subscriptions)}; "
        f"server tracebacks: {result.tracebacks}; ERROR lines: {result.errors}; "
        f"served a new client after: "
        f"{'yes' if result.healthy_after else 'NO'}"
        + (f"\nfirst log lines: {result.log_samples[:2]}" if result.log_samples else "")
    )


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "NOT met")


def _over(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _median(values: Sequence[float | None]) -> float | None:
    known = sorted(v for v in values if v is not None and not math.isinf(v))
    return statistics.median(known) if known else None


def _spread(values: Sequence[float | None], fmt: str, unit: str = "") -> str:
    """The median and, over several runs, each run's value: `0.84 x (0.80/0.84/0.90)`."""
    middle = _num(_median(values), fmt) + unit
    if len(values) < 2:
        return middle
    return f"{middle} ({'/'.join(_num(v, fmt) for v in values)})"


def _ratios(rows: list[Row], ceilings: list[Row | None], figure: str) -> list[float | None]:
    return [
        _over(getattr(row, figure), getattr(ceil, figure) if ceil else None)
        for row, ceil in zip(rows, ceilings, strict=True)
    ]


def median_table(runs: Sequence[Sequence[FanoutResult]]) -> str:
    """One row per server and size: the median over the runs of each figure; ratios are
    taken within each run (against that run's ceiling), then their median is shown."""
    header = (
        "server", "N", "del/s p99<=100ms", "x ceil", "del/s p99<=200ms", "x ceil",
        "CPU us/del", "x ceil", "p99 1 msg/s", "lost", "KiB/conn",
    )  # fmt: skip
    table = [header]
    keys = list(dict.fromkeys((r.target.key, r.members) for run in runs for r in run))
    for key, members in keys:
        rows, ceilings = [], []
        for run in runs:
            by_key = {(r.target.key, r.members): Row(r) for r in run}
            if (key, members) in by_key:
                rows.append(by_key[(key, members)])
                ceilings.append(by_key.get(("ceiling", members)))

        first = rows[0].result
        table.append((
            first.target.label,
            f"{members:,}",
            _num(_median([row.max100 for row in rows])),
            _spread(_ratios(rows, ceilings, "max100"), "{:.2f}"),
            _num(_median([row.max200 for row in rows])),
            _spread(_ratios(rows, ceilings, "max200"), "{:.2f}"),
            _num(_median([row.cpu_us for row in rows]), "{:.1f}"),
            _spread(_ratios(rows, ceilings, "cpu_us"), "{:.2f}"),
            _spread([row.result.low_rate.p99_ms for row in rows], "{:.1f}", " ms"),
            str(sum(row.result.low_rate.expected - row.result.low_rate.deliveries for row in rows)),
            _num(_median([row.result.kib_per_socket for row in rows]), "{:.1f}"),
        ))  # fmt: skip
    return f"Medians of {len(runs)} runs.\n" + _table(table)


def targets(runs: Sequence[Sequence[FanoutResult]], storm: StormResult | None) -> str:
    """Each of the issue's targets, met or not: the median over the runs of each run's
    own figure (a ratio is taken within its run), with each run's value beside it."""
    by_run = [{(r.target.key, r.members): Row(r) for r in run} for run in runs]
    lines: list[tuple[str, str, str]] = [("target", "measured", "verdict")]

    def add(name, figure, test, unit=" x", fmt="{:.2f}", shown=None) -> None:
        """One line: `figure(rows of a run)` per run, judged on the median by `test`."""
        values = [figure(rows) for rows in by_run]
        if all(v is None for v in values):
            return
        middle = _median(values)
        measured = shown(values) if shown else _spread(values, fmt, unit)
        lines.append((name, measured, _verdict(None if middle is None else test(middle))))

    def max_at(row: Row, limit: int) -> float | None:
        return row.max100 if limit == 100 else row.max200

    def vs_ceiling(key, n, limit):
        def figure(rows):
            row, ceil = rows.get((key, n)), rows.get(("ceiling", n))
            return _over(max_at(row, limit), max_at(ceil, limit)) if row and ceil else None

        return figure

    def cpu_vs_ceiling(key, n):
        def figure(rows):
            row, ceil = rows.get((key, n)), rows.get(("ceiling", n))
            return _over(row.cpu_us, ceil.cpu_us) if row and ceil else None

        return figure

    def of_row(key, n, value):
        def figure(rows):
            row = rows.get((key, n))
            return value(row) if row else None

        return figure

    for key in ("parley-mem", "parley-redis"):
        for n, limit, need in ((100, 100, 0.5), (1000, 200, 0.4)):
            name = f"{key} N={n}: max del/s at p99<={limit}ms >= {need} x ceiling"
            add(name, vs_ceiling(key, n, limit), lambda v, need=need: v >= need)
        for n in (100, 1000):
            name = f"{key} N={n}: CPU per delivery <= 2.5 x ceiling's"
            add(name, cpu_vs_ceiling(key, n), lambda v: v <= 2.5)
        add(
            f"{key} N=1000: 1 msg/s reaches all with p99 <= 100 ms",
            of_row(key, 1000, lambda row: row.result.low_rate.p99_ms),
            lambda v: v <= 100,
            " ms",
            "{:.1f}",
        )
        for n in (100, 1000):
            add(
                f"{key} N={n}: idle memory <= 27 KiB/conn",
                of_row(key, n, lambda row: row.result.kib_per_socket),
                lambda v: v <= 27,
                " KiB",
                "{:.1f}",
            )
            add(
                f"{key} N={n}: nothing lost below saturation",
                of_row(key, n, lambda row: float(row.lost_below_saturation)),
                lambda v: v == 0,
                shown=lambda values: f"{sum(v or 0 for v in values):.0f} lost",
            )
    for n, limit in ((100, 100), (1000, 200)):

        def redis_vs_memory(rows, n=n, limit=limit):
            mem, red = rows.get(("parley-mem", n)), rows.get(("parley-redis", n))
            return _over(max_at(red, limit), max_at(mem, limit)) if mem and red else None

        add(f"N={n}: Redis layer >= 0.8 x in-memory (p99<={limit}ms)", redis_vs_memory,
            lambda v: v >= 0.8)  # fmt: skip
    if storm is not None:
        measured = (
            f"{storm.tracebacks} tracebacks, {storm.errors} errors, "
            f"{len(storm.stale_subscriptions)} stale subscriptions"
        )
        lines.append(
            ("storm of 1,000 sockets: no errors, no stale subscription", measured,
             _verdict(storm.clean))
        )  # fmt: skip
    return _table(lines)


# The cluster scenario (bench/cluster.py).

CLUSTER_CPU_RATIO = 1.15  # N workers' CPU per delivery, at most this times one worker's
REDIS_OPS_SPREAD = 0.1  # Redis commands per message: N workers' within 10 % of one's


def _workload_label(name: str, plan: ClusterPlan) -> str:
    if name == "small":
        return f"{plan.small_rooms} rooms of {plan.small_size}"
    return f"1 room of {plan.large_size}"


def cluster_table(runs: Sequence[ClusterRun], plan: ClusterPlan) -> str:
    """Each configuration's best step per workload: the most deliveries/s at p99 <= 200 ms
    with nothing lost, and what it cost the workers, the proxy and Redis."""
    header = (
        "workers", "workload", "sockets/worker", "acked sends/s", "del/s p99<=200ms", "p99",
        "worker CPU ms/1k del", "proxy ms/1k del", "Redis CPU us/msg", "Redis ops/msg", "load",
    )  # fmt: skip
    table = [header]
    for run in runs:
        for name in ("small", "large"):
            step = run.workload(name).best
            s = step.step if step else None
            table.append((
                str(run.workers),
                _workload_label(name, plan),
                "/".join(str(n) for n in run.sockets_per_worker),
                _num(s.acks_per_s if s else None),
                _num(s.deliveries_per_s if s else None),
                f"{s.p99_ms:.0f} ms" if s else "none passed",
                _num(step.worker_ms_per_1k if step else None, "{:.1f}"),
                _num(step.proxy_ms_per_1k if step else None, "{:.1f}"),
                _num(step.redis_us_per_message if step else None, "{:.1f}"),
                _num(step.redis_ops_per_message if step else None, "{:.2f}"),
                f"{run.load[0]:.1f}",
            ))  # fmt: skip
    return _table(table)


def _pair(a, b, figure: str, fmt: str) -> str:
    """One figure of two steps, `1 worker / N workers`."""
    if a is None or b is None:
        return "-"
    return f"{_num(getattr(a, figure), fmt)} / {_num(getattr(b, figure), fmt)}"


def cluster_comparison(pairs: Sequence[tuple[ClusterRun, ClusterRun]], plan: ClusterPlan):
    """1 against N workers at the reference rates, per repetition and workload: at the same
    rate per worker (one worker at 1/N of the N workers' rate: the target's comparison,
    each process doing the same work a second but the cluster's own, such as receiving
    events for rooms it shares) and at the same total rate (each of the N at 1/N of one's,
    so fewer events share a wake-up, a hop, a write); then the verdicts, on the medians of
    the repetitions' ratios."""
    n = plan.workers
    header = (
        "workload", "compared at", "run", f"msg/s 1w / {n}w", f"p99 1w / {n}w",
        f"CPU ms/1k del 1w / {n}w", "ratio", "extra us/msg",
        f"Redis ops/msg 1w / {n}w", "ratio", f"Redis us/msg 1w / {n}w", "Redis calls/msg",
    )  # fmt: skip
    table = [header]
    ratios: dict[tuple[str, str], tuple[list, list]] = {}
    for name in ("small", "large"):
        rate = plan.small_reference if name == "small" else plan.large_reference
        for basis, one_rate in (("per worker", rate / n), ("in total", rate)):
            cpus, opss = ratios.setdefault((name, basis), ([], []))
            for r, (one, many) in enumerate(pairs):
                a, b = one.workload(name).reference(one_rate), many.workload(name).reference(rate)
                cpu = _over(b.worker_ms_per_1k, a.worker_ms_per_1k) if a and b else None
                ops = _over(b.redis_ops_per_message, a.redis_ops_per_message) if a and b else None
                cpus.append(cpu)
                opss.append(ops)
                calls = (
                    ", ".join(f"{c} {v:.2f}" for c, v in list(b.calls_per_message().items())[:3])
                    if b
                    else "-"
                )
                extra = b.worker_us_per_message - a.worker_us_per_message if a and b else None
                table.append((
                    _workload_label(name, plan), f"the same rate {basis}", str(r + 1),
                    f"{_num(one_rate, '{:,.1f}')} / {_num(rate, '{:,.1f}')}",
                    _pair(a, b, "p99_ms", "{:.0f} ms"),
                    _pair(a, b, "worker_ms_per_1k", "{:.1f}") if a and b else "not all delivered",
                    _num(cpu, "{:.2f}"),
                    _num(extra, "{:.0f}"),
                    _pair(a, b, "redis_ops_per_message", "{:.2f}"),
                    _num(ops, "{:.2f}"),
                    _pair(a, b, "redis_us_per_message", "{:.1f}"),
                    calls,
                ))  # fmt: skip
    lines: list[tuple[str, str, str]] = [("target", "measured", "verdict")]
    for name in ("small", "large"):
        label = _workload_label(name, plan)
        cpu, ops = ratios[(name, "per worker")]
        middle = _median(cpu)
        lines.append((
            f"{label}: worker CPU per delivery, {n} workers <= {CLUSTER_CPU_RATIO} x 1 worker's "
            "(the same rate per worker)",
            _spread(cpu, "{:.2f}", " x"),
            _verdict(None if middle is None else middle <= CLUSTER_CPU_RATIO),
        ))  # fmt: skip
        total, _ops = ratios[(name, "in total")]
        lines.append((
            f"{label}: the same at the same total rate (each of the {n} at 1/{n} of it: less "
            "batching; not the target)",
            _spread(total, "{:.2f}", " x"),
            "-",
        ))  # fmt: skip
        middle = _median(ops)
        lines.append((
            f"{label}: Redis commands per message, {n} workers = 1 worker's (+-10 %)",
            _spread(ops, "{:.2f}", " x"),
            _verdict(None if middle is None else abs(middle - 1) <= REDIS_OPS_SPREAD),
        ))  # fmt: skip
    for name in ("small", "large"):
        best_runs = [run.workload(name).best for pair in pairs for run in pair]
        label = _workload_label(name, plan)
        lines.append((
            f"{label}: a rate with p99 <= 200 ms, nothing lost, in every configuration",
            f"{sum(b is not None for b in best_runs)} of {len(best_runs)}",
            _verdict(all(b is not None for b in best_runs)),
        ))  # fmt: skip
    notes = (
        "Compared at the reference rates: the N workers' against one worker at 1/N of it (the same "
        "rate per worker) and at all of it (the same total rate), the two configurations running "
        f"side by side and taking their steps in turn ({plan.reference_steps} "
        f"measured steps each after {plan.reference_warmup} not counted; every message must reach "
        "every member). Worker CPU: the workers' own (user+sys, /proc, over each step's window), "
        "summed, per delivery; the median of the steps no heads round and presence refresh fell "
        "in (a step one fell in is taken again, up to "
        f"{plan.reference_retries} more). Redis: its INFO counters around each step, per acked "
        "message, without the periodic presence refresh (its script and the commands it runs: "
        "per socket every PARLEY_HEADS_INTERVAL; Redis CPU only from steps it missed) and the "
        "bench's own INFO. extra us/msg: the N "
        "workers' CPU per message less one worker's (each worker with a member in a room "
        "receives each of its events once; bench.redis_fanout measures one such receive)."
    )
    return _table(table) + "\n" + notes + "\n\n" + _table(lines)
