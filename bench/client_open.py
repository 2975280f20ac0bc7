"""Opening a room in a real browser: one of 10 messages, one of 50 (a full page), one of 10,000.

    python -m bench.client_open [--runs 7] [--loaded 1000] [--sends 5] [--trace]

Seeds both rooms in a private SQLite database, starts Parley as `make run` does (one
process; DEBUG on, so static files come from the app's finders without collectstatic),
and opens each room in Debian's Chromium from a fresh browser context (cold cache)
`--runs` times, alternating. It prints, per room, the time from navigation start to the
animation frame that first shows a message (median, min, max), the requests made, and
the bytes received: in all, for the history API (and its request-to-last-byte time),
and on the socket until then.

Then, in the 10,000-message room, it scrolls up until `--loaded` messages are in the
page and prints how smooth that page stays: the time each older page took to show, and
the animation-frame gaps and long tasks (over 50 ms) while wheeling through all of them.

Last, the time from pressing Enter in the composer to the frame that paints the sent
(pending) message and to the end of that frame, `--sends` sends each (every one
acknowledged before the next), with 10 messages loaded (the 10-message room), with 50
(the long room's first page) and with all `--loaded` of them. With `--trace`, each of
those sends is traced and its main-thread CPU time is printed by phase (in all, style,
layout, paint): what grows with the history in the page, and what does not.
Loopback only; the figures in docs/performance.md ("Client") come from this command.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.support import free_port

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


# Installed before any page script: every animation frame's time, and every long task.
SMOOTHNESS_PROBE = """
window.benchFrames = [];
window.benchLongTasks = [];
new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) window.benchLongTasks.push(entry.duration);
}).observe({ type: "longtask" });
requestAnimationFrame(function tick(at) {
    window.benchFrames.push(at);
    requestAnimationFrame(tick);
});
"""

# Arms the timing of the next send: the Enter key pressed in the composer (a real key
# event, through the composer's own handler) is timed from the keydown's timestamp to
# the animation frame that shows the new (pending) message (`frame`: its
# requestAnimationFrame callback, before the frame's style, layout and paint) and to
# the end of that frame (`painted`: a task queued from the callback runs once they are
# done). `window.benchSent` resolves with both, in milliseconds. The probe itself costs
# the same however long the list: it looks only at the nodes added to it.
ARM_SEND_TIMER = """
(body) => {
    const input = document.getElementById("composer-input");
    window.benchSent = new Promise((resolve) => {
        let pressed = null;
        input.addEventListener("keydown", (event) => { pressed = event.timeStamp; }, {
            capture: true, once: true,
        });
        const observer = new MutationObserver((records) => {
            const added = records.some((record) =>
                [...record.addedNodes].some((node) => node.classList?.contains("msg")));
            if (!added) return;
            observer.disconnect();
            requestAnimationFrame(() => {
                const frame = performance.now() - pressed;
                setTimeout(() => resolve({ frame, painted: performance.now() - pressed }));
            });
        });
        observer.observe(document.getElementById("messages"), { childList: true });
    });
    input.value = body;
    input.focus();
}
"""


# Resolves once the page has run the idle callbacks queued so far (the timeline's trim).
SETTLED = "new Promise((done) => requestIdleCallback(() => requestIdleCallback(done)))"


# With --trace, the renderer's main-thread CPU time of a send, by phase (Chromium's
# trace event names): the tasks in all, and the style, layout and paint steps in them.
TRACE_CATEGORIES = ["toplevel", "devtools.timeline"]
PHASES = {
    "in all": ("ThreadControllerImpl::RunTask",),
    "style": ("UpdateLayoutTree",),
    "layout": ("Layout",),
    "paint": ("PrePaint", "Paint", "Layerize"),
}


@dataclass
class SendTiming:
    frame: float  # Enter to the animation frame that shows the message
    painted: float  # Enter to the end of that frame
    cpu: dict[str, float] | None = None  # main-thread ms by phase, with --trace


def main_thread_cpu(trace: bytes, span_ms: float) -> dict[str, float] | None:
    """Main-thread CPU ms by phase from the Enter keydown until `span_ms` after it."""
    events = json.loads(trace)["traceEvents"]
    keydown = next(
        (
            e
            for e in events
            if e.get("name") == "EventDispatch"
            and (e.get("args", {}).get("data") or {}).get("type") == "keydown"
        ),
        None,
    )
    if keydown is None:
        return None
    thread, start = keydown["tid"], keydown["ts"]
    end = start + span_ms * 1000
    on_thread = sorted(
        (e for e in events if e.get("ph") == "X" and e.get("tid") == thread),
        key=lambda e: e["ts"],
    )
    cpu = {}
    for phase, names in PHASES.items():
        total, covered_until = 0, 0
        for event in on_thread:
            finish = event["ts"] + event.get("dur", 0)
            # Tasks overlapping the span; an event nested in one counted already is not.
            overlaps = finish > start and event["ts"] < end
            if event["name"] in names and overlaps and event["ts"] >= covered_until:
                total += event.get("tdur", event.get("dur", 0))
                covered_until = finish
        cpu[phase] = total / 1000
    cpu["the rest (script, …)"] = cpu["in all"] - cpu["style"] - cpu["layout"] - cpu["paint"]
    return cpu


@dataclass
class Smoothness:
    loaded: int
    in_page: int  # of them, in the page when the sends begin (the timeline trims it)
    page_ms: list[float]
    frame_gaps_ms: list[float]
    long_tasks_ms: list[float]
    send_first_page: list[SendTiming]
    send_loaded: list[SendTiming]


def time_sends(page: Page, label: str, sends: int, trace: bool = False) -> list[SendTiming]:
    """Enter-to-paint of `sends` messages, each acknowledged before the next is sent."""
    pending = page.locator("#messages li.msg-pending")
    browser = page.context.browser
    times = []
    for number in range(sends):
        page.evaluate(ARM_SEND_TIMER, f"{label} ({number + 1})")
        if trace:
            browser.start_tracing(page=page, categories=TRACE_CATEGORIES)
        page.keyboard.press("Enter")
        timing = SendTiming(**page.evaluate("window.benchSent"))
        if trace:
            timing.cpu = main_thread_cpu(browser.stop_tracing(), timing.painted)
        times.append(timing)
        expect(pending).to_have_count(0, timeout=30_000)
        page.wait_for_timeout(100)
    return times


def measure_small_room_sends(
    browser: Browser, origin: str, cookie: str, room_id: int, sends: int, trace: bool
) -> list[SendTiming]:
    """Enter-to-paint in a room with only a few messages loaded."""
    name, value = cookie.split("=", 1)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_cookies([{"name": name, "value": value, "url": origin}])
    page = context.new_page()
    page.goto(f"{origin}/rooms/{room_id}/")
    page.locator("#messages li.msg").first.wait_for(timeout=30_000)
    page.locator("#connection[data-state=connected]").wait_for(timeout=30_000)
    times = time_sends(page, "with a few messages loaded", sends, trace)
    context.close()
    return times


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def measure_smoothness(
    browser: Browser, origin: str, cookie: str, room_id: int, target: int, sends: int, trace: bool
) -> Smoothness:
    """Scroll a long room up to `target` messages, then wheel through them and send."""
    name, value = cookie.split("=", 1)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_cookies([{"name": name, "value": value, "url": origin}])
    context.add_init_script(SMOOTHNESS_PROBE)
    page = context.new_page()
    page.goto(f"{origin}/rooms/{room_id}/")
    messages = page.locator("#messages li.msg")
    messages.first.wait_for(timeout=30_000)
    page.locator("#connection[data-state=connected]").wait_for(timeout=30_000)
    send_first_page = time_sends(page, "with one page loaded", sends, trace)
    conversation = page.locator("#conversation")
    page_ms = []
    while (shown := messages.count()) < target:
        started = time.perf_counter()
        conversation.evaluate("element => { element.scrollTop = 0; }")
        expect(messages).not_to_have_count(shown, timeout=30_000)
        page_ms.append((time.perf_counter() - started) * 1000)
    loaded = messages.count()
    box = conversation.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.evaluate("window.benchFrames = []; window.benchLongTasks = [];")
    height = conversation.evaluate("element => element.scrollHeight")
    for _ in range(int(height / 400) + 1):
        page.mouse.wheel(0, 400)
        page.wait_for_timeout(16)
    frames = page.evaluate("window.benchFrames")
    long_tasks = page.evaluate("window.benchLongTasks")
    page.evaluate(SETTLED)
    in_page = messages.count()
    send_loaded = time_sends(page, "with every page loaded", sends, trace)
    context.close()
    return Smoothness(
        loaded=loaded,
        in_page=in_page,
        page_ms=page_ms,
        frame_gaps_ms=[b - a for a, b in pairwise(frames)],
        long_tasks_ms=long_tasks,
        send_first_page=send_first_page,
        send_loaded=send_loaded,
    )


def smoothness_report(runs: list[Smoothness]) -> str:
    pages = [ms for run in runs for ms in run.page_ms]
    gaps = [ms for run in runs for ms in run.frame_gaps_ms]
    tasks = [ms for run in runs for ms in run.long_tasks_ms]
    loaded = min(run.loaded for run in runs)
    return "\n".join(
        [
            f"| with {loaded:,} messages loaded ({len(runs)} runs) | median | p95 | max |",
            "| --- | --- | --- | --- |",
            f"| an older page shown after scrolling to the top ({len(pages)} pages) "
            f"| {statistics.median(pages):.0f} ms | {percentile(pages, 0.95):.0f} ms "
            f"| {max(pages):.0f} ms |",
            f"| animation-frame gap while wheeling through them ({len(gaps)} frames) "
            f"| {statistics.median(gaps):.1f} ms | {percentile(gaps, 0.95):.1f} ms "
            f"| {max(gaps):.1f} ms |",
            f"| long tasks (> 50 ms) while wheeling | {len(tasks)} in all "
            f"| | {max(tasks, default=0):.0f} ms |",
        ]
    )


def send_report(few: list[SendTiming], runs: list[Smoothness]) -> str:
    rows = [
        (f"10 to {10 + len(few) - 1}", few),
        ("50 (one page)", [timing for run in runs for timing in run.send_first_page]),
        (
            f"{min(run.loaded for run in runs):,} ({max(run.in_page for run in runs)} in the page)",
            [t for run in runs for t in run.send_loaded],
        ),
    ]
    lines = [
        "| Enter to the sent message painted, messages loaded | sends "
        "| to its frame, median (min–max) | to that frame done, median (min–max) |",
        "| --- | --- | --- | --- |",
    ]
    for loaded, timings in rows:
        cells = []
        for times in ([t.frame for t in timings], [t.painted for t in timings]):
            cells.append(f"{statistics.median(times):.1f} ms ({min(times):.1f}–{max(times):.1f})")
        lines.append(f"| {loaded} | {len(timings)} | {cells[0]} | {cells[1]} |")
    if all(t.cpu for _, timings in rows for t in timings):
        phases = list(few[0].cpu)
        lines += [
            "",
            "| main-thread CPU from Enter to that frame done (traced), messages loaded "
            + "".join(f"| {phase}, median " for phase in phases)
            + "|",
            "| --- " * (len(phases) + 1) + "|",
        ]
        for loaded, timings in rows:
            medians = [statistics.median(t.cpu[phase] for t in timings) for phase in phases]
            lines.append(f"| {loaded} " + "".join(f"| {ms:.1f} ms " for ms in medians) + "|")
    return "\n".join(lines)


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
    parser.add_argument(
        "--loaded", type=int, default=1000, help="messages to scroll into the long room"
    )
    parser.add_argument("--smooth-runs", type=int, default=3, help="runs of the scroll test")
    parser.add_argument("--sends", type=int, default=5, help="sends timed per run and room")
    parser.add_argument(
        "--trace",
        action="store_true",
        help="trace each timed send and print its main-thread CPU time by phase",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="parley-client-open-") as tmp:
        database = databases.sqlite_url(Path(tmp))
        databases.migrate(database)
        port = free_port()
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
            long_room = made["ten-thousand"]
            smooth = [
                measure_smoothness(
                    browser,
                    origin,
                    long_room.cookies[0],
                    long_room.id,
                    args.loaded,
                    args.sends,
                    args.trace,
                )
                for _ in range(args.smooth_runs)
            ]
            small = made["ten"]
            few = [
                ms
                for _ in range(args.smooth_runs)
                for ms in measure_small_room_sends(
                    browser, origin, small.cookies[0], small.id, args.sends, args.trace
                )
            ]
            browser.close()
    print(report(results))
    print()
    print(smoothness_report(smooth))
    print()
    print(send_report(few, smooth))


if __name__ == "__main__":
    main()
