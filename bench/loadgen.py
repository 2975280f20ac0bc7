"""The load generator: N logged-in sockets in one room (or many), S open-loop senders, measured.

Processes: one sender process holds the S sender sockets (room members, so they also
receive), and `receiver_procs` processes hold the other N - S sockets. Sending apart
from the bulk of the reading keeps the send schedule on time while receivers are busy,
and several readers let the generator use every core the server leaves idle. The
caller's process only coordinates, over pipes, and reads CPU from /proc around each step.

A step: the sender process sends `rate` messages/s for `duration` seconds, each stamped
with the time it was due (open loop: it never waits for the server, so a slow server
shows as latency, not as a slower generator). Then every process waits until each of
its sockets has every message of the step, or the drain timeout, and reports counts
and latencies. Every receiving socket counts, the senders' own included: a sender has
its own message in its ack (Parley sends the room's event to the other sockets).

Given each socket's room (`rooms`), the sockets may sit in many rooms: a step then sends
either to one room (from the senders in it) or from every sender to its own room, and
each socket waits for what was sent to its room.
"""

import asyncio
import contextlib
import itertools
import multiprocessing
import time
import traceback
import uuid
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection

import uvloop

from . import procfs
from .leanws import TRY_AGAIN_LATER, LeanClient, body, open_client

CONNECT_TIMEOUT = 30.0
REPLY_TIMEOUT = 120.0  # bound on any one worker command beyond its own duration
ACK_TIMEOUT = 10.0
ERROR_SAMPLES = 3


def send_frame(room: int, step: int, due_ns: int) -> str:
    """A Parley `send` frame with a fresh client_msg_id (JSON built by hand: it is hot)."""
    return (
        f'{{"type":"send","room":{room},"body":"{body(step, due_ns)}",'
        f'"client_msg_id":"{uuid.uuid4()}"}}'
    )


# Commands, coordinator → worker; each gets exactly one reply.


@dataclass(frozen=True)
class Connect:
    url: str
    origin: str
    concurrency: int


@dataclass(frozen=True)
class Send:
    """Open loop: `rate` messages/s over `duration` s from `start_ns` (sender process only),
    to `room`, or (None) from each sender socket to its own room."""

    step: int
    room: int | None
    rate: float
    duration: float
    start_ns: int


@dataclass(frozen=True)
class Drain:
    """Wait until every socket holds `messages` messages of `step` (with `by_room`: as many
    as were sent to its room), or the timeout."""

    step: int
    messages: int
    timeout: float
    by_room: dict[int, int] | None = None


@dataclass(frozen=True)
class ClosedLoop:
    """Each sender sends to its room, waits for its ack, sends again, for `duration` s."""

    step: int
    rooms: list[int]  # one per socket of the process, in order
    duration: float


@dataclass(frozen=True)
class Close:
    pass


@dataclass(frozen=True)
class Quit:
    pass


# Replies.


@dataclass
class ConnectReport:
    opened: int
    failed: int
    failures: list[str]
    seconds: float


@dataclass
class SendReport:
    sent: int
    scheduled: int
    lag_max_ms: float
    by_room: dict[int, int]


@dataclass
class DrainReport:
    sockets: int
    deliveries: int
    expected: int
    latencies_us: bytes
    stray: int
    closed: int
    overload_closed: int
    errors: int
    error_samples: list[str]
    acks: int
    ack_latencies_us: bytes


@dataclass
class ClosedLoopReport:
    sent: int
    acks: int
    errors: int
    error_samples: list[str]
    timeouts: int
    seconds: float
    ack_latencies_us: bytes
    deliveries: int


@dataclass
class WorkerFailed:
    text: str


@dataclass
class Tally:
    """What one process's sockets read of one step."""

    deliveries: int = 0
    latencies_us: array = field(default_factory=lambda: array("q"))
    acks: int = 0
    ack_latencies_us: array = field(default_factory=lambda: array("q"))


