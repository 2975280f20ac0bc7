"""The team workload's load generator: every person's tabs, sending and reading.

Built on bench.loadgen's pieces (its worker process, pipes, CPU readings, step result)
and bench.leanws's lean socket. Unlike the fan-out's generator, each process holds
whole people (all their tabs) and sends their events itself at the due times the
coordinator drew (bench.team_shape), while reading what its sockets receive.

Frames that carry their send time in the body (`message`, and `message.updated` of an
edit) are timed as in bench.loadgen; `reaction`, `typing` and `read` frames carry none,
so each process holds the step's keys with their due times and looks each frame up by
its key (a small JSON parse: these frames are short). Every process shares
CLOCK_MONOTONIC with the coordinator.
"""

import asyncio
import json
import multiprocessing
import time
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field

import uvloop

from . import procfs
from .leanws import MESSAGE, LeanClient, stamp
from .loadgen import (
    ERROR_SAMPLES,
    Connect,
    ConnectReport,
    LoadGenerator,
    Recorder,
    StepResult,
    Tally,
    Worker,
    _merge,
    percentile,
)
from .team_shape import KINDS, Event, Team, frame_key, frame_text, receivers

UPDATED = b'{"type":"message.updated"'
KEYED = (b'{"type":"reaction"', b'{"type":"typing"', b'{"type":"read"')
START_MARGIN_NS = 400_000_000  # every process has its schedule before the first due time
# Opening 2,000 sockets (each a hello with its rooms and presence) on a busy machine can
# take minutes; bench.loadgen's allowance is for one room's worth.
CONNECT_WITHIN = 600.0


class TeamClient(LeanClient):
    """A lean socket that also reads edits, reactions, typing and reads."""

    def _text(self, buf: bytes, start: int, end: int, now: int) -> None:
        if buf.startswith(UPDATED, start):
            step, sent_ns = stamp(buf, start, end)
            self.sink.edited(step, sent_ns, now)  # type: ignore[attr-defined]
        elif buf.startswith(MESSAGE, start) or not buf.startswith(KEYED, start):
            super()._text(buf, start, end, now)
        else:
            self.sink.keyed(buf[start:end], now)  # type: ignore[attr-defined]


def frame_key_of(frame: dict) -> tuple | None:
    """The key of a reaction, typing or read frame, as team_shape.frame_key makes it."""
    match frame.get("type"):
        case "reaction":
            return ("reaction", frame["message"], frame["user"], frame["emoji"], frame["on"])
        case "typing":
            return ("typing", frame["room"], frame["user"]["id"])
        case "read":
            return ("read", frame["room"], frame["user"], frame["seq"])
    return None


