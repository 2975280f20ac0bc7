"""Threads in the browser: two people live, the summary under a root, the thread panel and
its composer, "Also send to the room", unseen replies, notifications and search. (The
panel by keyboard, and its names: tests/browser/test_accessibility.py.)"""

import re

from playwright.sync_api import Page, expect

from tests.browser.test_chat_client import MESSAGES, send_from_composer
from tests.browser.test_client_presence_search import NOTIFICATION_STUB, set_hidden
from tests.browser.test_message_actions import action, message, two_in_a_room
from tests.browser.test_notifications import notifications

REPLIES = "#thread-replies .thread-msg .msg-body"

# More messages than a room's first page of history, sent after the thread (no doorbell
# rings from this process: the pages that were open do not hear of them).
CROWD = """
import uuid
from django.contrib.auth import get_user_model
from chat.services import send_message
user = get_user_model().objects.get(username="{user}")
for n in range(60):
    send_message(user, {room}, f"filler {{n}}", uuid.uuid4().hex)
"""


def reply_in_panel(page: Page, text: str, *, also_in_room: bool = False) -> None:
    page.locator("#thread-input").fill(text)
    if also_in_room:
        page.locator("#thread-also").check()
    page.locator("#thread-input").press("Enter")
    expect(page.locator(REPLIES, has_text=text)).to_have_count(1)


def test_a_thread_reply_updates_the_summary_live_and_opens_in_the_other_persons_panel(people):
    alice, bob, alice_page, bob_page = two_in_a_room(people, "threads")
    send_from_composer(alice_page, "plan for friday")
    expect(bob_page.locator(MESSAGES)).to_have_text(["plan for friday"])

    action(alice_page, "plan for friday", "thread").click()
    expect(alice_page.locator("#thread-panel")).to_be_visible()
    expect(alice_page.locator("#thread-input")).to_be_focused()
    expect(alice_page.locator("#thread-root .msg-body")).to_have_text("plan for friday")
    reply_in_panel(alice_page, "I can bring snacks")

    # Bob: the reply stays out of the timeline; the root's summary counts it, live.
    summary = message(bob_page, "plan for friday").locator(".thread-summary")
    expect(summary.locator(".thread-count")).to_have_text("1 reply")
    expect(summary.locator(".thread-who")).to_have_text(alice.username)
    expect(bob_page.locator(MESSAGES)).to_have_text(["plan for friday"])
    summary.click()
    expect(bob_page.locator("#thread-panel")).to_be_visible()
    expect(bob_page.locator(REPLIES)).to_have_text(["I can bring snacks"])

    # Bob answers in the thread and in the room: both timelines show it, marked.
    reply_in_panel(bob_page, "count me in", also_in_room=True)
    expect(alice_page.locator(MESSAGES)).to_have_text(["plan for friday", "count me in"])
    expect(message(alice_page, "count me in").locator(".thread-origin")).to_be_visible()
    expect(alice_page.locator(REPLIES)).to_have_text(["I can bring snacks", "count me in"])
    expect(alice_page.locator(".thread-msg .thread-also-sent")).to_have_count(1)
    expect(summary.locator(".thread-count")).to_have_text("2 replies")
    expect(summary.locator(".thread-who")).to_have_text(f"{bob.username}, {alice.username}")

    # Bob, who takes part, closes the thread; Alice's next reply is marked new for him
    # until he opens the thread again.
    bob_page.locator("#thread-close").click()
    expect(bob_page.locator("#thread-panel")).to_be_hidden()
    reply_in_panel(alice_page, "see you there")
    expect(summary.locator(".thread-count")).to_have_text("3 replies")
    expect(summary).to_have_class(re.compile(r"\bthread-unread\b"))
    expect(summary.locator(".thread-new")).to_have_text("New replies")
    summary.click()
    expect(bob_page.locator(REPLIES)).to_have_count(3)
    expect(summary).not_to_have_class(re.compile(r"\bthread-unread\b"))
    assert alice.errors == [] and bob.errors == []


def test_a_search_result_in_a_thread_is_marked_and_opens_its_thread(people):
    alice, bob, alice_page, bob_page = two_in_a_room(people, "thread search")
    send_from_composer(alice_page, "the root message")
    action(alice_page, "the root message", "thread").click()
    reply_in_panel(alice_page, "findable zebra reply")
    bob_page.locator("#search-input").fill("zebra")
    bob_page.locator("#search-input").press("Enter")
    result = bob_page.locator("#search-results li")
    expect(result.locator(".search-result-thread")).to_have_text("In a thread")
    result.locator(".search-result-open").click()
    expect(bob_page.locator("#thread-panel")).to_be_visible()
    expect(bob_page.locator("#thread-root .msg-body")).to_have_text("the root message")
    expect(bob_page.locator(REPLIES)).to_have_text(["findable zebra reply"])
    assert alice.errors == [] and bob.errors == []


