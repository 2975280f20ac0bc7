"""The tables `python -m bench` prints, and the check against the issue's targets."""

import math
from collections.abc import Sequence
from dataclasses import dataclass

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
        f"stale layer groups or subscriptions after: {len(result.stale_groups)}; "
        f"server tracebacks: {result.tracebacks}; ERROR lines: {result.errors}; "
        f"served a new client after: "
        f"{'yes' if result.healthy_after else 'NO'}"
        + (f"\nfirst log lines: {result.log_samples[:2]}" if result.log_samples else "")
    )


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "NOT met")


def _times(value: float | None) -> str:
    return _num(value, "{:.2f} x")


def _over(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def targets(fanout: Sequence[FanoutResult], storm: StormResult | None) -> str:
    """Each of the issue's targets, met or not, from this run's figures."""
    rows = {(r.target.key, r.members): Row(r) for r in fanout}
    lines: list[tuple[str, str, str]] = [("target", "measured", "verdict")]

    def add(name: str, measured: str, ok: bool | None) -> None:
        lines.append((name, measured, _verdict(ok)))

    def max_at(row: Row, limit: int) -> float | None:
        return row.max100 if limit == 100 else row.max200

    for key in ("parley-mem", "parley-redis"):
        for n, limit, need in ((100, 100, 0.5), (1000, 200, 0.4)):
            row, ceil = rows.get((key, n)), rows.get(("ceiling", n))
            if row and ceil:
                value = _over(max_at(row, limit), max_at(ceil, limit))
                name = f"{key} N={n}: max del/s at p99<={limit}ms >= {need} x ceiling"
                add(name, _times(value), None if value is None else value >= need)
        for n in (100, 1000):
            row, ceil = rows.get((key, n)), rows.get(("ceiling", n))
            if row and ceil:
                value = _over(row.cpu_us, ceil.cpu_us)
                name = f"{key} N={n}: CPU per delivery <= 2.5 x ceiling's"
                add(name, _times(value), None if value is None else value <= 2.5)
        if row := rows.get((key, 1000)):
            low = row.result.low_rate
            lost = low.expected - low.deliveries
            name = f"{key} N=1000: 1 msg/s reaches all with p99 <= 100 ms"
            add(name, f"p99 {low.p99_ms:.1f} ms, {lost} lost", low.p99_ms <= 100 and not lost)
        for n in (100, 1000):
            if row := rows.get((key, n)):
                kib = row.result.kib_per_socket
                add(f"{key} N={n}: idle memory <= 27 KiB/conn", f"{kib:.1f} KiB", kib <= 27)
                lost = row.lost_below_saturation
                add(f"{key} N={n}: nothing lost below saturation", f"{lost} lost", lost == 0)
    for n, limit in ((100, 100), (1000, 200)):
        mem, red = rows.get(("parley-mem", n)), rows.get(("parley-redis", n))
        if mem and red:
            value = _over(max_at(red, limit), max_at(mem, limit))
            name = f"N={n}: Redis layer >= 0.8 x in-memory (p99<={limit}ms)"
            add(name, _times(value), None if value is None else value >= 0.8)
    if storm is not None:
        measured = (
            f"{storm.tracebacks} tracebacks, {storm.errors} errors, "
            f"{len(storm.stale_groups)} stale groups"
        )
        add("storm of 1,000 sockets: no errors, no stale membership", measured, storm.clean)
    return _table(lines)
