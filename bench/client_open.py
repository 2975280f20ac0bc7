"""Opening a room in a real browser: one of 10 messages, one of 50 (a full page), one of 10,000.

    python -m bench.client_open [--runs 7]

Seeds both rooms in a private SQLite database, starts Parley as `make run` does (one
process; DEBUG on, so static files come from the app's finders without collectstatic),
and opens each room in Debian's Chromium from a fresh browser context (cold cache)
`--runs` times, alternating. It prints, per room, the time from navigation start to the
animation frame that first shows a message (median, min, max), the requests made, and
the bytes received: in all, for the history API (and its request-to-last-byte time),
and on the socket until then.
Loopback only; the figures in docs/performance.md ("Client") come from this command.
"""

import argparse
import os
import statistics
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Browser, sync_playwright

from . import databases, fixtures, servers
from .environment import HOST, parley_env

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run"]
ROOMS = {"ten": 10, "fifty": 50, "ten-thousand": 10_000}

# Installed before any page script: the time of the first animation frame after the
# first message element entered the conversation.
FIRST_MESSAGE_PROBE = """
window.benchFirstMessageAt = null;
new MutationObserver((changes, observer) => {
    if (document.querySelector("#messages li.msg")) {
        observer.disconnect();
        requestAnimationFrame(() => { window.benchFirstMessageAt = performance.now(); });
    }
}).observe(document, { childList: true, subtree: true });
"""


@dataclass
class Sample:
    first_message_ms: float
    messages_shown: int
    requests: int
    total_bytes: int
    history_bytes: int
    history_requests: int
    history_ms: float
    socket_bytes: int


@dataclass
class RoomResult:
    name: str
    messages: int
    samples: list[Sample] = field(default_factory=list)


def open_once(browser: Browser, origin: str, cookie: str, room_id: int) -> Sample:
    """One cold open of the room page: a new context, so nothing is cached."""
    name, value = cookie.split("=", 1)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_cookies([{"name": name, "value": value, "url": origin}])
    context.add_init_script(FIRST_MESSAGE_PROBE)
    page = context.new_page()
    finished: list = []
    socket_bytes = [0]
    page.on("requestfinished", lambda request: finished.append(request))
    page.on(
        "websocket",
        lambda socket: socket.on(
            "framereceived",
            lambda payload: socket_bytes.__setitem__(0, socket_bytes[0] + len(payload)),
        ),
    )
    page.goto(f"{origin}/rooms/{room_id}/")
    page.locator("#messages li.msg").first.wait_for(timeout=30_000)
    first = None
    while first is None:  # CSP forbids wait_for_function's eval; the frame is one rAF away
        first = page.evaluate("window.benchFirstMessageAt")
    shown = page.locator("#messages li.msg").count()
    socket_at_paint = socket_bytes[0]
    page.wait_for_load_state("networkidle")
    sizes = [(request.url, request.sizes()) for request in finished]
    history_timing = [
        request.timing for request in finished if f"/api/rooms/{room_id}/messages" in request.url
    ]
    context.close()
    history = [s for url, s in sizes if f"/api/rooms/{room_id}/messages" in url]
    return Sample(
        first_message_ms=first,
        messages_shown=shown,
        requests=len(sizes),
        total_bytes=sum(s["responseBodySize"] + s["responseHeadersSize"] for _, s in sizes),
        history_bytes=sum(s["responseBodySize"] + s["responseHeadersSize"] for s in history),
        history_requests=len(history),
        history_ms=sum(t["responseEnd"] - t["requestStart"] for t in history_timing),
        socket_bytes=socket_at_paint,
    )


def report(results: list[RoomResult]) -> str:
    lines = [
        "| room | first message painted, median (min–max) | messages shown | requests "
        "| bytes received | history API bytes (requests) | history API time, median "
        "| socket bytes before it, median |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for result in results:
        times = [s.first_message_ms for s in result.samples]
        last = result.samples[-1]
        lines.append(
            f"| {result.messages:,} messages | {statistics.median(times):.0f} ms "
            f"({min(times):.0f}–{max(times):.0f}) | {last.messages_shown} | {last.requests} "
            f"| {last.total_bytes:,} | {last.history_bytes:,} ({last.history_requests}) "
            f"| {statistics.median(s.history_ms for s in result.samples):.1f} ms "
            f"| {statistics.median(s.socket_bytes for s in result.samples):,.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="cold opens per room")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="parley-client-open-") as tmp:
        database = databases.sqlite_url(Path(tmp))
        databases.migrate(database)
        port = servers.free_port()
        env = parley_env(database, port=port, debug=True)
        made = fixtures.make_rooms(env, {name: 1 for name in ROOMS})
        fixtures.add_history(env, {made[name].id: count for name, count in ROOMS.items()})
        results = [RoomResult(name, count) for name, count in ROOMS.items()]
        print(f"seeded {', '.join(f'{c:,}' for c in ROOMS.values())} messages", file=sys.stderr)
        with (
            servers.running_server("parley", "parley", env, Path(tmp), port) as server,
            sync_playwright() as playwright,
        ):
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            origin = f"http://{HOST}:{server.port}"
            open_once(browser, origin, made["ten"].cookies[0], made["ten"].id)  # warm-up
            for run in range(args.runs):
                for result in results:
                    room = made[result.name]
                    result.samples.append(open_once(browser, origin, room.cookies[0], room.id))
                print(f"run {run + 1}/{args.runs} done", file=sys.stderr)
            browser.close()
    print(report(results))


if __name__ == "__main__":
    main()