class Recorder:
    """The sink for all of a process's sockets: tallies per step, acks to waiting senders.

    Step ids only grow, so a frame of a step that is not yet reported opens its tally
    (receivers need not be told a step began) and one of a reported step is a straggler.
    """

    def __init__(self) -> None:
        self.tallies: dict[int, Tally] = {}
        self.reported = -1
        self.stray = 0
        self.errors = 0
        self.error_samples: list[str] = []
        self.waiters: dict[LeanClient, asyncio.Future[bool]] = {}

    def tally(self, step: int) -> Tally | None:
        if step <= self.reported:
            return None
        tally = self.tallies.get(step)
        if tally is None:
            tally = self.tallies[step] = Tally()
        return tally

    def finish(self, step: int) -> Tally:
        """The step's tally; from now on its frames are stragglers."""
        tally = self.tally(step) or Tally()
        self.reported = max(self.reported, step)
        self.tallies = {s: t for s, t in self.tallies.items() if s > self.reported}
        return tally

    def message(self, step: int, sent_ns: int, now_ns: int) -> None:
        tally = self.tally(step)
        if tally is None:
            self.stray += 1
            return
        tally.deliveries += 1
        tally.latencies_us.append((now_ns - sent_ns) // 1000)

    def ack(self, client: LeanClient, step: int, sent_ns: int, now_ns: int) -> None:
        tally = self.tally(step)
        if tally is not None:
            tally.acks += 1
            tally.ack_latencies_us.append((now_ns - sent_ns) // 1000)
        self._wake(client, True)

    def error(self, client: LeanClient, frame: bytes) -> None:
        self.errors += 1
        if len(self.error_samples) < ERROR_SAMPLES:
            self.error_samples.append(frame[:200].decode(errors="replace"))
        self._wake(client, False)

    def _wake(self, client: LeanClient, ok: bool) -> None:
        waiter = self.waiters.pop(client, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(ok)

    def take_errors(self) -> tuple[int, list[str]]:
        errors, samples = self.errors, self.error_samples
        self.errors, self.error_samples = 0, []
        return errors, samples


class Worker:
    """One generator process: its sockets, run on uvloop, driven by commands on a pipe."""

    client_class = LeanClient

    def __init__(self, pipe: Connection, cookies: list[str], rooms: list[int] | None) -> None:
        self.pipe = pipe
        self.cookies = cookies
        self.rooms = rooms  # each socket's room, when known
        self.clients: list[LeanClient | None] = [None] * len(cookies)
        self.recorder = Recorder()
        self.url = self.origin = ""
        self.concurrency = 1
        self.sent: dict[int, int] = {}  # messages this process sent, by step

    async def serve(self) -> None:
        while True:
            command = await asyncio.to_thread(self.pipe.recv)
            if isinstance(command, Quit):
                return
            try:
                reply = await self.handle(command)
            except Exception:
                reply = WorkerFailed(traceback.format_exc())
            self.pipe.send(reply)

    async def handle(self, command: object) -> object:
        match command:
            case Connect():
                self.url, self.origin = command.url, command.origin
                self.concurrency = command.concurrency
                return await self.connect()
            case Send():
                return await self.send(command)
            case Drain():
                return await self.drain(command)
            case ClosedLoop():
                return await self.closed_loop(command)
            case Close():
                await asyncio.gather(*(c.close() for c in self.clients if c is not None))
                self.clients = [None] * len(self.cookies)
                return None
        raise ValueError(f"unknown command {command!r}")

    @property
    def open_clients(self) -> list[LeanClient]:
        return [c for c in self.clients if c is not None and c.is_open]

    async def connect(self) -> ConnectReport:
        """Open every socket that is not open (all at first; later, those the server closed)."""
        started = time.monotonic()
        limit = asyncio.Semaphore(self.concurrency)
        failures: list[str] = []

        async def open_one(i: int) -> None:
            async with limit:
                try:
                    self.clients[i] = await open_client(
                        self.url, self.origin, self.cookies[i], self.recorder, CONNECT_TIMEOUT,
                        self.client_class,
                    )  # fmt: skip
                except Exception as exc:
                    failures.append(f"{type(exc).__name__}: {exc}")

        todo = [i for i, c in enumerate(self.clients) if c is None or not c.is_open]
        await asyncio.gather(*(open_one(i) for i in todo))
        return ConnectReport(
            opened=len(todo) - len(failures),
            failed=len(failures),
            failures=failures[:ERROR_SAMPLES],
            seconds=time.monotonic() - started,
        )

    def senders(self, room: int | None) -> list[tuple[LeanClient, int]]:
        """The open sockets that send to `room` (all of them, without rooms), each with the
        room it sends to: with room None, each to its own."""
        if self.rooms is None:
            return [(c, room) for c in self.open_clients] if room is not None else []
        return [
            (c, own)
            for c, own in zip(self.clients, self.rooms, strict=True)
            if c is not None and c.is_open and room in (None, own)
        ]

    async def send(self, command: Send) -> SendReport:
        senders = self.senders(command.room)
        scheduled = round(command.rate * command.duration) if senders else 0
        interval_ns = 1e9 / command.rate if command.rate > 0 else 0.0
        sent, lag_max = 0, 0
        by_room: dict[int, int] = {}
        rotation = itertools.cycle(senders)
        for k in range(scheduled):
            due = command.start_ns + int(k * interval_ns)
            now = time.monotonic_ns()
            if due > now:
                await asyncio.sleep((due - now) / 1e9)
                now = time.monotonic_ns()
            lag_max = max(lag_max, now - due)
            client, room = next(rotation)
            client.sending(command.step, due)
            if client.send_text(send_frame(room, command.step, due)):
                sent += 1
                by_room[room] = by_room.get(room, 0) + 1
        self.sent[command.step] = sent
        return SendReport(sent=sent, scheduled=scheduled, lag_max_ms=lag_max / 1e6, by_room=by_room)

    async def drain(self, command: Drain) -> DrainReport:
        """Wait for the step's messages on every socket that was open, and for the acks of
        what this process sent, then report them."""
        tally = self.recorder.tally(command.step) or Tally()
        sockets = sum(c is not None for c in self.clients)
        expected = command.messages * sockets
        if command.by_room is not None and self.rooms is not None:
            expected = sum(
                command.by_room.get(room, 0)
                for c, room in zip(self.clients, self.rooms, strict=True)
                if c is not None
            )
        acks = self.sent.pop(command.step, 0)
        deadline = time.monotonic() + command.timeout
        while (tally.deliveries < expected or tally.acks < acks) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        tally = self.recorder.finish(command.step)
        closed = [c for c in self.clients if c is not None and not c.is_open]
        errors, samples = self.recorder.take_errors()
        stray, self.recorder.stray = self.recorder.stray, 0
        return DrainReport(
            sockets=sockets,
            deliveries=tally.deliveries,
            expected=expected,
            latencies_us=tally.latencies_us.tobytes(),
            stray=stray,
            closed=len(closed),
            overload_closed=sum(c.close_code == TRY_AGAIN_LATER for c in closed),
            errors=errors,
            error_samples=samples,
            acks=tally.acks,
            ack_latencies_us=tally.ack_latencies_us.tobytes(),
        )

    async def closed_loop(self, command: ClosedLoop) -> ClosedLoopReport:
        loop = asyncio.get_running_loop()
        started = time.monotonic()
        deadline = started + command.duration
        sent = timeouts = 0

        async def sender(client: LeanClient, room: int) -> None:
            nonlocal sent, timeouts
            while time.monotonic() < deadline and client.is_open:
                waiter = self.recorder.waiters[client] = loop.create_future()
                due = time.monotonic_ns()
                client.sending(command.step, due)
                client.send_text(send_frame(room, command.step, due))
                sent += 1
                try:
                    async with asyncio.timeout(ACK_TIMEOUT):
                        await waiter
                except TimeoutError:
                    timeouts += 1
                    return

        await asyncio.gather(
            *(
                sender(client, room)
                for client, room in zip(self.clients, command.rooms, strict=True)
                if client is not None and client.is_open
            )
        )
        seconds = time.monotonic() - started
        await asyncio.sleep(0.2)  # the last messages' fan-out
        tally = self.recorder.finish(command.step)
        errors, samples = self.recorder.take_errors()
        return ClosedLoopReport(
            sent=sent,
            acks=tally.acks,
            errors=errors,
            error_samples=samples,
            timeouts=timeouts,
            seconds=seconds,
            ack_latencies_us=tally.ack_latencies_us.tobytes(),
            deliveries=tally.deliveries,
        )


def _worker_main(pipe: Connection, cookies: list[str], rooms: list[int] | None) -> None:
    asyncio.run(Worker(pipe, cookies, rooms).serve(), loop_factory=uvloop.new_event_loop)


# The coordinator side.


def percentile(sorted_values: Sequence[int], q: float) -> int:
    """Nearest-rank percentile of an already sorted sequence (0 when empty)."""
    if not sorted_values:
        return 0
    return sorted_values[min(len(sorted_values) - 1, round(q * (len(sorted_values) - 1)))]


def _merge(chunks: Sequence[bytes]) -> list[int]:
    merged = array("q")
    for chunk in chunks:
        merged.frombytes(chunk)
    return sorted(merged)


@dataclass
class StepResult:
    """One measured step, as the coordinator sums it up over all processes."""

    rate: float  # messages/s offered
    duration: float
    sockets: int
    sent: int
    scheduled: int
    deliveries: int
    expected: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    acks: int
    ack_p99_ms: float
    server_cpu_s: float
    window_s: float
    gen_cpu_max: float  # busiest generator process, share of one core
    machine_busy: float  # share of all cores busy
    send_lag_max_ms: float
    closed: int
    overload_closed: int
    errors: int
    error_samples: list[str]
    stray: int

    @property
    def deliveries_per_s(self) -> float:
        return self.deliveries / self.duration

    @property
    def acks_per_s(self) -> float:
        return self.acks / self.duration

    @property
    def delivery_ratio(self) -> float:
        return self.deliveries / self.expected if self.expected else 0.0

    @property
    def cpu_us_per_delivery(self) -> float:
        return self.server_cpu_s / self.deliveries * 1e6 if self.deliveries else float("inf")

    @property
    def server_cores(self) -> float:
        return self.server_cpu_s / self.window_s if self.window_s else 0.0

    @property
    def complete(self) -> bool:
        return self.sent == self.scheduled and self.deliveries == self.expected and not self.errors

    def ok(self, limit_ms: float) -> bool:
        return self.complete and self.p99_ms <= limit_ms

    def line(self) -> str:
        return (
            f"{self.rate:8.1f} msg/s x{self.sockets}: {self.deliveries_per_s:9.0f} del/s "
            f"({self.delivery_ratio:7.2%}) p50 {self.p50_ms:6.1f} p95 {self.p95_ms:6.1f} "
            f"p99 {self.p99_ms:7.1f} max {self.max_ms:7.1f} ms | server {self.server_cores:4.2f} "
            f"cores {self.cpu_us_per_delivery:6.1f} us/del | gen max {self.gen_cpu_max:4.0%} "
            f"machine {self.machine_busy:4.0%} lag {self.send_lag_max_ms:5.1f} ms"
            + (f" | closed {self.closed} (1013: {self.overload_closed})" if self.closed else "")
            + (f" | errors {self.errors} {self.error_samples[:1]}" if self.errors else "")
        )


@dataclass
class ClosedLoopResult:
    senders: int
    seconds: float
    sent: int
    acks: int
    errors: int
    error_samples: list[str]
    timeouts: int
    ack_p50_ms: float
    ack_p99_ms: float
    deliveries: int
    server_cpu_s: float

    @property
    def acks_per_s(self) -> float:
        return self.acks / self.seconds if self.seconds else 0.0


class LoadGenerator:
    """Coordinator: starts the worker processes and runs connects and steps on them.

    The first `senders` cookies send; `rooms`, when given, is each cookie's room."""

    def __init__(
        self,
        cookies: Sequence[str],
        senders: int,
        receiver_procs: int,
        rooms: Sequence[int] | None = None,
    ) -> None:
        if not 0 < senders <= len(cookies):
            raise ValueError("need 1..N senders")
        if rooms is not None and len(rooms) != len(cookies):
            raise ValueError("one room per cookie")
        receivers = list(cookies[senders:])
        procs = max(1, min(receiver_procs, len(receivers))) if receivers else 0
        self.shares = [list(cookies[:senders])] + [receivers[i::procs] for i in range(procs)]
        self.rooms = list(rooms) if rooms is not None else None
        self.room_shares: list[list[int] | None] = [None] * len(self.shares)
        if self.rooms is not None:
            rest = self.rooms[senders:]
            self.room_shares = [self.rooms[:senders]] + [rest[i::procs] for i in range(procs)]
        self.context = multiprocessing.get_context("spawn")
        self.pipes: list[Connection] = []
        self.processes: list[multiprocessing.process.BaseProcess] = []
        self.sockets = len(cookies)

    def __enter__(self) -> "LoadGenerator":
        for share, rooms in zip(self.shares, self.room_shares, strict=True):
            ours, theirs = self.context.Pipe()
            process = self.context.Process(
                target=_worker_main, args=(theirs, share, rooms), daemon=True
            )
            process.start()
            self.pipes.append(ours)
            self.processes.append(process)
        return self

    def __exit__(self, *exc: object) -> None:
        for pipe in self.pipes:
            with contextlib.suppress(OSError):
                pipe.send(Quit())
        for process in self.processes:
            process.join(5)
            if process.is_alive():
                process.kill()
                process.join(5)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes if p.pid is not None]

    def _ask(self, pipes: Sequence[Connection], command: object, within: float) -> list:
        for pipe in pipes:
            pipe.send(command)
        return [self._reply(pipe, within) for pipe in pipes]

    @staticmethod
    def _reply(pipe: Connection, within: float) -> object:
        if not pipe.poll(within + REPLY_TIMEOUT):
            raise RuntimeError("a generator process did not answer in time")
        reply = pipe.recv()
        if isinstance(reply, WorkerFailed):
            raise RuntimeError(f"generator process failed:\n{reply.text}")
        return reply

    def connect(self, url: str, origin: str, concurrency: int = 16) -> ConnectReport:
        """Open (or reopen) every socket; each process opens `concurrency` at a time."""
        reports = self._ask(self.pipes, Connect(url, origin, concurrency), CONNECT_TIMEOUT)
        return ConnectReport(
            opened=sum(r.opened for r in reports),
            failed=sum(r.failed for r in reports),
            failures=[f for r in reports for f in r.failures][:ERROR_SAMPLES],
            seconds=max(r.seconds for r in reports),
        )

    def close(self) -> None:
        self._ask(self.pipes, Close(), 10.0)

    def step(
        self,
        server_pids: Sequence[int],
        step: int,
        room: int | None,
        rate: float,
        duration: float,
        drain: float,
    ) -> StepResult:
        """Send at `rate` for `duration`, drain, and measure; the server processes' CPU is
        read around it. `room` None: each sender to its own room (needs `rooms`)."""
        if room is None and self.rooms is None:
            raise ValueError("sending each to its own room needs each socket's room")
        start_ns = time.monotonic_ns() + 200_000_000  # every process ready before the first due
        self.pipes[0].send(Send(step, room, rate, duration, start_ns))
        time.sleep(max(0.0, (start_ns - time.monotonic_ns()) / 1e9))
        server0, machine0 = procfs.total_cpu_seconds(server_pids), procfs.MachineCpu.read()
        gen0 = [procfs.cpu_seconds(pid) for pid in self.pids]
        started = time.monotonic()
        sent: SendReport = self._reply(self.pipes[0], duration)  # type: ignore[assignment]
        by_room = sent.by_room if self.rooms is not None else None
        drains: list[DrainReport] = self._ask(
            self.pipes, Drain(step, sent.sent, drain, by_room), drain
        )
        window = time.monotonic() - started
        server_cpu = procfs.total_cpu_seconds(server_pids) - server0
        machine = procfs.MachineCpu.read().busy_fraction_since(machine0)
        gen = [procfs.cpu_seconds(pid) - c for pid, c in zip(self.pids, gen0, strict=True)]
        latencies = _merge([d.latencies_us for d in drains])
        acks = _merge([d.ack_latencies_us for d in drains])
        sockets = sum(d.sockets for d in drains)
        return StepResult(
            rate=rate,
            duration=duration,
            sockets=sockets,
            sent=sent.sent,
            scheduled=sent.scheduled,
            deliveries=sum(d.deliveries for d in drains),
            expected=sum(d.expected for d in drains),
            p50_ms=percentile(latencies, 0.50) / 1000,
            p95_ms=percentile(latencies, 0.95) / 1000,
            p99_ms=percentile(latencies, 0.99) / 1000,
            max_ms=(latencies[-1] if latencies else 0) / 1000,
            acks=len(acks),
            ack_p99_ms=percentile(acks, 0.99) / 1000,
            server_cpu_s=server_cpu,
            window_s=window,
            gen_cpu_max=max(gen) / window if window else 0.0,
            machine_busy=machine,
            send_lag_max_ms=sent.lag_max_ms,
            closed=sum(d.closed for d in drains),
            overload_closed=sum(d.overload_closed for d in drains),
            errors=sum(d.errors for d in drains),
            error_samples=[s for d in drains for s in d.error_samples][:ERROR_SAMPLES],
            stray=sum(d.stray for d in drains),
        )

    def closed_loop(
        self, server_pids: Sequence[int], step: int, rooms: list[int], duration: float
    ) -> ClosedLoopResult:
        """Every sender socket sends to its room (rooms[i] for the i-th cookie), waits for
        its ack, repeats: sustained acked sends/s."""
        server0 = procfs.total_cpu_seconds(server_pids)
        report: ClosedLoopReport = self._ask(  # type: ignore[assignment]
            self.pipes[:1], ClosedLoop(step, rooms, duration), duration + ACK_TIMEOUT
        )[0]
        acks = _merge([report.ack_latencies_us])
        return ClosedLoopResult(
            senders=len(self.shares[0]),
            seconds=report.seconds,
            sent=report.sent,
            acks=report.acks,
            errors=report.errors,
            error_samples=report.error_samples,
            timeouts=report.timeouts,
            ack_p50_ms=percentile(acks, 0.50) / 1000,
            ack_p99_ms=percentile(acks, 0.99) / 1000,
            deliveries=report.deliveries,
            server_cpu_s=procfs.total_cpu_seconds(server_pids) - server0,
        )
