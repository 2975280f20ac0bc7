"""A phone (390×844, touch): no toolbar under the messages but a menu a tap or a long press
opens, whose actions reach the other person live; the drawer lists the rooms before the
search."""

import re
import uuid

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.browser.conftest import Person
from tests.browser.test_chat_client import MESSAGES, join_room, send_from_composer
from tests.browser.test_message_actions import message, two_in_a_room

PHONE = {"width": 390, "height": 844}
QUICK_EMOJI = ["👍", "❤️", "😂", "🎉", "😮", "😢", "👀", "✅"]


@pytest.fixture
def phone_of(browser: Browser):
    """phone_of(person) → the same person signed in on a phone (its own browser context)."""
    made: list[Person] = []

    def make(person: Person) -> Person:
        context = browser.new_context(
            viewport=PHONE,
            storage_state=person.context.storage_state(),
            has_touch=True,
            is_mobile=True,
        )
        phone = Person(context, person.server, person.username)
        made.append(phone)
        return phone

    yield make
    for phone in made:
        phone.context.close()


def open_on_phone(phone: Person, url: str) -> Page:
    page = phone.new_page()
    page.goto(url)
    expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
    return page


def long_press(page: Page, target: Locator, menu: Locator) -> None:
    """Holds a finger on `target` until the menu opens, then lifts it (real touch input)."""
    box = target.bounding_box()
    point = {"x": box["x"] + box["width"] / 2, "y": box["y"] + box["height"] / 2}
    touch = page.context.new_cdp_session(page)
    touch.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [point]})
    expect(menu).to_be_visible()
    touch.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    touch.detach()


def menu_items(menu: Locator) -> list[str]:
    """The menu's items by accessible name, in order."""
    return menu.locator("[role^=menuitem]").evaluate_all(
        "(items) => items.map((item) => item.getAttribute('aria-label') || item.textContent)"
    )


def test_a_tap_opens_the_menu_whose_reactions_and_reply_reach_the_other_person_live(
    people, phone_of
):
    alice, bob, alice_page, bob_desk = two_in_a_room(people, "phone tap")
    send_from_composer(alice_page, "hello phone")
    bob_phone = phone_of(bob)
    page = open_on_phone(bob_phone, bob_desk.url)
    item = message(page, "hello phone")
    expect(item).to_be_visible()

    # No toolbar under (or over) the message: nothing of it takes room or can be tapped.
    toolbar = item.locator(".msg-actions").bounding_box()
    assert toolbar["width"] <= 1 and toolbar["height"] <= 1
    tappable = page.locator(".msg-action").evaluate_all(
        """(nodes) => nodes.filter((node) => {
            const box = node.getBoundingClientRect();
            const hit = document.elementFromPoint(box.x + box.width / 2, box.y + box.height / 2);
            return hit?.closest(".msg-actions");
        }).length"""
    )
    assert tappable == 0

    menu = page.get_by_role("menu")
    expect(menu).to_be_hidden()
    item.locator(".msg-body").tap()
    expect(menu).to_be_visible()
    expect(menu).to_have_accessible_name(f"Message from {alice.username}")
    # Bob may react and reply to Alice's message, not edit or delete it.
    names = menu_items(menu)
    assert names[:8] == [f"React with {emoji}" for emoji in QUICK_EMOJI]
    assert [name for name in names if not name.startswith("React with")] == [
        "More emoji",
        "Reply",
        "Reply in thread",
        "Copy text",
        "Cancel",
    ]
    expect(menu.get_by_role("menuitemcheckbox", name="React with 👍")).to_be_focused()
    page.keyboard.press("ArrowRight")
    expect(menu.get_by_role("menuitemcheckbox", name="React with ❤️")).to_be_focused()
    page.keyboard.press("End")
    expect(menu.get_by_role("menuitem", name="Cancel")).to_be_focused()

    # Esc closes it, focus back on the message.
    page.keyboard.press("Escape")
    expect(menu).to_be_hidden()
    expect(item).to_be_focused()

    # A reaction from the menu: Alice sees it at once.
    item.locator(".msg-body").tap()
    menu.get_by_role("menuitemcheckbox", name="React with 🎉").tap()
    expect(menu).to_be_hidden()
    chip = message(alice_page, "hello phone").locator(".reaction")
    expect(chip).to_have_count(1)
    expect(chip).to_have_attribute("aria-label", "🎉, reacted by 1")
    # The menu knows Bob's reaction: a second tap on it takes it back.
    item.locator(".msg-body").tap()
    expect(menu.get_by_role("menuitemcheckbox", name="React with 🎉")).to_have_attribute(
        "aria-checked", "true"
    )
    menu.get_by_role("menuitemcheckbox", name="React with 🎉").tap()
    expect(chip).to_have_count(0)

    # Any emoji: "More emoji" opens the emoji picker for this message.
    item.locator(".msg-body").tap()
    menu.get_by_role("menuitem", name="More emoji").tap()
    picker = page.get_by_role("dialog", name="React with any emoji")
    expect(picker).to_be_visible()
    picker.get_by_role("searchbox").fill("rocket")
    picker.get_by_role("searchbox").press("Enter")
    expect(picker).to_be_hidden()
    expect(chip).to_have_attribute("aria-label", "🚀, reacted by 1")

    # A tap in the sheet between its items keeps it open, and Esc still closes it.
    item.locator(".msg-body").tap()
    page.locator(".msg-sheet-title").tap()
    expect(menu).to_be_visible()
    page.keyboard.press("Escape")
    expect(menu).to_be_hidden()
    expect(item).to_be_focused()

    # A tap outside the menu closes it, and does nothing else.
    item.locator(".msg-body").tap()
    expect(menu).to_be_visible()
    page.touchscreen.tap(PHONE["width"] / 2, 60)
    expect(menu).to_be_hidden()
    expect(item).to_be_focused()
    expect(page.locator("#chat-sidebar")).to_be_hidden()

    # Reply: the reply bar, the composer, and Alice gets the quote.
    item.locator(".msg-body").tap()
    menu.get_by_role("menuitem", name="Reply", exact=True).tap()
    expect(page.locator("#reply-bar")).to_contain_text("hello phone")
    expect(page.locator("#composer-input")).to_be_focused()
    page.locator("#composer-input").fill("answered from a phone")
    page.locator(".composer-send").tap()
    quote = message(alice_page, "answered from a phone").locator(".msg-quote-excerpt")
    expect(quote).to_have_text("hello phone")

    # A tap on a link, a button or a reaction in a message does its own thing, no menu.
    message(page, "answered from a phone").locator(".msg-quote").tap()
    expect(menu).to_be_hidden()
    assert alice.errors == [] and bob.errors == [] and bob_phone.errors == []


