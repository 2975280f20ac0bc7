"""The timeline is drawn incrementally and stays right.

Day dividers and author runs (`msg-continued`) are checked against the messages shown
after every older page goes in above and new messages below; and a new or changed
message touches only its own nodes, never the other messages already in the page.
Read to the bottom, a long history keeps only its newest messages in the page and
brings the others back, from memory, as the reader scrolls up or jumps to one.
"""

import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveServer
from tests.browser.test_chat_client import join_room, post_messages, send_from_composer
from tests.browser.test_history_paging import PAGE, add_history

HISTORY = 3 * PAGE
KEEP = REVEAL = 50  # timeline.js: messages left in the page at the bottom, brought back at a time

# Spreads a room's history over four days, with breaks in the runs, and gives every third
# run of five messages to another author.
RESHAPE = """
from datetime import timedelta
from django.contrib.auth import get_user_model
from django.utils import timezone
from chat.models import Message
other = get_user_model().objects.get(username="{other}").pk
messages = list(Message.objects.filter(room_id={room}).order_by("seq"))
# From 20:00 four days ago, whatever the hour now: each 20-hour gap then crosses a midnight.
at = (timezone.now() - timedelta(days=4)).replace(hour=20, minute=0, second=0, microsecond=0)
for message in messages:
    seq = message.seq
    at += timedelta(hours=20) if seq % 40 == 0 else timedelta(minutes=7 if seq % 7 == 0 else 1)
    message.created_at = at
    if (seq // 5) % 3 == 0:
        message.author_id = other
Message.objects.bulk_update(messages, ["created_at", "author_id"])
"""

# What is wrong with the timeline, worked out from the messages it shows: a divider goes
# right before the first message of each day (local time) and nowhere else; a message
# continues its author's run when the one before it is the same author's, the same day,
# less than five minutes earlier (and no "New messages" line between them); messages go
# by seq, pending sends after them.
PROBLEMS = """() => {
    const dayOf = (at) => `${at.getFullYear()}-${at.getMonth() + 1}-${at.getDate()}`;
    const nodes = [...document.getElementById("messages").children];
    const problems = [];
    const days = new Set();
    let previous = null;
    let lastSeq = 0;
    let pendingSeen = false;
    nodes.forEach((node, index) => {
        const key = node.dataset.key;
        if (node.classList.contains("unread-divider")) {
            // "New messages": the message after it shows its author, as after a day divider.
            if (!nodes[index + 1]?.classList.contains("msg")) problems.push("a stray new line");
            previous = null;
            return;
        }
        if (node.classList.contains("day")) {
            let next = nodes[index + 1];
            if (next?.classList.contains("unread-divider")) next = nodes[index + 2];
            const at = next && new Date(next.querySelector("time.msg-time").dateTime);
            if (!at || `d:${dayOf(at)}` !== key) problems.push(`${key} is not before its day`);
            return;
        }
        const at = new Date(node.querySelector("time.msg-time").dateTime);
        const day = dayOf(at);
        const above = nodes[index - 1]?.classList.contains("unread-divider") ? 2 : 1;
        if (!days.has(day) && nodes[index - above]?.dataset.key !== `d:${day}`) {
            problems.push(`${key} opens ${day} without its divider`);
        }
        days.add(day);
        const author = node.querySelector(".msg-author").textContent;
        const continued = Boolean(previous) && previous.day === day &&
            previous.author === author && at - previous.at < 5 * 60 * 1000;
        if (continued !== node.classList.contains("msg-continued")) {
            problems.push(`${key} continued should be ${continued}`);
        }
        if (key.startsWith("m:")) {
            const seq = Number(key.slice(2));
            if (seq <= lastSeq || pendingSeen) problems.push(`${key} out of order`);
            lastSeq = seq;
        } else {
            pendingSeen = true;
        }
        previous = { author, at, day };
    });
    const dividers = nodes.filter((node) => node.classList.contains("day")).length;
    if (dividers !== days.size) problems.push(`${dividers} dividers for ${days.size} days`);
    return problems;
}"""

# From now on, records the keys of the messages already shown whose nodes change
# (inside, their attributes, or their place in the list); `except` may change.
WATCH = """(except) => {
    const list = document.getElementById("messages");
    const shown = new Set([...list.querySelectorAll("li.msg")].filter(
        (li) => li.dataset.key !== except));
    window.__touched = [];
    window.__watch?.disconnect();
    window.__watch = new MutationObserver((records) => {
        for (const record of records) {
            for (const node of [record.target, ...record.addedNodes, ...record.removedNodes]) {
                const element = node.nodeType === Node.ELEMENT_NODE ? node : node.parentElement;
                const li = node === list ? null : element?.closest("li.msg");
                if (li && shown.has(li)) window.__touched.push(li.dataset.key);
            }
        }
    });
    window.__watch.observe(list, {
        subtree: true, childList: true, attributes: true, characterData: true,
    });
}"""


