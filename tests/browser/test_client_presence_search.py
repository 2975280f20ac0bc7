"""Presence dots and message search in the browser; the notification stub that
tests/browser/test_notifications.py uses."""

import json
import re
import uuid

from playwright.sync_api import Page, expect

from tests.browser.test_chat_client import (
    MESSAGES,
    join_room,
    post_messages,
    send_from_composer,
    sockets_of,
)

SENT = "#messages li.msg:not(.msg-pending)"
ROOM_URL = re.compile(r"/rooms/\d+/$")

# Notification replaced by a stub that records what the page shows, and a page visibility
# the test controls: hide(page) and show(page) below flip it and fire visibilitychange.
NOTIFICATION_STUB = """
(() => {
  window.__notifications = [];
  window.__shown = [];  // the Notification objects, to click
  window.__permissionRequests = 0;
  window.__hidden = false;
  Object.defineProperty(document, "visibilityState", {
    configurable: true, get: () => (window.__hidden ? "hidden" : "visible"),
  });
  Object.defineProperty(document, "hidden", { configurable: true, get: () => window.__hidden });
  class StubNotification {
    static permission = "%s";
    static requestPermission() {
      window.__permissionRequests += 1;
      StubNotification.permission = "granted";
      return Promise.resolve("granted");
    }
    constructor(title, options = {}) {
      this.title = title;
      this.onclick = null;
      window.__notifications.push({ title, body: options.body ?? "", tag: options.tag ?? "" });
      window.__shown.push(this);
    }
    close() {}
  }
  window.Notification = StubNotification;
})();
"""


def set_hidden(page: Page, hidden: bool) -> None:
    page.evaluate(
        """(hidden) => {
            window.__hidden = hidden;
            document.dispatchEvent(new Event("visibilitychange"));
        }""",
        hidden,
    )


def open_dm(page: Page, username: str) -> int:
    page.goto(f"{page.url.split('/', 3)[0]}//{page.url.split('/', 3)[2]}/dm/{username}/")
    page.wait_for_url(ROOM_URL)
    expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
    return int(re.search(r"/rooms/(\d+)/", page.url).group(1))


def test_dm_peer_presence_dot_goes_online_when_they_open_a_page_and_offline_when_they_leave(
    people,
):
    alice, bob = people("alice"), people("bob")
    bob_page = bob.new_page()
    bob_page.goto(bob.server.url)
    room_id = open_dm(bob_page, alice.username)
    header_dot = bob_page.locator("#room-presence")
    sidebar_dot = bob_page.locator(f'#room-list a[data-room="{room_id}"] .presence')
    expect(header_dot).to_have_attribute("data-status", "offline")
    expect(header_dot).to_have_attribute("aria-label", re.compile(r"^Offline"))
    expect(sidebar_dot).to_have_attribute("data-status", "offline")

    alice_page = alice.new_page()
    alice_page.goto(alice.server.url)
    expect(header_dot).to_have_attribute("data-status", "online")
    expect(header_dot).to_have_attribute("aria-label", "Online")
    expect(header_dot).to_have_attribute("title", "Online")
    expect(sidebar_dot).to_have_attribute("data-status", "online")

    alice.context.close()
    expect(header_dot).to_have_attribute("data-status", "offline")
    expect(header_dot).to_have_attribute("aria-label", re.compile(r"^Offline — last seen \S"))
    expect(sidebar_dot).to_have_attribute("data-status", "offline")
    assert bob.errors == []


