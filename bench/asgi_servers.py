"""Daphne vs Uvicorn serving the same Channels app, so the ASGI server is picked by measurement.

Run from the project root:

    .venv/bin/python -m bench.asgi_servers [--quick]

Each server runs bench/echo_asgi.py as a subprocess on a free 127.0.0.1 port. Per run:
a warm-up, then server RSS before and with 500 idle WebSockets, then GET /healthz with
20 keep-alive clients, then 50 WebSockets doing sequential echo round trips. Runs
alternate daphne, uvicorn, daphne, uvicorn because a 2-core machine is noisy, and the
table keeps the best of the two runs per metric.

The client is one asyncio process (on uvloop, already installed for Uvicorn) so it costs
as little CPU as possible; its CPU share is printed so a client-bound phase shows.
"""

import argparse
import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import uvloop
from websockets.asyncio.client import ClientConnection, connect

from tests.support import free_port, serving

from .procfs import cpu_seconds, rss_kib

ROOT = Path(__file__).resolve().parent.parent
APP = "bench.echo_asgi:application"
HOST = "127.0.0.1"
SERVERS = ("daphne", "uvicorn")
ROUNDS = 2
HTTP_CLIENTS = 20
WS_CLIENTS = 50
IDLE_SOCKETS = 500
CONNECT_CONCURRENCY = 25  # below Daphne's default listen backlog of 50
STARTUP_TIMEOUT = 30.0
OP_TIMEOUT = 10.0  # added to a phase's duration to bound it if a server stalls
CLOSE_TIMEOUT = 2.0
# Roughly the size of a Parley chat frame.
WS_MESSAGE = '{"type": "chat.message", "room": "general", "body": "' + "x" * 64 + '"}'

type HttpConn = tuple[asyncio.StreamReader, asyncio.StreamWriter]
type Metrics = dict[str, float]


@dataclass(frozen=True)
class Durations:
    """Seconds spent in each part of one server run."""

    warmup: float
    http: float
    ws: float
    settle: float


FULL = Durations(warmup=2.0, http=15.0, ws=15.0, settle=1.0)
QUICK = Durations(warmup=0.5, http=2.0, ws=2.0, settle=0.5)


@dataclass(frozen=True)
class Metric:
    """One table row: how to pick the best of the runs and whether a ratio means anything."""

    key: str
    label: str
    higher_is_better: bool
    fmt: str
    ratio: bool = True


METRICS = (
    Metric("http_rps", "HTTP req/s", True, "{:.0f}"),
    Metric("http_p50", "HTTP p50 ms", False, "{:.2f}"),
    Metric("http_p99", "HTTP p99 ms", False, "{:.2f}"),
    Metric("http_cpu", "HTTP server CPU s", False, "{:.2f}"),
    Metric("http_cpu_op", "HTTP server CPU us/req", False, "{:.0f}"),
    Metric("http_client", "HTTP client CPU % (worst)", False, "{:.0f}", ratio=False),
    Metric("ws_rps", "WS round trips/s", True, "{:.0f}"),
    Metric("ws_p50", "WS p50 ms", False, "{:.2f}"),
    Metric("ws_p99", "WS p99 ms", False, "{:.2f}"),
    Metric("ws_cpu", "WS server CPU s", False, "{:.2f}"),
    Metric("ws_cpu_op", "WS server CPU us/rt", False, "{:.0f}"),
    Metric("ws_client", "WS client CPU % (worst)", False, "{:.0f}", ratio=False),
    Metric("rss_base", "RSS before idle WS MiB", False, "{:.1f}"),
    Metric("rss_idle", f"RSS with {IDLE_SOCKETS} idle WS MiB", False, "{:.1f}"),
    Metric("kib_per_ws", "KiB per idle WS", False, "{:.1f}"),
)