def reshape_history(server: LiveServer, room_id: int, other: str) -> None:
    server.manage("shell", "-c", RESHAPE.format(room=room_id, other=other))


def touched(page: Page) -> list[str]:
    return page.evaluate("window.__touched")


def test_days_and_runs_stay_right_and_a_change_touches_only_its_message(people):
    reader, other = people("reader"), people("other")
    page, other_page = reader.new_page(), other.new_page()
    page.goto(reader.server.url)
    other_page.goto(other.server.url)
    room_id = join_room(page, "timeline days")
    join_room(other_page, "timeline days")
    add_history(reader.server, room_id, HISTORY)
    reshape_history(reader.server, room_id, other.username)

    page.goto(f"{reader.server.url}/rooms/{room_id}/")
    expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
    messages = page.locator("#messages li.msg:not(.msg-pending)")
    expect(messages).to_have_count(PAGE)
    assert page.evaluate(PROBLEMS) == []
    # Older pages go in above: dividers move up to their day's new first message, and the
    # message that opened the page may now continue a run.
    for loaded in range(2 * PAGE, HISTORY + 1, PAGE):
        page.locator("#conversation").evaluate("element => { element.scrollTop = 0; }")
        expect(messages).to_have_count(loaded)
        assert page.evaluate(PROBLEMS) == []
    assert page.locator("#messages li.day").count() >= 4
    # Read to the bottom, the page keeps the newest messages (the test below), still right.
    page.locator("#conversation").evaluate("e => { e.scrollTop = e.scrollHeight; }")
    expect(messages).to_have_count(KEEP)
    assert page.evaluate(PROBLEMS) == []

    # New messages below, the reader's own (pending, then acknowledged) and another's.
    page.evaluate(WATCH, None)
    send_from_composer(page, "my own message")
    expect(messages).to_have_count(KEEP + 1)
    post_messages(other_page, room_id, ["a message from someone else"])
    expect(messages).to_have_count(KEEP + 2)
    expect(page.locator("#messages li.msg-pending")).to_have_count(0)
    assert page.evaluate(PROBLEMS) == []
    assert touched(page) == []

    # A reaction (to an old message) and an edit (of the new one) redraw their message alone.
    target = f"m:{HISTORY - 3}"
    message = page.locator(f'#messages li[data-key="{target}"]')
    page.evaluate(WATCH, target)
    message.locator('[data-action="picker"]').click()
    message.locator('[data-action="pick"]').first.click()
    expect(message.locator(".reaction")).to_have_count(1)
    assert touched(page) == []
    target = f"m:{HISTORY + 1}"
    message = page.locator(f'#messages li[data-key="{target}"]')
    page.evaluate(WATCH, target)
    message.locator('[data-action="edit"]').click()
    message.locator(".msg-editor-input").fill("edited in place")
    message.locator(".msg-editor-input").press("Enter")
    expect(message.locator(".msg-edited")).to_be_visible()
    assert touched(page) == []
    assert page.evaluate(PROBLEMS) == []
    assert reader.errors == []


def test_a_long_history_read_to_the_bottom_leaves_the_page_and_comes_back_from_memory(people):
    reader, other = people("reader"), people("other")
    page = reader.new_page()
    page.goto(reader.server.url)
    room_id = join_room(page, "a long read")
    needle = "the oldest message, found again"
    post_messages(page, room_id, [needle])
    add_history(reader.server, room_id, 4 * PAGE)
    reshape_history(reader.server, room_id, other.username)
    total = 4 * PAGE + 1
    history_requests: list[str] = []
    page.on(
        "request",
        lambda request: (
            history_requests.append(request.url) if "/messages" in request.url else None
        ),
    )
    page.goto(f"{reader.server.url}/rooms/{room_id}/")
    expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
    messages = page.locator("#messages li.msg:not(.msg-pending)")
    conversation = page.locator("#conversation")
    status = page.locator("#history-status")
    expect(messages).to_have_count(PAGE)
    while (shown := messages.count()) < total:
        conversation.evaluate("element => { element.scrollTop = 0; }")
        expect(messages).not_to_have_count(shown)
    expect(status).to_contain_text("start of the conversation")
    fetched = len(history_requests)

    # Read to the bottom: all but the newest messages leave the page, dividers still right.
    conversation.evaluate("element => { element.scrollTop = element.scrollHeight; }")
    expect(messages).to_have_count(KEEP)
    expect(messages.last).to_have_attribute("data-key", f"m:{total}")
    assert page.evaluate(PROBLEMS) == []

    # Scrolling up brings them back a page at a time, without moving what the reader sees
    # and without asking the server again.
    for shown in range(KEEP + REVEAL, total, REVEAL):
        first_shown = messages.first.element_handle()
        before = first_shown.evaluate(
            """(message) => {
                document.getElementById("conversation").scrollTop = 0;
                return message.getBoundingClientRect().top;
            }"""
        )
        expect(messages).to_have_count(shown)
        assert abs(first_shown.bounding_box()["y"] - before) < 30
        assert page.evaluate(PROBLEMS) == []
    conversation.evaluate("element => { element.scrollTop = 0; }")
    expect(messages).to_have_count(total)
    expect(status).to_contain_text("start of the conversation")
    assert page.evaluate(PROBLEMS) == []

    # Back at the bottom, the oldest message is out of the page again; a search result
    # that opens it brings it back, highlighted and on screen.
    conversation.evaluate("element => { element.scrollTop = element.scrollHeight; }")
    expect(messages).to_have_count(KEEP)
    search = page.get_by_label("Search messages")
    search.fill("oldest")
    search.press("Enter")
    page.locator("#search-panel li.search-result .search-result-open").first.click()
    target = page.locator('#messages li[data-key="m:1"]')
    expect(target).to_have_class(re.compile(r"\bmsg-flash\b"))
    expect(target).to_be_in_viewport()
    expect(target).to_contain_text(needle)
    assert page.evaluate(PROBLEMS) == []
    assert len(history_requests) == fetched
    assert reader.errors == []