def test_a_long_press_opens_the_menu_whose_edit_and_delete_reach_the_other_person_live(
    people, phone_of
):
    alice, bob, alice_page, bob_desk = two_in_a_room(people, "phone press")
    bob_phone = phone_of(bob)
    page = open_on_phone(bob_phone, bob_desk.url)
    page.locator("#composer-input").fill("my draft")
    page.locator(".composer-send").tap()
    expect(alice_page.locator(MESSAGES)).to_have_text(["my draft"])
    item = message(page, "my draft")

    menu = page.get_by_role("menu")
    long_press(page, item.locator(".msg-body"), menu)
    # Lifting the finger leaves it open; Bob's own message can be edited and deleted.
    expect(menu).to_be_visible()
    assert [name for name in menu_items(menu) if not name.startswith("React with")] == [
        "More emoji",
        "Reply",
        "Reply in thread",
        "Edit",
        "Delete",
        "Copy text",
        "Cancel",
    ]
    menu.get_by_role("menuitem", name="Edit").tap()
    editor = page.locator(".msg-editor-input")
    expect(editor).to_be_focused()
    expect(editor).to_have_value("my draft")
    editor.fill("my final words")
    editor.press("Enter")
    edited = message(alice_page, "my final words")
    expect(edited.locator(".msg-edited")).to_have_text("(edited)")

    long_press(page, message(page, "my final words").locator(".msg-body"), menu)
    page.once("dialog", lambda dialog: dialog.accept())
    menu.get_by_role("menuitem", name="Delete").tap()
    expect(alice_page.locator(MESSAGES)).to_have_text(["This message was deleted"])
    expect(page.locator(MESSAGES)).to_have_text(["This message was deleted"])
    # Nothing left to do to a deleted message: no menu.
    page.locator(MESSAGES).first.tap()
    expect(menu).to_be_hidden()
    assert alice.errors == [] and bob.errors == [] and bob_phone.errors == []