def test_a_thread_reply_notifies_those_taking_part_and_not_the_rest_of_the_room(people):
    alice, bob, alice_page, bob_page = two_in_a_room(people, "thread notify")
    carol = people("carol")
    room_url = bob_page.url
    pages = {}
    for person in (bob, carol):
        page = person.new_page()
        page.add_init_script(NOTIFICATION_STUB % "granted")
        page.goto(room_url)
        expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
        pages[person.username] = page
    bob_page.close()
    carols_page, bobs_page = pages[carol.username], pages[bob.username]
    carols_page.locator("#join-room").click()
    expect(carols_page.locator("#composer")).to_be_visible()
    send_from_composer(bobs_page, "bob asks something")
    for page in pages.values():
        expect(page.locator(MESSAGES)).to_have_text(["bob asks something"])
        set_hidden(page, True)

    action(alice_page, "bob asks something", "thread").click()
    reply_in_panel(alice_page, "an answer for bob")
    for page in pages.values():  # the summary comes after the reply: it has been decided
        summary = message(page, "bob asks something").locator(".thread-count")
        expect(summary).to_have_text("1 reply")
    assert [n["body"] for n in notifications(bobs_page)] == ["an answer for bob"]
    assert notifications(carols_page) == []
    # Clicked, the notification of a reply the timeline does not show opens its thread.
    expect(bobs_page.locator("#thread-panel")).to_be_hidden()
    bobs_page.evaluate("window.__shown.at(-1).onclick()")
    expect(bobs_page.locator("#thread-panel")).to_be_visible()
    expect(bobs_page.locator("#thread-replies")).to_contain_text("an answer for bob")

    reply_in_panel(alice_page, f"and @{carol.username} too", also_in_room=True)
    expect(carols_page.locator(MESSAGES)).to_have_count(2)
    assert [n["body"] for n in notifications(carols_page)] == [f"and @{carol.username} too"]
    assert alice.errors == [] and bob.errors == [] and carol.errors == []


def test_focus_stays_on_a_summary_redrawn_by_a_new_reply_and_esc_comes_back_to_it(people):
    alice, bob, alice_page, bob_page = two_in_a_room(people, "thread focus")
    send_from_composer(alice_page, "a root to follow")
    action(alice_page, "a root to follow", "thread").click()
    reply_in_panel(alice_page, "first answer")
    summary = message(bob_page, "a root to follow").locator(".thread-summary")
    expect(summary.locator(".thread-count")).to_have_text("1 reply")

    summary.focus()
    bob_page.keyboard.press("Enter")
    expect(bob_page.locator("#thread-panel")).to_be_visible()
    summary.focus()
    reply_in_panel(alice_page, "second answer")  # redraws Bob's summary line
    expect(summary.locator(".thread-count")).to_have_text("2 replies")
    expect(summary).to_be_focused()
    bob_page.locator("#thread-input").focus()
    bob_page.keyboard.press("Escape")
    expect(bob_page.locator("#thread-panel")).to_be_hidden()
    expect(summary).to_be_focused()
    assert alice.errors == [] and bob.errors == []


def panel_entry(page: Page, text: str):
    """The thread panel's reply whose text (or tombstone) contains `text`."""
    return page.locator("#thread-replies .thread-msg", has_text=text)


