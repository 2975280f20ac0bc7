"""Reconnect storm: every tab of many users connects at once and catches up, as after a
worker died or a network blip.

`users` people, each with `tabs` tabs (one session per person, as a browser's tabs share
their cookie), all members of one room that got `missed` messages while they were away.
Two storms on a fresh server process:

1. connect: every tab opens at once (no client-side limit) and waits for its `hello`;
   connects/s and the server's CPU per connect, and the server's RSS before and after
   (its idle memory per tab, the sockets then open and quiet);
2. catch-up: the tabs are dropped and open again at once; each, on its `hello`, fetches
   the room `after` the seq it last held, as docs/protocol.md's client duties say (the
   web client's page of 200), and is caught up when the `messages` page holds every
   missed message: the time until the last tab is.

The ceiling (bench/ceiling.py) takes storm 1 in the same run: its connects/s is what the
machine and this client allow. The scenario's own process is the client (the lean
reader of bench/leanws.py: the handshake through websockets' sans-I/O protocol).

    python -m bench.reconnect [--quick] [--repeat N] [--postgres-only | --sqlite-only]

or as part of `python -m bench` (bench/__main__.py).
"""

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import uvloop

from tests.support import free_port

from . import databases, procfs
from .environment import PYTHON, parley_env, server_root
from .leanws import LeanClient, Sink
from .scenarios import settle
from .servers import LogReport, running_server
from .storm import forget

MESSAGES = b'{"type":"messages"'
HELLO = b'{"type":"hello"'
CATCH_UP_LIMIT = 200  # the web client's catch-up page (chat/static/chat/sync.js)
OPEN_TIMEOUT = 60.0
CONN_MAX_AGE = 60  # on PostgreSQL, as production runs (.env.example)
CONFIGURATIONS = {
    "sqlite": "Parley, SQLite + in-memory layer",
    "postgres": "Parley, PostgreSQL + Redis (CONN_MAX_AGE=60)",
}


@dataclass(frozen=True)
class StormPlan:
    users: int
    tabs: int
    missed: int
    configurations: tuple[str, ...]

    @property
    def sockets(self) -> int:
        return self.users * self.tabs


FULL = StormPlan(users=100, tabs=10, missed=50, configurations=("sqlite", "postgres"))
QUICK = StormPlan(users=20, tabs=5, missed=50, configurations=("sqlite",))
RESERVE_SECONDS = {True: 20.0, False: 240.0}  # kept back from the fan-out sweep: quick, full


@dataclass
class StormFigures:
    """One storm pair on one fresh server."""

    label: str
    sockets: int
    connect_seconds: float = 0.0
    connect_cpu_seconds: float = 0.0
    caught_up_seconds: float | None = None
    catch_up_cpu_seconds: float | None = None
    kib_per_tab: float | None = None
    failed: int = 0
    failures: list[str] = field(default_factory=list)
    log: LogReport | None = None

    @property
    def connects_per_s(self) -> float:
        return self.sockets / self.connect_seconds if self.connect_seconds else 0.0

    @property
    def cpu_ms_per_connect(self) -> float:
        return self.connect_cpu_seconds / self.sockets * 1e3

    @property
    def cpu_ms_per_catch_up(self) -> float | None:
        if self.catch_up_cpu_seconds is None:
            return None
        return self.catch_up_cpu_seconds / self.sockets * 1e3


class _Quiet(Sink):
    def message(self, step: int, sent_ns: int, now_ns: int) -> None:
        pass

    def ack(self, client: LeanClient, step: int, sent_ns: int, now_ns: int) -> None:
        pass

    def error(self, client: LeanClient, frame: bytes) -> None:
        client.errors.append(frame[:200].decode(errors="replace"))  # type: ignore[attr-defined]


class Tab(LeanClient):
    """A tab: on `hello`, fetch the room after the seq held (when `after` is set);
    `caught_up` resolves once the page holds seqs after+1 … `head`."""

    def __init__(self, url: str, origin: str, cookie: str, room: int, after: int | None,
                 head: int) -> None:  # fmt: skip
        super().__init__(url, origin, cookie, _Quiet())
        self.room, self.after, self.head = room, after, head
        self.errors: list[str] = []
        self.caught_up: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def _text(self, buf: bytes, start: int, end: int, now: int) -> None:
        if buf.startswith(HELLO, start) and not self.opened.done():
            self.opened.set_result(None)
            if self.after is not None:
                fetch = {"type": "fetch", "room": self.room, "after": self.after}
                self.send_text(json.dumps({**fetch, "limit": CATCH_UP_LIMIT}))
        elif buf.startswith(MESSAGES, start) and not self.caught_up.done():
            page = json.loads(buf[start:end])
            seqs = [message["seq"] for message in page["messages"]]
            wanted = list(range(self.after + 1, self.head + 1))
            if seqs == wanted and not page["has_more"]:
                self.caught_up.set_result(None)
            else:
                self.caught_up.set_exception(
                    RuntimeError(f"page {seqs[:3]}…{seqs[-3:]} is not {wanted[0]}…{wanted[-1]}")
                )
        else:
            super()._text(buf, start, end, now)