def test_a_press_that_moves_or_lifts_early_opens_no_menu(people, phone_of):
    alice = people("alice")
    setup = alice.new_page()
    setup.goto(alice.server.url)
    join_room(setup, f"scrolling {uuid.uuid4().hex[:6]}")
    send_from_composer(setup, "hold me")
    expect(setup.locator(MESSAGES)).to_have_text(["hold me"])
    phone = phone_of(alice)
    page = phone.new_page()
    page.clock.install()  # the press's timer runs when the test says
    page.goto(setup.url)
    body = message(page, "hold me").locator(".msg-body")
    expect(body).to_be_visible()
    box = body.bounding_box()
    x, y = box["x"] + 10, box["y"] + box["height"] / 2
    touch = page.context.new_cdp_session(page)
    menu = page.get_by_role("menu")

    def send(kind: str, *points: tuple[float, float]) -> None:
        touch_points = [{"x": px, "y": py} for px, py in points]
        touch.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": touch_points})

    # The finger moves (a scroll): the press is no long press.
    send("touchStart", (x, y))
    send("touchMove", (x + 40, y))
    page.clock.run_for(1000)
    expect(menu).to_be_hidden()
    send("touchEnd")
    # Held still for the whole half second: the menu opens.
    send("touchStart", (x, y))
    page.clock.run_for(600)
    expect(menu).to_be_visible()
    send("touchEnd")
    touch.detach()
    assert phone.errors == []


def test_the_drawer_lists_the_rooms_before_the_search_and_tabs_in_that_order(people, phone_of):
    alice = people("alice")
    setup = alice.new_page()
    setup.goto(alice.server.url)
    join_room(setup, f"drawer {uuid.uuid4().hex[:6]}")
    search_after_rooms = (
        "document.querySelector('#room-list-nav').compareDocumentPosition("
        "document.querySelector('#search-form')) === Node.DOCUMENT_POSITION_FOLLOWING"
    )
    # Beside the conversation the search stays above the rooms.
    assert setup.evaluate(search_after_rooms) is False

    phone = phone_of(alice)
    page = open_on_phone(phone, setup.url)
    page.locator("#sidebar-toggle").tap()
    expect(page.locator("#chat-sidebar")).to_be_visible()
    assert page.evaluate(search_after_rooms) is True
    rooms = page.locator("#room-list").bounding_box()
    search = page.locator("#search-form").bounding_box()
    assert rooms["y"] + rooms["height"] <= search["y"]
    # The tab order follows: filter, the rooms, then the search box.
    page.locator("#room-filter").focus()
    page.keyboard.press("Tab")
    expect(page.locator("#room-list a").first).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.locator("#search-input")).to_be_focused()

    # Turned to a wide screen the search goes back on top, keeping its focus.
    page.set_viewport_size({"width": 1024, "height": 700})
    # The move follows the media query's change event: wait for it, then check the focus.
    expect(page.locator("#search-form ~ #room-list-nav")).to_have_count(1)
    expect(page.locator("#search-input")).to_be_focused()
    assert re.search(r"/rooms/\d+/$", page.url)
    assert phone.errors == []


def test_the_menu_replies_in_a_thread_and_pins_where_the_role_allows(people, phone_of):
    alice, bob, alice_page, bob_desk = two_in_a_room(people, "phone thread")
    alice_phone = phone_of(alice)
    page = open_on_phone(alice_phone, alice_page.url)
    send_from_composer(bob_desk, "a question for the thread")
    item = message(page, "a question for the thread")
    menu = page.get_by_role("menu")

    # Alice owns the room: she may pin; the pin reaches Bob's header live.
    item.locator(".msg-body").tap()
    menu.get_by_role("menuitem", name="Pin", exact=True).tap()
    expect(bob_desk.locator("#pins-toggle")).to_have_text("Pinned (1)")

    item.locator(".msg-body").tap()
    menu.get_by_role("menuitem", name="Reply in thread").tap()
    expect(page.locator("#thread-panel")).to_be_visible()
    expect(page.locator("#thread-input")).to_be_focused()
    page.locator("#thread-input").fill("answered in the thread")
    page.locator("#thread-input").press("Enter")
    summary = message(bob_desk, "a question for the thread").locator(".thread-count")
    expect(summary).to_have_text("1 reply")
    assert alice.errors == [] and bob.errors == [] and alice_phone.errors == []