def test_a_reply_is_edited_reacted_to_and_deleted_from_the_panel_live_for_both(people):
    alice, bob, alice_page, bob_page = two_in_a_room(people, "thread actions")
    send_from_composer(alice_page, "root to act on")
    expect(bob_page.locator(MESSAGES)).to_have_text(["root to act on"])
    action(alice_page, "root to act on", "thread").click()
    reply_in_panel(alice_page, "a reply to fix")
    summary = message(bob_page, "root to act on").locator(".thread-summary")
    expect(summary.locator(".thread-count")).to_have_text("1 reply")
    summary.click()
    expect(bob_page.locator(REPLIES)).to_have_text(["a reply to fix"])
    # Bob may react to Alice's reply, not edit or delete it.
    bobs = panel_entry(bob_page, "a reply to fix")
    expect(bobs.locator('[data-action="picker"]')).to_have_count(1)
    expect(bobs.locator('[data-action="edit"], [data-action="delete"]')).to_have_count(0)

    # Alice edits her reply in place; Esc first cancels an edit, not the panel.
    alices = panel_entry(alice_page, "a reply to fix")
    alices.get_by_role("button", name="Edit").click()
    editor = alices.locator(".msg-editor-input")
    expect(editor).to_be_focused()
    editor.press("Escape")
    expect(editor).to_have_count(0)
    expect(alice_page.locator("#thread-panel")).to_be_visible()
    expect(alices.get_by_role("button", name="Edit")).to_be_focused()
    alices.get_by_role("button", name="Edit").click()
    editor.fill("a reply, fixed")
    editor.press("Enter")
    expect(bob_page.locator(REPLIES)).to_have_text(["a reply, fixed"])
    expect(panel_entry(bob_page, "a reply, fixed").locator(".msg-edited")).to_have_text("(edited)")
    expect(alice_page.locator(REPLIES)).to_have_text(["a reply, fixed"])
    expect(bob_page.locator(MESSAGES)).to_have_text(["root to act on"])

    # Bob reacts from the panel; Alice sees it; Bob's second click takes it back.
    bobs = panel_entry(bob_page, "a reply, fixed")
    bobs.get_by_role("button", name="Add reaction").click()
    bobs.get_by_role("button", name="React with 🎉").click()
    alices = panel_entry(alice_page, "a reply, fixed")
    expect(alices.locator(".reaction")).to_have_text(["🎉1"])
    expect(alices.locator(".reaction")).to_have_attribute("aria-pressed", "false")
    chip = bobs.locator(".reaction")
    expect(chip).to_have_attribute("aria-pressed", "true")
    alices.locator(".reaction").click()
    expect(chip).to_have_text("🎉2")
    chip.click()
    expect(alices.locator(".reaction")).to_have_text(["🎉1"])
    expect(alices.locator(".reaction")).to_have_attribute("aria-pressed", "true")

    # Alice deletes it: both panels show it deleted, and the root's count drops.
    alice_page.once("dialog", lambda dialog: dialog.accept())
    alices.get_by_role("button", name="Delete").click()
    for page in (alice_page, bob_page):
        expect(page.locator(REPLIES)).to_have_text(["This message was deleted"])
        expect(page.locator("#thread-replies .thread-msg .msg-actions")).to_have_count(0)
        expect(page.locator("#thread-status")).to_have_text("No replies yet.")
    expect(summary).to_have_count(0)
    assert alice.errors == [] and bob.errors == []


def test_the_panel_applies_changes_to_a_reply_the_rooms_history_does_not_hold(people):
    alice, bob, alice_page, bob_page = two_in_a_room(people, "thread unheld")
    room_id = int(re.search(r"/rooms/(\d+)/", bob_page.url).group(1))
    send_from_composer(alice_page, "an old root")
    action(alice_page, "an old root", "thread").click()
    reply_in_panel(alice_page, "a far quokka reply")
    alice.server.manage("shell", "-c", CROWD.format(user=alice.username, room=room_id))
    # Bob comes back: his history holds the last page only, neither root nor reply.
    bob_page.reload()
    expect(bob_page.locator(MESSAGES).last).to_have_text("filler 59")
    expect(bob_page.locator(MESSAGES, has_text="an old root")).to_have_count(0)
    bob_page.locator("#search-input").fill("quokka")
    bob_page.locator("#search-input").press("Enter")
    bob_page.locator("#search-results li .search-result-open").click()
    expect(bob_page.locator(REPLIES)).to_have_text(["a far quokka reply"])

    alices = panel_entry(alice_page, "a far quokka reply")
    alices.get_by_role("button", name="Edit").click()
    alices.locator(".msg-editor-input").fill("a far quokka reply, edited")
    alices.locator(".msg-editor-input").press("Enter")
    expect(bob_page.locator(REPLIES)).to_have_text(["a far quokka reply, edited"])
    bobs = panel_entry(bob_page, "edited")
    bobs.get_by_role("button", name="Add reaction").click()
    bobs.get_by_role("button", name="React with 👀").click()
    expect(bobs.locator(".reaction")).to_have_attribute("aria-pressed", "true")
    expect(panel_entry(alice_page, "edited").locator(".reaction")).to_have_text("👀1")

    alice_page.once("dialog", lambda dialog: dialog.accept())
    panel_entry(alice_page, "edited").get_by_role("button", name="Delete").click()
    expect(bob_page.locator(REPLIES)).to_have_text(["This message was deleted"])
    expect(bob_page.locator("#thread-status")).to_have_text("No replies yet.")
    assert alice.errors == [] and bob.errors == []
