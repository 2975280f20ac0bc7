"""Acked sends/s with 50 senders in 50 rooms, beside the database's own rates.

Parley: one server (Redis for the fan-out, as in production), one socket per room, each
room with one member, so fan-out stays out of the figure. The maximum is the closed loop
(each sender sends, waits for its ack, sends again); then an open-loop step at half that
rate gives the ack p99 a server not at its limit answers with.

The database: a plain script over the same database (file or server), no Django, one
connection, on tables of its own shaped like a send's: single-statement transactions/s
(one INSERT, committed), and sends/s in transactions of 50 sends, each send the three
statements Parley's send makes (UPDATE the room's seq RETURNING it, SELECT the sender's
state, INSERT the message). The ratio of Parley's figure to these, measured in the same
run on the same machine, is what the targets judge.
"""

import sqlite3
import statistics
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import psycopg

from tests.support import free_port

from . import fixtures
from .environment import parley_env
from .fixtures import RoomFixture
from .loadgen import ClosedLoopResult, LoadGenerator, StepResult
from .probe import exchange
from .scenarios import Context, settle
from .servers import LogReport, running_server
from .storm import forget

ROOMS = 50
BATCH = 50
TARGET_SENDS = {"sqlite": 5000.0, "postgres": 2000.0}
TARGET_P99_MS = 50.0
CONN_MAX_AGE = {"sqlite": None, "postgres": 60}  # as .env.example recommends for PostgreSQL


@dataclass(frozen=True)
class SendsPlan:
    databases: tuple[str, ...]  # "sqlite", "postgres"
    closed_seconds: float
    half_seconds: float
    raw_seconds: float  # each raw rate is measured for about this long


@dataclass
class RawRates:
    single_tx: float  # one-INSERT transactions committed per second
    batched_sends: float  # sends per second in transactions of BATCH sends


@dataclass
class SendsResult:
    database: str
    run: int
    raw_before: RawRates
    raw_after: RawRates
    closed: ClosedLoopResult
    half: StepResult
    stored: int
    expected: int
    log: LogReport

    @property
    def raw(self) -> RawRates:
        """The mean of the raw rates measured before and after Parley's steps."""
        return RawRates(
            (self.raw_before.single_tx + self.raw_after.single_tx) / 2,
            (self.raw_before.batched_sends + self.raw_after.batched_sends) / 2,
        )


def room_names(database: str) -> dict[str, int]:
    """One single-member room per sender (dict keeps the order)."""
    return {f"sends-{database}-{i}": 1 for i in range(ROOMS)}


def run_sends(
    ctx: Context, database: str, rooms: list[RoomFixture], database_url: str, plan: SendsPlan,
    run: int,
) -> SendsResult:  # fmt: skip
    """Raw rates, Parley's maximum and its ack p99 at half of it, raw rates again."""
    raw_before = raw_rates(database_url, plan.raw_seconds)
    port = free_port()
    prefix = ctx.prefix(f"sends-{database}-{run}")
    env = parley_env(
        database_url, port=port, redis_prefix=prefix, conn_max_age=CONN_MAX_AGE[database]
    )
    cookies = [room.cookies[0] for room in rooms]
    room_ids = [room.id for room in rooms]
    before = fixtures.count_messages(parley_env(database_url), room_ids)
    try:
        with running_server(f"sends-{database}-{run}", "parley", env, ctx.workdir, port) as server:
            warm = exchange(server.url, server.origin, cookies[:1], room_ids[0])
            settle(server.pid)
            with LoadGenerator(cookies, len(cookies), 0, rooms=room_ids) as gen:
                connected = gen.connect(server.url, server.origin)
                if connected.failed:
                    raise RuntimeError(f"sends {database}: sockets failed: {connected.failures}")
                closed = gen.closed_loop(
                    [server.pid], next(ctx.steps), room_ids, plan.closed_seconds
                )
                settle(server.pid)
                half = gen.step(
                    [server.pid], next(ctx.steps), None, closed.acks_per_s / 2,
                    plan.half_seconds, drain=5.0,
                )  # fmt: skip
                settle(server.pid)
                gen.close()
            log = server.log()
    finally:
        forget(prefix)
    after = fixtures.count_messages(parley_env(database_url), room_ids)
    stored = sum(after.values()) - sum(before.values())
    raw_after = raw_rates(database_url, plan.raw_seconds)
    result = SendsResult(
        database, run, raw_before, raw_after, closed, half, stored,
        warm.acks + closed.acks + half.acks, log,
    )  # fmt: skip
    ctx.say(
        f"sends {database}: {closed.acks_per_s:,.0f} acked sends/s (p99 {closed.ack_p99_ms:.1f} "
        f"ms, errors {closed.errors + closed.timeouts}); at {half.rate:,.0f}/s ack p99 "
        f"{half.ack_p99_ms:.1f} ms ({half.acks}/{half.sent} acked); raw "
        f"{result.raw.single_tx:,.0f} tx/s, {result.raw.batched_sends:,.0f} sends/s in "
        f"batches of {BATCH}; stored {stored} of {result.expected} acked; server "
        f"{closed.server_cpu_s:.1f} CPU s"
    )
    return result