def server_command(name: str, port: int) -> list[str]:
    """The command line for one server, both with per-request logging off."""
    if name == "daphne":
        # -v 0: at the default verbosity Daphne writes an access-log line per request to
        # stdout, which Uvicorn is told not to do (--no-access-log); leaving it on would
        # measure logging rather than serving.
        return [sys.executable, "-m", "daphne", "-v", "0", "-b", HOST, "-p", str(port), APP]
    return [
        sys.executable, "-m", "uvicorn", APP, "--host", HOST, "--port", str(port),
        "--loop", "uvloop", "--http", "httptools", "--ws", "websockets",
        "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip


@contextlib.contextmanager
def running_server(name: str) -> Iterator[tuple[int, int]]:
    """Start a server, wait until /healthz answers "ok", yield (pid, port), always stop it."""
    port = free_port()
    with serving(
        server_command(name, port),
        name=name,
        port=port,
        env=dict(os.environ),
        healthy=lambda status, body: status == 200 and body == b"ok",
        timeout=STARTUP_TIMEOUT,
    ) as server:
        yield server.pid, port


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted sequence."""
    return sorted_values[min(len(sorted_values) - 1, round(q * (len(sorted_values) - 1)))]


@dataclass(frozen=True)
class Phase:
    """What one timed load phase measured."""

    ops: int
    elapsed: float
    p50_ms: float
    p99_ms: float
    server_cpu: float
    client_cpu: float

    @property
    def rate(self) -> float:
        return self.ops / self.elapsed

    @property
    def server_cpu_per_op_us(self) -> float:
        return self.server_cpu / self.ops * 1e6

    @property
    def client_cpu_percent(self) -> float:
        return self.client_cpu / self.elapsed * 100


async def timed_phase[C](
    pid: int,
    conns: Sequence[C],
    loop: Callable[[C, float, list[float]], Awaitable[None]],
    duration: float,
) -> Phase:
    """Run `loop` on every already-open connection until a shared deadline.

    Connections are opened beforehand so that only steady-state traffic is timed.
    """
    latencies: list[float] = []
    server_cpu0, client_cpu0 = cpu_seconds(pid), time.process_time()
    start = time.perf_counter()
    async with asyncio.timeout(duration + OP_TIMEOUT):
        await asyncio.gather(*(loop(conn, start + duration, latencies) for conn in conns))
    elapsed = time.perf_counter() - start
    server_cpu, client_cpu = cpu_seconds(pid) - server_cpu0, time.process_time() - client_cpu0
    if not latencies:
        raise RuntimeError("no operation completed")
    latencies.sort()
    return Phase(
        ops=len(latencies),
        elapsed=elapsed,
        p50_ms=percentile(latencies, 0.50) * 1000,
        p99_ms=percentile(latencies, 0.99) * 1000,
        server_cpu=server_cpu,
        client_cpu=client_cpu,
    )


def content_length(head: bytes) -> int:
    """The Content-Length of a response head; both servers send one for /healthz."""
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    raise RuntimeError(f"response without Content-Length: {head!r}")


async def open_http(port: int, count: int) -> list[HttpConn]:
    """Open `count` keep-alive connections."""
    async with asyncio.timeout(OP_TIMEOUT):
        return await asyncio.gather(*(asyncio.open_connection(HOST, port) for _ in range(count)))


async def close_http(conns: Sequence[HttpConn]) -> None:
    """Close connections without waiting on a server that is slow to hang up."""
    for _, writer in conns:
        writer.close()
    with contextlib.suppress(OSError, TimeoutError):
        async with asyncio.timeout(CLOSE_TIMEOUT):
            await asyncio.gather(*(writer.wait_closed() for _, writer in conns))


async def http_loop(conn: HttpConn, deadline: float, latencies: list[float]) -> None:
    """Sequential keep-alive GET /healthz on one connection until the deadline."""
    reader, writer = conn
    port = writer.get_extra_info("peername")[1]
    request = f"GET /healthz HTTP/1.1\r\nHost: {HOST}:{port}\r\n\r\n".encode()
    while (start := time.perf_counter()) < deadline:
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        body = await reader.readexactly(content_length(head))
        latencies.append(time.perf_counter() - start)
        if not head.startswith(b"HTTP/1.1 200 ") or body != b"ok":
            raise RuntimeError(f"unexpected response: {head!r} {body!r}")


async def open_websockets(port: int, count: int) -> list[ClientConnection]:
    """Open `count` echo WebSockets, a few at a time so no listen backlog overflows.

    No compression: Uvicorn would accept permessage-deflate and Daphne would not, so
    offering it would compare different wire protocols.
    """
    uri = f"ws://{HOST}:{port}/bench/echo/"
    limit = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def open_one() -> ClientConnection:
        async with limit:
            return await connect(
                uri,
                compression=None,
                proxy=None,
                ping_interval=None,
                open_timeout=OP_TIMEOUT,
                close_timeout=CLOSE_TIMEOUT,
            )

    return await asyncio.gather(*(open_one() for _ in range(count)))


async def close_websockets(conns: Sequence[ClientConnection]) -> None:
    """Close WebSockets; each close is bounded by CLOSE_TIMEOUT."""
    await asyncio.gather(*(ws.close() for ws in conns))


async def ws_loop(ws: ClientConnection, deadline: float, latencies: list[float]) -> None:
    """Sequential send -> echo round trips on one WebSocket until the deadline."""
    while (start := time.perf_counter()) < deadline:
        await ws.send(WS_MESSAGE)
        reply = await ws.recv()
        latencies.append(time.perf_counter() - start)
        if reply != WS_MESSAGE:
            raise RuntimeError(f"bad echo: {reply!r}")


async def http_phase(pid: int, port: int, clients: int, duration: float) -> Phase:
    """GET /healthz from `clients` concurrent keep-alive connections."""
    conns = await open_http(port, clients)
    try:
        return await timed_phase(pid, conns, http_loop, duration)
    finally:
        await close_http(conns)


async def ws_phase(pid: int, port: int, clients: int, duration: float) -> Phase:
    """Echo round trips on `clients` concurrent WebSockets."""
    conns = await open_websockets(port, clients)
    try:
        return await timed_phase(pid, conns, ws_loop, duration)
    finally:
        await close_websockets(conns)


async def idle_rss(pid: int, port: int, settle: float) -> tuple[int, int]:
    """Server RSS in KiB before and while IDLE_SOCKETS WebSockets sit idle."""
    before = rss_kib(pid)
    conns = await open_websockets(port, IDLE_SOCKETS)
    try:
        await asyncio.sleep(settle)
        return before, rss_kib(pid)
    finally:
        await close_websockets(conns)


async def measure(pid: int, port: int, durations: Durations) -> Metrics:
    """One server run. Idle RSS comes first, right after the warm-up, so memory freed by
    the load phases cannot be reused by the idle sockets and hide their cost."""
    await http_phase(pid, port, HTTP_CLIENTS, durations.warmup)
    await ws_phase(pid, port, WS_CLIENTS, durations.warmup)
    await asyncio.sleep(durations.settle)
    rss_base, rss_idle = await idle_rss(pid, port, durations.settle)
    http = await http_phase(pid, port, HTTP_CLIENTS, durations.http)
    ws = await ws_phase(pid, port, WS_CLIENTS, durations.ws)
    return {
        "http_rps": http.rate,
        "http_p50": http.p50_ms,
        "http_p99": http.p99_ms,
        "http_cpu": http.server_cpu,
        "http_cpu_op": http.server_cpu_per_op_us,
        "http_client": http.client_cpu_percent,
        "ws_rps": ws.rate,
        "ws_p50": ws.p50_ms,
        "ws_p99": ws.p99_ms,
        "ws_cpu": ws.server_cpu,
        "ws_cpu_op": ws.server_cpu_per_op_us,
        "ws_client": ws.client_cpu_percent,
        "rss_base": rss_base / 1024,
        "rss_idle": rss_idle / 1024,
        "kib_per_ws": (rss_idle - rss_base) / IDLE_SOCKETS,
    }


def run_once(name: str, durations: Durations) -> Metrics:
    """Start `name`, measure it, and stop it whatever happens."""
    with running_server(name) as (pid, port):
        return asyncio.run(measure(pid, port, durations), loop_factory=uvloop.new_event_loop)


def best(metric: Metric, values: Sequence[float]) -> float:
    """Best of the runs; for client CPU the worst, since it is a sanity check."""
    if not metric.ratio:
        return max(values)
    return max(values) if metric.higher_is_better else min(values)


def format_table(results: dict[str, list[Metrics]]) -> str:
    """Best-of-runs per server and metric, plus the uvicorn/daphne ratio."""
    rows = [("metric", *SERVERS, "uvicorn/daphne")]
    for metric in METRICS:
        daphne, uvicorn = (best(metric, [r[metric.key] for r in results[s]]) for s in SERVERS)
        ratio = f"{uvicorn / daphne:.2f}" if metric.ratio and daphne else "-"
        rows.append((metric.label, metric.fmt.format(daphne), metric.fmt.format(uvicorn), ratio))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short phases, under a minute")
    args = parser.parse_args()
    durations = QUICK if args.quick else FULL

    started = time.monotonic()
    results: dict[str, list[Metrics]] = {name: [] for name in SERVERS}
    for round_no in range(1, ROUNDS + 1):
        for name in SERVERS:
            metrics = run_once(name, durations)
            results[name].append(metrics)
            print(
                f"round {round_no} {name}: {metrics['http_rps']:.0f} req/s, "
                f"{metrics['ws_rps']:.0f} WS rt/s, {metrics['kib_per_ws']:.1f} KiB/idle WS",
                file=sys.stderr,
                flush=True,
            )

    print(
        f"best of {ROUNDS} runs; HTTP: {HTTP_CLIENTS} keep-alive clients x {durations.http:g}s; "
        f"WS: {WS_CLIENTS} sockets x {durations.ws:g}s; {os.cpu_count()} CPUs"
    )
    print(format_table(results))
    print(f"total {time.monotonic() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