class TeamRecorder(Recorder):
    """Recorder with a tally by kind for the step under way; acks as bench.loadgen's."""

    def __init__(self) -> None:
        super().__init__()
        self.step = -1
        self.keys: dict[tuple, tuple[str, int]] = {}
        self.deliveries = 0
        self.late_acks = 0
        self.latencies: dict[str, array] = {}

    def begin(self, step: int, keys: dict[tuple, tuple[str, int]]) -> None:
        self.step, self.keys, self.deliveries = step, keys, 0
        self.latencies = {kind: array("q") for kind in KINDS}

    def end(self) -> dict[str, bytes]:
        latencies, self.step, self.keys = self.latencies, -1, {}
        return {kind: values.tobytes() for kind, values in latencies.items()}

    def _count(self, kind: str, step: int, sent_ns: int, now_ns: int) -> None:
        if step != self.step:
            self.stray += 1
            return
        self.deliveries += 1
        self.latencies[kind].append((now_ns - sent_ns) // 1000)

    def message(self, step: int, sent_ns: int, now_ns: int) -> None:
        self._count("message", step, sent_ns, now_ns)

    def ack(self, client: LeanClient, step: int, sent_ns: int, now_ns: int) -> None:
        if step <= self.reported:
            self.late_acks += 1  # past its step's drain: counted, so a check can balance
        super().ack(client, step, sent_ns, now_ns)

    def edited(self, step: int, sent_ns: int, now_ns: int) -> None:
        self._count("edit", step, sent_ns, now_ns)

    def keyed(self, frame: bytes, now_ns: int) -> None:
        found = self.keys.get(frame_key_of(json.loads(frame)))  # type: ignore[arg-type]
        if found is None:
            self.stray += 1
            return
        kind, due = found
        self._count(kind, self.step, due, now_ns)


@dataclass(frozen=True)
class TeamRun:
    """Send these (due time, socket, text, is a `send`) on time, then wait until the
    process's sockets hold `expected` frames of the step and every send is acked."""

    step: int
    sends: list[tuple[int, int, str, bool]]
    keys: dict[tuple, tuple[str, int]]
    expected: int
    drain: float


@dataclass
class TeamReport:
    sockets: int
    sent: int
    lag_max_ms: float
    messages_sent: int
    deliveries: int
    latencies_us: dict[str, bytes]
    acks: int
    ack_latencies_us: bytes
    stray: int
    late_acks: int
    closed: int
    overload_closed: int
    errors: int
    error_samples: list[str]


class TeamWorker(Worker):
    client_class = TeamClient

    def __init__(self, pipe, cookies: list[str]) -> None:
        super().__init__(pipe, cookies, None)
        self.recorder: TeamRecorder = TeamRecorder()

    async def handle(self, command: object) -> object:
        if isinstance(command, TeamRun):
            return await self.run(command)
        return await super().handle(command)

    async def run(self, command: TeamRun) -> TeamReport:
        recorder = self.recorder
        recorder.begin(command.step, command.keys)
        acks = recorder.tally(command.step) or Tally()
        sent = messages = lag_max = 0
        for due, index, text, is_send in command.sends:
            now = time.monotonic_ns()
            if due > now:
                await asyncio.sleep((due - now) / 1e9)
                now = time.monotonic_ns()
            lag_max = max(lag_max, now - due)
            client = self.clients[index]
            if client is not None and is_send:
                client.sending(command.step, due)
            if client is not None and client.send_text(text):
                sent += 1
                messages += is_send
        deadline = time.monotonic() + command.drain
        while (
            recorder.deliveries < command.expected or acks.acks < messages
        ) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        deliveries = recorder.deliveries
        latencies = recorder.end()
        acks = recorder.finish(command.step)
        closed = [c for c in self.clients if c is not None and not c.is_open]
        errors, samples = recorder.take_errors()
        stray, recorder.stray = recorder.stray, 0
        late_acks, recorder.late_acks = recorder.late_acks, 0
        return TeamReport(
            sockets=sum(c is not None for c in self.clients),
            sent=sent,
            lag_max_ms=lag_max / 1e6,
            messages_sent=messages,
            deliveries=deliveries,
            latencies_us=latencies,
            acks=acks.acks,
            ack_latencies_us=acks.ack_latencies_us.tobytes(),
            stray=stray,
            late_acks=late_acks,
            closed=len(closed),
            overload_closed=sum(c.close_code == 1013 for c in closed),
            errors=errors,
            error_samples=samples,
        )


def _team_worker_main(pipe, cookies: list[str]) -> None:
    asyncio.run(TeamWorker(pipe, cookies).serve(), loop_factory=uvloop.new_event_loop)


@dataclass(frozen=True)
class KindFigures:
    events: int
    deliveries: int
    p50_ms: float
    p99_ms: float


@dataclass
class TeamStep:
    """One measured step: bench.loadgen's figures (all kinds together), the generator's
    CPU in all, and each kind's own latencies."""

    step: StepResult
    gen_cpu_s: float
    messages_sent: int
    late_acks: int  # acks of earlier steps' sends that came after those steps' drain
    kinds: dict[str, KindFigures] = field(default_factory=dict)

    @property
    def gen_us_per_delivery(self) -> float:
        return self.gen_cpu_s / self.step.deliveries * 1e6 if self.step.deliveries else 0.0

    def line(self) -> str:
        kinds = " ".join(
            f"{k} {f.events}/{f.deliveries} p99 {f.p99_ms:.0f}" for k, f in self.kinds.items()
        )
        late = f" | late: {self.step.stray} frames, {self.late_acks} acks" if (
            self.step.stray or self.late_acks
        ) else ""  # fmt: skip
        return (
            f"{self.step.line().replace('msg/s', 'ev/s ')}{late} | gen {self.gen_cpu_s:.2f} CPU s "
            f"{self.gen_us_per_delivery:.1f} us/del | {kinds}"
        )


class TeamGenerator(LoadGenerator):
    """Coordinator: `procs` processes, each holding every tab of every procs-th person."""

    def __init__(self, team: Team, procs: int) -> None:
        self.team = team
        tabs = range(team.size.tabs)
        people = [range(p, team.size.users, procs) for p in range(procs)]
        self.shares = [[team.cookies[u] for u in share for _ in tabs] for share in people]
        self.where = {
            team.socket(u, t): (p, i)
            for p, share in enumerate(people)
            for i, (u, t) in enumerate((u, t) for u in share for t in tabs)
        }
        self.rooms = None
        self.room_shares = [None] * procs
        self.context = multiprocessing.get_context("spawn")
        self.pipes = []
        self.processes = []
        self.sockets = team.sockets

    def __enter__(self) -> "TeamGenerator":
        for share in self.shares:
            ours, theirs = self.context.Pipe()
            process = self.context.Process(
                target=_team_worker_main, args=(theirs, share), daemon=True
            )
            process.start()
            self.pipes.append(ours)
            self.processes.append(process)
        return self

    def connect(self, url: str, origin: str, concurrency: int = 16) -> ConnectReport:
        reports = self._ask(self.pipes, Connect(url, origin, concurrency), CONNECT_WITHIN)
        return ConnectReport(
            opened=sum(r.opened for r in reports),
            failed=sum(r.failed for r in reports),
            failures=[f for r in reports for f in r.failures][:ERROR_SAMPLES],
            seconds=max(r.seconds for r in reports),
        )

    def run_step(
        self,
        server_pids: Sequence[int],
        step: int,
        events: list[Event],
        rate: float,
        seconds: float,
        drain: float,
    ) -> TeamStep:
        """Send the events from their actors' tabs, wait for every frame, measure."""
        team, procs = self.team, len(self.pipes)
        expected = [0] * procs
        for event in events:
            for socket in receivers(team, event):
                expected[self.where[socket][0]] += 1
        start_ns = time.monotonic_ns() + START_MARGIN_NS
        sends: list[list[tuple[int, int, str, bool]]] = [[] for _ in range(procs)]
        keys: dict[tuple, tuple[str, int]] = {}
        for event in events:
            due = start_ns + event.offset_ns
            proc, index = self.where[team.socket(event.actor, event.tab)]
            text = frame_text(team, event, step, due)
            sends[proc].append((due, index, text, event.kind == "message"))
            key = frame_key(team, event)
            if key is not None:
                keys[key] = (event.kind, due)
        for p, pipe in enumerate(self.pipes):
            pipe.send(TeamRun(step, sends[p], keys, expected[p], drain))
        time.sleep(max(0.0, (start_ns - time.monotonic_ns()) / 1e9))
        server0, machine0 = procfs.total_cpu_seconds(server_pids), procfs.MachineCpu.read()
        gen0 = [procfs.cpu_seconds(pid) for pid in self.pids]
        started = time.monotonic()
        reports: list[TeamReport] = [
            self._reply(pipe, seconds + drain)  # type: ignore[misc]
            for pipe in self.pipes
        ]
        window = time.monotonic() - started
        server_cpu = procfs.total_cpu_seconds(server_pids) - server0
        machine = procfs.MachineCpu.read().busy_fraction_since(machine0)
        gen = [procfs.cpu_seconds(pid) - c for pid, c in zip(self.pids, gen0, strict=True)]
        by_kind = {k: _merge([r.latencies_us[k] for r in reports]) for k in KINDS}
        every = sorted(v for values in by_kind.values() for v in values)
        acks = _merge([r.ack_latencies_us for r in reports])
        result = StepResult(
            rate=rate,
            duration=seconds,
            sockets=sum(r.sockets for r in reports),
            sent=sum(r.sent for r in reports),
            scheduled=len(events),
            deliveries=sum(r.deliveries for r in reports),
            expected=sum(expected),
            p50_ms=percentile(every, 0.50) / 1000,
            p95_ms=percentile(every, 0.95) / 1000,
            p99_ms=percentile(every, 0.99) / 1000,
            max_ms=(every[-1] if every else 0) / 1000,
            acks=len(acks),
            ack_p99_ms=percentile(acks, 0.99) / 1000,
            server_cpu_s=server_cpu,
            window_s=window,
            gen_cpu_max=max(gen) / window if window else 0.0,
            machine_busy=machine,
            send_lag_max_ms=max(r.lag_max_ms for r in reports),
            closed=sum(r.closed for r in reports),
            overload_closed=sum(r.overload_closed for r in reports),
            errors=sum(r.errors for r in reports),
            error_samples=[s for r in reports for s in r.error_samples][:ERROR_SAMPLES],
            stray=sum(r.stray for r in reports),
        )
        counts = {k: sum(e.kind == k for e in events) for k in KINDS}
        kinds = {
            k: KindFigures(
                counts[k],
                len(by_kind[k]),
                percentile(by_kind[k], 0.50) / 1000,
                percentile(by_kind[k], 0.99) / 1000,
            )
            for k in KINDS
        }
        sent = sum(r.messages_sent for r in reports)
        return TeamStep(result, sum(gen), sent, sum(r.late_acks for r in reports), kinds)