# The raw rates: a plain script, no Django, over the same database.

_TABLES = ("bench_raw_message", "bench_raw_room")


def raw_rates(database_url: str, seconds: float) -> RawRates:
    """Single-statement transactions/s, then sends/s in transactions of BATCH sends."""
    if database_url.startswith("sqlite:///"):
        conn = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
        conn.executescript(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;"
        )
        begin, param = "BEGIN IMMEDIATE", "?"
    else:
        conn = psycopg.connect(database_url, autocommit=True)
        begin, param = "BEGIN", "%s"
    try:
        return _measure(conn, begin, param, seconds)
    finally:
        for table in _TABLES:
            conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.close()


def _measure(conn, begin: str, p: str, seconds: float) -> RawRates:
    auto = "INTEGER PRIMARY KEY AUTOINCREMENT" if p == "?" else "BIGSERIAL PRIMARY KEY"
    for table in _TABLES:
        conn.execute(f"DROP TABLE IF EXISTS {table}")
    conn.execute(f"CREATE TABLE bench_raw_room (id {auto}, last_seq INTEGER NOT NULL)")
    conn.execute(
        f"CREATE TABLE bench_raw_message (id {auto}, room_id INTEGER NOT NULL, "
        "seq INTEGER NOT NULL, author_id INTEGER NOT NULL, client_msg_id VARCHAR(64) NOT NULL, "
        "body TEXT NOT NULL, UNIQUE (author_id, client_msg_id), UNIQUE (room_id, seq))"
    )
    for _ in range(ROOMS):
        conn.execute("INSERT INTO bench_raw_room (last_seq) VALUES (0)")
    insert = (
        "INSERT INTO bench_raw_message (room_id, seq, author_id, client_msg_id, body) "
        f"VALUES ({p}, {p}, {p}, {p}, {p}) RETURNING id"
    )
    advance = f"UPDATE bench_raw_room SET last_seq = last_seq + 1 WHERE id = {p} RETURNING last_seq"
    state = (
        f"SELECT (SELECT count(*) FROM bench_raw_room WHERE id = {p}), "
        f"(SELECT id FROM bench_raw_message WHERE author_id = {p} AND client_msg_id = {p})"
    )
    negative = iter(range(-1, -(10**9), -1))  # single-statement rows: seqs of their own

    def single() -> int:
        conn.execute(begin)
        conn.execute(insert, (1, next(negative), 1, str(uuid.uuid4()), "hello")).fetchone()
        conn.execute("COMMIT")
        return 1

    def batch() -> int:
        conn.execute(begin)
        for i in range(BATCH):
            room = 1 + i % ROOMS
            seq = conn.execute(advance, (room,)).fetchone()[0]
            cid = str(uuid.uuid4())
            conn.execute(state, (room, 2, cid)).fetchone()
            conn.execute(insert, (room, seq, 2, cid, "hello")).fetchone()
        conn.execute("COMMIT")
        return BATCH

    return RawRates(_rate(single, seconds / 2), _rate(batch, seconds / 2))


