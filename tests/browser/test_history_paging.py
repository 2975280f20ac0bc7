"""A room of 10,000 messages opens with one page of history, like a room of 10.

What makes it as fast is structural: the client asks for the newest page once, and
nothing more until the reader scrolls up. The timings are in bench.client_open.
"""

import json
import subprocess
import sys

from playwright.sync_api import expect

from bench.fixtures import HISTORY_BODIES
from tests.browser.conftest import LiveServer
from tests.browser.test_chat_client import MESSAGES, join_room
from tests.support import ROOT

PAGE = 50  # chat.protocol.commands.DEFAULT_FETCH_LIMIT


def add_history(server: LiveServer, room_id: int, count: int) -> None:
    subprocess.run(
        [sys.executable, "-m", "bench.fixtures"],
        cwd=ROOT,
        env=server.env,
        input=json.dumps({"history": {str(room_id): count}}),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def test_opening_a_room_of_ten_thousand_messages_loads_only_the_newest_page(people):
    reader = people("reader")
    page = reader.new_page()
    page.goto(reader.server.url)
    room_id = join_room(page, "long history")
    page.close()
    add_history(reader.server, room_id, 10_000)

    page = reader.new_page()
    history_requests: list[str] = []
    fetch_frames: list[str] = []
    page.on(
        "request",
        lambda request: (
            history_requests.append(request.url) if "/messages" in request.url else None
        ),
    )
    page.on(
        "websocket",
        lambda socket: socket.on(
            "framesent",
            lambda payload: fetch_frames.append(payload) if '"fetch"' in str(payload) else None,
        ),
    )
    page.goto(f"{reader.server.url}/rooms/{room_id}/")
    expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
    expect(page.locator(MESSAGES)).to_have_count(PAGE)
    expect(page.locator(MESSAGES).last).to_have_text(HISTORY_BODIES[10_000 % len(HISTORY_BODIES)])
    page.wait_for_timeout(1_000)  # anything more it would fetch on its own has started by now

    assert history_requests == [f"{reader.server.url}/api/rooms/{room_id}/messages"]
    assert fetch_frames == []
    expect(page.locator(MESSAGES)).to_have_count(PAGE)
    assert reader.errors == []


def test_scrolling_up_loads_older_pages_without_moving_what_the_reader_sees(people):
    reader = people("reader")
    page = reader.new_page()
    page.goto(reader.server.url)
    room_id = join_room(page, "scroll history")
    add_history(reader.server, room_id, 3 * PAGE)
    page.goto(f"{reader.server.url}/rooms/{room_id}/")
    expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
    expect(page.locator(MESSAGES)).to_have_count(PAGE)

    conversation = page.locator("#conversation")
    for loaded in (2 * PAGE, 3 * PAGE):
        first_shown = page.locator("#messages li.msg").first.element_handle()
        # Scrolled to the top, the first message's place on screen, in the same task.
        before = first_shown.evaluate(
            """(message) => {
                document.getElementById("conversation").scrollTop = 0;
                return message.getBoundingClientRect().top;
            }"""
        )
        expect(page.locator(MESSAGES)).to_have_count(loaded)
        # The older page went in above it, out of view: what the reader saw stays put
        # (within a line: the status line above the list changes its text).
        assert abs(first_shown.bounding_box()["y"] - before) < 30
        assert conversation.evaluate("element => element.scrollTop") > 0
    expect(page.locator("#history-status")).to_contain_text("start of the conversation")
    assert reader.errors == []