async def _open_all(
    url: str, origin: str, cookies: list[str], room: int, after: int | None, head: int,
    on_last_hello: Callable[[], None],
) -> tuple[list[Tab], float, float | None, list[str]]:  # fmt: skip
    """Open a tab per cookie at once; (tabs open, seconds to the last hello, seconds to
    the last caught up, failures)."""
    loop = asyncio.get_running_loop()
    host, port = url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
    started = time.monotonic()
    last_hello = last_caught_up = started
    failures: list[str] = []
    opened: list[Tab] = []
    waiting = len(cookies)

    async def one(cookie: str) -> None:
        nonlocal last_hello, last_caught_up, waiting
        tab = Tab(url, origin, cookie, room, after, head)
        try:
            async with asyncio.timeout(OPEN_TIMEOUT):
                await loop.create_connection(lambda: tab, host, int(port))
                await tab.opened
                last_hello = max(last_hello, time.monotonic())
                waiting -= 1
                if not waiting:
                    on_last_hello()
                opened.append(tab)
                if after is not None:
                    await tab.caught_up
                    last_caught_up = max(last_caught_up, time.monotonic())
        except Exception as exc:
            waiting -= 1
            failures.append(f"{type(exc).__name__}: {exc} {tab.errors[:1]}")
            tab.abort()

    await asyncio.gather(*(one(cookie) for cookie in cookies))
    caught = last_caught_up - started if after is not None else None
    return opened, last_hello - started, caught, failures


async def _storm(
    pid: int, url: str, origin: str, cookies: list[str], room: int, after: int | None, head: int
) -> tuple[list[Tab], float, float, float | None, float | None, list[str]]:
    """One storm: (tabs, seconds to the last hello, server CPU until then, seconds to the
    last caught up, server CPU until then, failures). The tabs stay open."""
    cpu_at_hello: list[float] = []
    before = procfs.cpu_seconds(pid)
    tabs, hello_s, caught_s, failures = await _open_all(
        url, origin, cookies, room, after, head,
        lambda: cpu_at_hello.append(procfs.cpu_seconds(pid)),
    )  # fmt: skip
    cpu_caught = procfs.cpu_seconds(pid) - before if after is not None else None
    hello_cpu = (cpu_at_hello[0] if cpu_at_hello else procfs.cpu_seconds(pid)) - before
    return tabs, hello_s, hello_cpu, caught_s, cpu_caught, failures


async def _close(tabs: list[Tab]) -> None:
    await asyncio.gather(*(tab.close(timeout=5.0) for tab in tabs))


async def _settle(pid: int) -> None:
    await asyncio.to_thread(settle, pid)


async def _storms(
    figures: StormFigures, kind: str, pid: int, url: str, origin: str, cookies: list[str],
    room: int, head: int, missed: int,
) -> None:  # fmt: skip
    if kind == "parley":
        # One tab first, so imports and first-use caches are not counted per tab.
        tabs, *_rest, failures = await _storm(pid, url, origin, cookies[:1], room, head - 1, head)
        await _close(tabs)
        if failures:
            raise RuntimeError(f"{figures.label}: the first tab failed: {failures}")
    await _settle(pid)
    rss_before = procfs.rss_kib(pid)
    tabs, hello_s, hello_cpu, _c, _cc, failures = await _storm(
        pid, url, origin, cookies, room, None, head
    )
    figures.connect_seconds, figures.connect_cpu_seconds = hello_s, hello_cpu
    figures.failed += len(failures)
    figures.failures += failures[:3]
    await _settle(pid)
    await asyncio.sleep(0.5)
    open_tabs = [tab for tab in tabs if tab.is_open]
    figures.kib_per_tab = (procfs.rss_kib(pid) - rss_before) / max(1, len(open_tabs))
    if len(open_tabs) < len(tabs):
        figures.failures.append(f"{len(tabs) - len(open_tabs)} tabs closed while idle")
    await _close(tabs)
    await _settle(pid)
    if kind == "parley":
        tabs, _h, _hc, caught_s, caught_cpu, failures = await _storm(
            pid, url, origin, cookies, room, head - missed, head
        )
        figures.caught_up_seconds, figures.catch_up_cpu_seconds = caught_s, caught_cpu
        figures.failed += len(failures)
        figures.failures += failures[:3]
        await _close(tabs)