def test_search_finds_a_message_and_its_result_opens_the_room_with_it_highlighted(people):
    alice = people("alice")
    tag = uuid.uuid4().hex[:6]
    page = alice.new_page()
    page.goto(alice.server.url)
    room_name = f"haystack {tag}"
    room_id = join_room(page, room_name)
    needle = f"needle{tag}"
    # Far enough back that the room's newest page does not hold it.
    post_messages(page, room_id, [f"the **{needle}** is here", *[f"filler {n}" for n in range(60)]])
    join_room(page, f"elsewhere {tag}")

    search = page.get_by_label("Search messages")
    panel = page.locator("#search-panel")
    results = panel.locator("li.search-result")
    # Only in the room open (another one): nothing there.
    page.get_by_label("Only in this room").check()
    search.fill(needle)
    search.press("Enter")
    expect(panel.locator("#search-status")).to_have_text(f"No messages match “{needle}”.")
    expect(results).to_have_count(0)
    page.get_by_label("Only in this room").uncheck()
    search.press("Enter")
    expect(results).to_have_count(1)
    expect(panel.locator("#search-status")).to_have_text(f"1 result for “{needle}”")
    expect(results.first.locator(".search-result-text strong")).to_have_text(needle)
    # The word searched for is marked where it appears, inside the Markdown's bold.
    expect(results.first.locator(".search-result-text strong mark.search-hit")).to_have_text(needle)
    expect(results.first.locator(".search-result-room")).to_have_text(f"#{room_name}")
    expect(results.first.locator(".search-result-author")).to_have_text(alice.username)

    # Esc closes the panel and leaves focus in the search box; searching again reopens it.
    search.press("Escape")
    expect(panel).to_be_hidden()
    expect(search).to_be_focused()
    search.press("Enter")
    expect(results).to_have_count(1)

    results.first.locator(".search-result-open").click()
    page.wait_for_url(f"**/rooms/{room_id}/")
    expect(panel).to_be_hidden()
    target = page.locator(SENT, has_text=needle)
    expect(target).to_have_class(re.compile(r"\bmsg-flash\b"))
    expect(target).to_be_focused()
    expect(target).to_be_in_viewport()
    assert alice.errors == []


def test_search_more_button_pages_on_to_older_results(people):
    alice = people("alice")
    tag = uuid.uuid4().hex[:6]
    page = alice.new_page()
    page.goto(alice.server.url)
    room_id = join_room(page, f"pages {tag}")
    post_messages(page, room_id, [f"hay{tag} number {n:02d}" for n in range(25)])

    page.get_by_label("Search messages").fill(f"hay{tag}")
    page.get_by_label("Search messages").press("Enter")
    results = page.locator("#search-results li.search-result .search-result-text")
    expect(results).to_have_count(20)
    expect(results.first).to_have_text(f"hay{tag} number 24")
    more = page.locator("#search-more")
    more.click()
    expect(results).to_have_count(25)
    expect(results.last).to_have_text(f"hay{tag} number 00")
    expect(more).to_be_hidden()
    expect(page.locator("#search-status")).to_have_text(f"25 results for “hay{tag}”")
    assert alice.errors == []


def test_a_dm_reaches_the_other_person_only_with_its_first_message(people):
    alice, bob = people("alice"), people("bob")
    alice_page, bob_page = alice.new_page(), bob.new_page()
    alice_page.goto(alice.server.url)
    expect(alice_page.locator("#home-rooms")).to_be_visible()
    bob_sockets = sockets_of(bob_page)
    bob_page.goto(bob.server.url)
    join_room(bob_page, f"waiting {uuid.uuid4().hex[:6]}")
    # Alice, online all along (no change of hers to hear), opens a DM without reloading.
    room_id = open_dm(alice_page, bob.username)
    # Two heads rounds later (each repairs a tab's rooms from its memberships), Bob's tab
    # still knows nothing of it.
    for _ in range(2):
        bob_sockets[-1].wait_for_event(
            "framereceived",
            lambda payload: json.loads(payload)["type"] == "heads",
            timeout=10_000,
        )
    link = bob_page.locator(f'#room-list a[data-room="{room_id}"]')
    expect(link).to_have_count(0)
    # The opener sees the other person's status before anyone wrote.
    expect(alice_page.locator("#room-presence")).to_have_attribute("data-status", "online")

    send_from_composer(alice_page, "hello bob")
    expect(link).to_have_count(1)
    expect(link.locator(".badge")).to_have_text("1")
    expect(link.locator(".presence")).to_have_attribute("data-status", "online")
    link.click()
    expect(bob_page.locator(MESSAGES)).to_have_text(["hello bob"])
    assert alice.errors == [] and bob.errors == []