def test_a_room_opened_with_unread_messages_marks_where_they_start_and_jumps_there(people):
    reader, writer = people("reader"), people("writer")
    page, writer_page = reader.new_page(), writer.new_page()
    page.goto(reader.server.url)
    writer_page.goto(writer.server.url)
    room_id = join_room(page, "catching up")
    join_room(writer_page, "catching up")
    post_messages(page, room_id, ["read already"])
    elsewhere = join_room(page, "somewhere else")
    room_link = page.locator(f'a.room-link[href="/rooms/{room_id}/"]')
    elsewhere_link = page.locator(f'a.room-link[href="/rooms/{elsewhere}/"]')
    line = page.locator("#messages li.unread-divider")
    after_line = page.locator("#messages li.unread-divider + li.msg")
    jump = page.locator("#jump-unread")

    # Two new messages: the line goes above the first, in view, so no jump control.
    post_messages(writer_page, room_id, ["first new", "second new"])
    expect(room_link.locator(".badge")).to_have_text("2")
    room_link.click()
    expect(after_line).to_contain_text("first new")
    expect(after_line.locator(".msg-author")).to_be_visible()
    expect(line).to_have_count(1)
    expect(jump).to_be_hidden()
    assert page.evaluate(PROBLEMS) == []
    # Read now: back again, no line.
    elsewhere_link.click()
    room_link.click()
    expect(page.locator("#messages li.msg", has_text="second new")).to_be_visible()
    expect(line).to_have_count(0)

    # Back to the tab after others wrote: the line marks what came while it was hidden.
    page.evaluate(
        """() => {
            const hidden = {value: "hidden", configurable: true};
            Object.defineProperty(document, "visibilityState", hidden);
            document.dispatchEvent(new Event("visibilitychange"));
        }"""
    )
    post_messages(writer_page, room_id, ["while you were away"])
    expect(page.locator("#messages li.msg", has_text="while you were away")).to_be_visible()
    expect(line).to_have_count(0)
    page.evaluate(
        """() => {
            delete document.visibilityState;
            document.dispatchEvent(new Event("visibilitychange"));
        }"""
    )
    expect(after_line).to_contain_text("while you were away")

    # More than a screen of them: the line is above the view, the control jumps to it.
    elsewhere_link.click()
    post_messages(writer_page, room_id, [f"more {n:02d}" for n in range(1, 41)])
    expect(room_link.locator(".badge")).to_have_text("40")
    room_link.click()
    expect(page.locator("#messages li.msg", has_text="more 40")).to_be_in_viewport()
    expect(line).to_have_count(1)
    expect(line).not_to_be_in_viewport()
    expect(jump).to_be_visible()
    expect(jump).to_contain_text("40")
    jump.click()
    expect(after_line).to_contain_text("more 01")
    expect(after_line).to_be_in_viewport()
    expect(jump).to_be_hidden()

    # More than a page of them, the room opened afresh: the first is not loaded; the
    # control loads history back to it.
    elsewhere_link.click()
    post_messages(writer_page, room_id, [f"new number {n:02d}" for n in range(1, 81)])
    expect(room_link.locator(".badge")).to_have_text("80")
    page.goto(f"{reader.server.url}/rooms/{room_id}/")
    expect(page.locator("#messages li.msg", has_text="new number 80")).to_be_in_viewport()
    expect(jump).to_be_visible()
    expect(jump).to_contain_text("80")
    expect(line).to_have_count(0)
    jump.click()
    expect(after_line).to_contain_text("new number 01")
    expect(after_line).to_be_in_viewport()
    expect(after_line).to_have_class(re.compile(r"\bmsg-flash\b"))
    expect(jump).to_be_hidden()
    assert page.evaluate(PROBLEMS) == []
    assert reader.errors == []
    assert writer.errors == []