def storm_server(
    label: str, kind: str, env: dict[str, str], workdir: Path, port: int, cookies: list[str],
    room: int, head: int, missed: int, say: Callable[[str], None],
) -> StormFigures:  # fmt: skip
    """Both storms on one fresh server (the ceiling: the connect storm only)."""
    figures = StormFigures(label, len(cookies))
    with running_server(f"reconnect-{label}", kind, env, workdir, port) as server:  # type: ignore[arg-type]
        where = (server.pid, server.url, server.origin)
        storms = _storms(figures, kind, *where, cookies, room, head, missed)
        asyncio.run(storms, loop_factory=uvloop.new_event_loop)
        settle(server.pid)
        if kind == "parley":
            figures.log = server.log()
    say(
        f"reconnect {label}: {figures.sockets} tabs, {figures.connects_per_s:.0f} connects/s "
        f"({figures.connect_seconds:.2f}s), {figures.cpu_ms_per_connect:.2f} ms CPU/connect, "
        + (f"caught up in {figures.caught_up_seconds:.2f}s, " if figures.caught_up_seconds else "")
        + f"{figures.kib_per_tab:.1f} KiB/tab, {figures.failed} failed {figures.failures[:2]}"
    )
    return figures


def _make_room(env: dict[str, str], name: str, users: int, missed: int) -> dict:
    """In one Django process (bench.fixtures' own makers): the room and its members, then
    `missed` + 20 messages, of which every member last read all but the last `missed`."""
    script = (
        "import json, django; django.setup()\n"
        "from django.db.models import F\n"
        "from bench.fixtures import _add_history, _create_rooms\n"
        "from chat.models import Membership\n"
        f"room = _create_rooms({{{name!r}: {users}}})[{name!r}]\n"
        f"head = _add_history({{str(room['id']): {missed + 20}}})[str(room['id'])]\n"
        "Membership.objects.filter(room_id=room['id'])"
        f".update(last_read_seq=F('last_read_seq') - {missed})\n"
        "print(json.dumps(dict(room, head=head)))\n"
    )
    done = subprocess.run(
        [PYTHON, "-c", script], cwd=server_root.path, env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"reconnect fixtures failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _prepare(database_url: str, plan: StormPlan, name: str) -> tuple[list[str], int, int]:
    """The room and its members' tabs: (a cookie per tab, room id, last seq)."""
    room = _make_room(parley_env(database_url), name, plan.users, plan.missed)
    cookies = [cookie for cookie in room["cookies"] for _tab in range(plan.tabs)]
    return cookies, room["id"], room["head"]


@dataclass
class ReconnectRun:
    ceiling: StormFigures
    parley: list[StormFigures]


def run(
    plan: StormPlan, workdir: Path, repeat: int, say: Callable[[str], None], prefix: str,
    sqlite: str | None = None,
) -> list[ReconnectRun]:  # fmt: skip
    """The ceiling and each configuration, `repeat` times (each on a fresh server).
    `sqlite`: a migrated SQLite database of the run's to add the room to (else one of
    its own); PostgreSQL is a database of its own, dropped after."""
    runs: list[ReconnectRun] = []
    prepared: dict[str, tuple[str, list[str], int, int]] = {}
    with contextlib.ExitStack() as stack:
        for configuration in plan.configurations:
            if configuration == "sqlite" and sqlite:
                url = sqlite
            else:
                if configuration == "sqlite":
                    url = f"sqlite:///{workdir / 'reconnect.sqlite3'}"
                else:
                    name = f"parley_bench_reconnect_{os.getpid()}"
                    url = stack.enter_context(databases.postgres_database(name))
                databases.migrate(url)
            prepared[configuration] = (url, *_prepare(url, plan, "reconnect"))
            say(f"reconnect: {plan.users} users × {plan.tabs} tabs ready on {configuration}")
        for r in range(repeat):
            first = prepared[plan.configurations[0]]
            port = free_port()
            ceiling = storm_server(
                "ceiling", "ceiling", parley_env(first[0], port=port), workdir, port,
                first[1], first[2], first[3], plan.missed, say,
            )  # fmt: skip
            parley = []
            for configuration in plan.configurations:
                url, cookies, room, head = prepared[configuration]
                port = free_port()
                tag = f"{prefix}-{configuration}-{r}"
                redis_prefix = None if configuration == "sqlite" else tag
                # PostgreSQL keeps its connections, as .env.example and docs/deploy.md say.
                age = None if configuration == "sqlite" else CONN_MAX_AGE
                env = parley_env(url, port=port, redis_prefix=redis_prefix, conn_max_age=age)
                try:
                    parley.append(storm_server(
                        CONFIGURATIONS[configuration], "parley", env, workdir, port, cookies,
                        room, head, plan.missed, say,
                    ))  # fmt: skip
                finally:
                    if redis_prefix:
                        forget(redis_prefix)
            runs.append(ReconnectRun(ceiling, parley))
    return runs


def _median(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def _cell(values: list[float | None], fmt: str) -> str:
    middle = _median(values)
    text = "–" if middle is None else fmt.format(middle)
    if len(values) > 1:
        text += " (" + "/".join("–" if v is None else fmt.format(v) for v in values) + ")"
    return text


def table(runs: list[ReconnectRun], plan: StormPlan) -> str:
    """Medians over the runs (each run's values in brackets), and the targets."""
    lines = [
        f"Reconnect storm: {plan.users} users × {plan.tabs} tabs = {plan.sockets} tabs at once, "
        f"each then catching up {plan.missed} missed messages; medians of {len(runs)} run(s).",
        "| server | connects/s | x ceil | last caught up (s) | ms CPU/connect | "
        "ms CPU/catch-up | KiB/idle tab | failed |",
        "|---|---|---|---|---|---|---|---|",
    ]
    ceilings = [run.ceiling for run in runs]
    lines.append(
        f"| ceiling (websockets) | {_cell([c.connects_per_s for c in ceilings], '{:.0f}')} | 1 | "
        f"– | {_cell([c.cpu_ms_per_connect for c in ceilings], '{:.2f}')} | – | "
        f"{_cell([c.kib_per_tab for c in ceilings], '{:.1f}')} | "
        f"{sum(c.failed for c in ceilings)} |"
    )
    verdicts = []
    for index, label in enumerate(run.label for run in runs[0].parley):
        rows = [run.parley[index] for run in runs]
        ratios = [
            row.connects_per_s / run.ceiling.connects_per_s if run.ceiling.connects_per_s else None
            for row, run in zip(rows, runs, strict=True)
        ]
        lines.append(
            f"| {label} | {_cell([r.connects_per_s for r in rows], '{:.0f}')} | "
            f"{_cell(ratios, '{:.2f}')} | {_cell([r.caught_up_seconds for r in rows], '{:.2f}')} | "
            f"{_cell([r.cpu_ms_per_connect for r in rows], '{:.2f}')} | "
            f"{_cell([r.cpu_ms_per_catch_up for r in rows], '{:.2f}')} | "
            f"{_cell([r.kib_per_tab for r in rows], '{:.1f}')} | {sum(r.failed for r in rows)} |"
        )
        rate = _median([r.connects_per_s for r in rows]) or 0.0
        caught = _median([r.caught_up_seconds for r in rows])
        kib = _median([r.kib_per_tab for r in rows])
        failed = sum(r.failed for r in rows)
        tracebacks = sum((r.log.tracebacks + r.log.errors) if r.log else 0 for r in rows)
        verdicts.append(
            f"{label}: ≥ 500 connects/s {'met' if rate >= 500 else 'NOT met'}; "
            f"{plan.sockets} tabs caught up in ≤ 5 s "
            f"{'met' if caught is not None and caught <= 5 and not failed else 'NOT met'}; "
            f"≤ 16 KiB/idle tab {'met' if kib is not None and kib <= 16 else 'NOT met'}; "
            f"log: {tracebacks} tracebacks/errors"
        )
    if plan.sockets < FULL.sockets:
        verdicts = [f"(targets are judged on {FULL.sockets:,} tabs: the full run)"]
    return "\n".join([*lines, "", *verdicts])


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reconnect", description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--users", type=int)
    parser.add_argument("--tabs", type=int)
    parser.add_argument("--only", choices=sorted(CONFIGURATIONS), nargs="+")
    parser.add_argument(
        "--server-root", type=Path, help="measure the Parley tree at this path (another revision)"
    )
    args = parser.parse_args()
    if args.server_root:
        server_root.path = args.server_root.resolve()
    plan = QUICK if args.quick else FULL
    plan = StormPlan(
        users=args.users or plan.users,
        tabs=args.tabs or plan.tabs,
        missed=plan.missed,
        configurations=tuple(args.only or plan.configurations),
    )

    def say(text: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)

    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    with tempfile.TemporaryDirectory(prefix="parley-reconnect-") as tmp:
        runs = run(plan, Path(tmp), args.repeat, say, f"parleybench{os.getpid()}-reconnect")
    print(f"python -m bench.reconnect · load before {load}, after "
          + " ".join(f"{x:.2f}" for x in os.getloadavg()))  # fmt: skip
    print(table(runs, plan))
    return 0


if __name__ == "__main__":
    sys.exit(main())