def _rate(unit: Callable[[], int], seconds: float) -> float:
    done, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        done += unit()
    return done / elapsed


# The report.


def _median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else 0.0


def sends_table(results: Sequence[SendsResult]) -> str:
    """Per database (medians over the runs): Parley beside the raw rates and the targets."""
    lines = [
        f"Sends: {ROOMS} senders in {ROOMS} rooms (one member each), Redis; medians of "
        f"{max((r.run for r in results), default=0) + 1} run(s). Raw: a plain script on the "
        f"same database, before and after Parley's steps.",
    ]
    header = (
        "database", "acked sends/s", "raw 1-stmt tx/s", "raw sends/s (x50)", "vs raw x50",
        "target", "ack p99 @ half", "target", "stored = acked",
    )  # fmt: skip
    rows = [header]
    for database in dict.fromkeys(r.database for r in results):
        mine = [r for r in results if r.database == database]
        acked = _median([r.closed.acks_per_s for r in mine])
        single = _median([r.raw.single_tx for r in mine])
        batched = _median([r.raw.batched_sends for r in mine])
        p99 = _median([r.half.ack_p99_ms for r in mine])
        target = TARGET_SENDS.get(database, 0.0)
        rows.append((
            database, f"{acked:,.0f}", f"{single:,.0f}", f"{batched:,.0f}",
            f"{acked / batched:.2f}" if batched else "-",
            f"{'PASS' if acked >= target else 'FAIL'} (>= {target:,.0f})",
            f"{p99:.1f} ms", f"{'PASS' if p99 <= TARGET_P99_MS else 'FAIL'} (<= {TARGET_P99_MS:g})",
            "yes" if all(r.stored == r.expected for r in mine)
            else "NO " + ", ".join(f"{r.stored}/{r.expected}" for r in mine),
        ))  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines += [
        f"  {r.database} run {r.run + 1}: {r.closed.acks_per_s:,.0f}/s (server "
        f"{r.closed.server_cpu_s / max(r.closed.acks, 1) * 1e6:,.0f} µs CPU per send), "
        f"half {r.half.rate:,.0f}/s p99 {r.half.ack_p99_ms:.1f} ms, raw "
        f"{r.raw_before.single_tx:,.0f}/{r.raw_after.single_tx:,.0f} tx/s, "
        f"{r.raw_before.batched_sends:,.0f}/{r.raw_after.batched_sends:,.0f} sends/s"
        for r in results
    ]
    return "\n".join(lines)


FULL = SendsPlan(
    databases=("sqlite", "postgres"), closed_seconds=6.0, half_seconds=5.0, raw_seconds=2.0
)
QUICK = SendsPlan(databases=("sqlite",), closed_seconds=1.5, half_seconds=1.0, raw_seconds=0.3)
SERVER_SECONDS = 6.0  # a server's start, warm-up and settling, the rooms' counts


def reserve(plan: SendsPlan) -> float:
    """Seconds the fan-out sweep leaves for each database's run."""
    return plan.closed_seconds + plan.half_seconds + 2 * plan.raw_seconds + SERVER_SECONDS


def run_all(
    ctx: Context, plan: SendsPlan, repeat: int, sqlite_url: str,
    made: dict[str, RoomFixture], postgres: Callable,
) -> list[SendsResult]:  # fmt: skip
    """Every database `repeat` times; PostgreSQL on a database of its own (`postgres()`,
    a context manager yielding its URL, migrated here)."""
    from . import databases

    results: list[SendsResult] = []
    for database in plan.databases:
        names = room_names(database)
        if database == "sqlite":
            rooms = [made[name] for name in names]
            for run in range(repeat):
                ctx.say(f"--- sends, {database} (run {run + 1} of {repeat})")
                results.append(run_sends(ctx, database, rooms, sqlite_url, plan, run))
            continue
        with postgres() as url:
            databases.migrate(url)
            made_pg = fixtures.make_rooms(parley_env(url), names)
            rooms = [made_pg[name] for name in names]
            for run in range(repeat):
                ctx.say(f"--- sends, {database} (run {run + 1} of {repeat})")
                results.append(run_sends(ctx, database, rooms, url, plan, run))
    return results
