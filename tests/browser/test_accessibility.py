"""Keyboard-only use (the thread panel too), the phone-width layout and its message menu,
the live region, idle presence (with a fake clock), the one-time notification offer and
the notification settings page, in the browser."""

import re
import uuid

from playwright.sync_api import Page, expect

from tests.browser.conftest import PASSWORD, Person
from tests.browser.test_chat_client import MESSAGES, join_room, post_messages, send_from_composer
from tests.browser.test_client_presence_search import NOTIFICATION_STUB, open_dm
from tests.browser.test_message_actions import action, two_in_a_room

ROOM_URL = re.compile(r"/rooms/\d+/$")


def tab_to(page: Page, element_id: str, limit: int = 60) -> None:
    """Presses Tab until the element with this id has focus."""
    for _ in range(limit):
        if page.evaluate("document.activeElement?.id") == element_id:
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached #{element_id}")


def test_keyboard_only_log_in_join_send_switch_rooms_and_use_the_members_panel(people, browser):
    registered = people("alice")
    tag = uuid.uuid4().hex[:6]
    # A fresh context, signed out: logging in is part of the scenario.
    alice = Person(browser.new_context(), registered.server, registered.username)
    page = alice.new_page()
    page.goto(f"{alice.server.url}/accounts/login/")
    tab_to(page, "id_username")
    page.keyboard.type(alice.username)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{alice.server.url}/")

    for name in (f"first {tag}", f"second {tag}"):
        page.goto(f"{alice.server.url}/")
        tab_to(page, "join-name")
        page.keyboard.type(name)
        page.keyboard.press("Enter")
        page.wait_for_url(ROOM_URL)
    expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
    expect(page.locator("#room-title")).to_have_text(f"second {tag}")

    expect(page.locator("#composer-input")).to_be_focused()
    page.keyboard.type("typed, not clicked")
    page.keyboard.press("Enter")
    expect(page.locator(MESSAGES)).to_have_text(["typed, not clicked"])

    page.keyboard.press("Alt+ArrowDown")
    expect(page.locator("#room-title")).to_have_text(f"first {tag}")
    expect(page.locator("#composer-input")).to_be_focused()
    page.keyboard.press("Alt+ArrowUp")
    expect(page.locator("#room-title")).to_have_text(f"second {tag}")
    page.keyboard.press("Alt+ArrowUp")  # already the top room: stays
    expect(page.locator("#room-title")).to_have_text(f"second {tag}")

    tab_to(page, "members-toggle")
    toggle = page.locator("#members-toggle")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"  # the keyboard focus is visible
    page.keyboard.press("Enter")
    expect(page.locator("#members-panel")).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(page.locator("#members-close")).to_be_focused()
    expect(page.locator("#member-list .member-username")).to_have_text([f"@{alice.username}"])
    page.keyboard.press("Escape")
    expect(page.locator("#members-panel")).to_be_hidden()
    expect(toggle).to_be_focused()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    assert alice.errors == []
    alice.context.close()


def test_keyboard_only_create_a_private_room_make_an_invite_link_and_revoke_it(people):
    alice = people("alice")
    tag = uuid.uuid4().hex[:6]
    page = alice.new_page()
    page.goto(alice.server.url)
    join_room(page, f"lobby {tag}")
    toggle = page.locator("#new-room-toggle")
    tab_to(page, "new-room-toggle")
    page.keyboard.press("Enter")
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(page.locator("#new-room-name")).to_be_focused()
    page.keyboard.press("Escape")  # closes the form, focus back on its toggle
    expect(page.locator("#new-room-form")).to_be_hidden()
    expect(toggle).to_be_focused()
    page.keyboard.press("Enter")
    page.keyboard.type(f"den {tag}")
    page.keyboard.press("Tab")  # the checked radio: Public
    page.keyboard.press("ArrowDown")  # Private
    expect(page.get_by_role("radio", name=re.compile("Private"))).to_be_checked()
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # Create room
    expect(page.locator("#room-title")).to_have_text(f"den {tag}")
    expect(page.locator("#room-kind")).to_have_text("Private room")

    tab_to(page, "members-toggle")
    page.keyboard.press("Enter")
    tab_to(page, "invite-link-create")
    page.keyboard.press("Enter")
    url = page.locator("#invite-link-url")
    expect(url).to_be_focused()
    expect(url).to_have_value(re.compile(r"/invite/[A-Za-z0-9_-]{32}/$"))
    page.keyboard.press("Tab")
    expect(page.locator("#invite-link-copy")).to_be_focused()
    revoke = page.locator("#invite-link-list .invite-link-revoke")
    for _ in range(10):
        if page.evaluate("document.activeElement?.classList.contains('invite-link-revoke')"):
            break
        page.keyboard.press("Tab")
    expect(revoke).to_be_focused()
    page.on("dialog", lambda dialog: dialog.accept())
    page.keyboard.press("Enter")
    expect(revoke).to_have_count(0)
    expect(page.locator("#invite-link-expiry")).to_be_focused()
    assert alice.errors == []


def test_alt_shift_down_skips_to_the_next_room_with_unread_messages(people):
    alice, bob = people("alice"), people("bob")
    tag = uuid.uuid4().hex[:6]
    page, bob_page = alice.new_page(), bob.new_page()
    page.goto(alice.server.url)
    bob_page.goto(bob.server.url)
    first = join_room(page, f"r1 {tag}")
    second = join_room(page, f"r2 {tag}")
    join_room(bob_page, f"r1 {tag}")
    join_room(page, f"r3 {tag}")
    post_messages(bob_page, first, ["unread for alice"])
    post_messages(page, second, ["read: alice wrote it"])
    send_from_composer(page, "newest")
    names = page.locator("#room-list .room-name")
    expect(names).to_have_text([f"r3 {tag}", f"r2 {tag}", f"r1 {tag}"])
    expect(page.locator(f'#room-list a[data-room="{first}"]')).to_have_class(
        re.compile(r"\broom-unread\b")
    )

    page.keyboard.press("Alt+Shift+ArrowDown")
    expect(page.locator("#room-title")).to_have_text(f"r1 {tag}")
    expect(page.locator(MESSAGES)).to_have_text(["unread for alice"])
    page.keyboard.press("Alt+Shift+ArrowUp")  # nothing unread above any more: stays
    expect(page.locator("#room-title")).to_have_text(f"r1 {tag}")
    assert alice.errors == []


def test_every_control_on_the_chat_page_has_an_accessible_name(people):
    alice = people("alice")
    page = alice.new_page()
    page.goto(alice.server.url)
    join_room(page, f"labels {uuid.uuid4().hex[:6]}")
    page.locator("#members-toggle").click()
    expect(page.locator("#member-list li")).to_have_count(1)
    # The sidebar's new-room form and the panel's invite links and webhooks, one of each made.
    page.locator("#new-room-toggle").click()
    page.locator("#invite-link-create").click()
    expect(page.locator("#invite-link-list li")).to_have_count(1)
    page.locator("#webhook-name").fill(f"CI {uuid.uuid4().hex[:6]}")
    page.locator("#webhook-form button[type=submit]").click()
    expect(page.locator("#webhook-list li")).to_have_count(1)
    expect(page.locator("#webhook-url")).to_be_visible()
    # The notification menu, open.
    page.locator("#notify-toggle").click()
    expect(page.locator("#notify-menu")).to_be_visible()
    assert unnamed_controls(page) == []


def test_pinning_and_the_pinned_list_work_by_keyboard_and_are_named(people):
    alice = people("alice")
    page = alice.new_page()
    page.goto(alice.server.url)
    join_room(page, f"pinned keys {uuid.uuid4().hex[:6]}")
    for text in ("first to pin", "second to pin"):
        send_from_composer(page, text)
    expect(page.locator(MESSAGES)).to_have_text(["first to pin", "second to pin"])

    # A message's Pin button by keyboard: focus moves to the Unpin that undoes it.
    for text in ("first to pin", "second to pin"):
        item = page.locator("#messages li.msg", has_text=text)
        item.locator("[data-action=pin]").focus()
        page.keyboard.press("Enter")
        expect(item.locator("[data-action=unpin]")).to_be_focused()
        expect(item.locator("[data-action=unpin]")).to_have_attribute("aria-label", "Unpin")
    toggle = page.locator("#pins-toggle")
    expect(toggle).to_have_text("Pinned (2)")

    tab_to(page, "pins-toggle")
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    expect(toggle).to_have_attribute("aria-controls", "pins-popup")
    page.keyboard.press("Enter")
    expect(toggle).to_have_attribute("aria-expanded", "true")
    items = page.locator("#pins-list button.pins-item")
    expect(page.get_by_role("list", name="Pinned messages")).to_be_visible()
    expect(items.first).to_be_focused()  # newest pin first
    expect(items.first).to_contain_text("second to pin")
    assert unnamed_controls(page) == []
    page.keyboard.press("ArrowDown")
    expect(items.nth(1)).to_be_focused()
    page.keyboard.press("ArrowDown")  # wraps round
    expect(items.first).to_be_focused()
    page.keyboard.press("End")
    expect(items.nth(1)).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator("#pins-popup")).to_be_hidden()
    expect(toggle).to_be_focused()
    expect(toggle).to_have_attribute("aria-expanded", "false")

    page.keyboard.press("Enter")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Enter")
    expect(page.locator("#pins-popup")).to_be_hidden()
    expect(page.locator("#messages li.msg", has_text="first to pin")).to_be_focused()
    assert alice.errors == []


def unnamed_controls(page: Page) -> list[str]:
    """The visible controls with no accessible name (label, aria-label(ledby), title, text)."""
    return page.evaluate(
        """() => [...document.querySelectorAll("button, input, select, textarea, a[href]")]
            .filter((node) => node.checkVisibility())
            .filter((node) => {
                const labelled = node.labels?.length || node.getAttribute("aria-label")
                    || node.getAttribute("aria-labelledby") || node.title;
                return !labelled && !node.textContent.trim();
            })
            .map((node) => node.outerHTML.slice(0, 80))"""
    )


def test_the_emoji_picker_and_the_suggestions_are_named_and_keep_their_aria_roles(people):
    alice, bob, alice_page, _bob_page = two_in_a_room(people, "aria")
    page = alice_page
    send_from_composer(page, "react here")
    expect(page.locator(MESSAGES)).to_have_text(["react here"])

    # The composer's picker: a named dialog whose every control is named, its button expanded.
    page.locator("#composer-emoji").click()
    picker = page.locator("#emoji-picker")
    expect(picker).to_have_attribute("role", "dialog")
    expect(picker).to_have_attribute("aria-label", "Insert emoji")
    expect(picker.locator(".emoji-option").first).to_be_visible()
    expect(page.locator("#composer-emoji")).to_have_attribute("aria-haspopup", "dialog")
    assert unnamed_controls(page) == []
    groups = picker.locator("[role=group]")
    expect(groups).to_have_count(1)
    labelled_by = groups.first.get_attribute("aria-labelledby")
    expect(picker.locator(f"#{labelled_by}")).to_have_text("All emoji")
    page.keyboard.press("Escape")
    expect(picker).to_be_hidden()

    # For a reaction: the small picker's "more" opens the same dialog, named for reacting.
    item = page.locator("#messages li.msg", has_text="react here")
    item.hover()
    item.locator("[data-action=picker]").click()
    page.locator(".reaction-picker [data-action=more-emoji]").focus()
    page.keyboard.press("Enter")
    expect(picker).to_have_attribute("aria-label", "React with any emoji")
    expect(item.locator("[data-action=picker]")).to_have_attribute("aria-expanded", "true")
    page.keyboard.press("Escape")
    expect(picker).to_be_hidden()
    expect(item.locator("[data-action=picker]")).to_be_focused()
    expect(item.locator("[data-action=picker]")).to_have_attribute("aria-expanded", "false")

    # The suggestions: a named listbox of options the textarea points at while typing.
    composer = page.locator("#composer-input")
    composer.focus()
    composer.press_sequentially(f"@{bob.username[:3]}")
    listbox = page.locator("#composer-suggestions")
    expect(listbox).to_have_attribute("role", "listbox")
    expect(listbox).to_have_attribute("aria-label", "Suggestions")
    expect(listbox.locator("[role=option]")).to_have_count(1)
    expect(composer).to_have_attribute("aria-autocomplete", "list")
    expect(composer).to_have_attribute("aria-controls", "composer-suggestions")
    active = composer.get_attribute("aria-activedescendant")
    expect(listbox.locator(f"#{active}")).to_have_attribute("aria-selected", "true")
    assert unnamed_controls(page) == []
    composer.press("Escape")
    expect(listbox).to_be_hidden()
    assert composer.get_attribute("aria-activedescendant") is None
    assert alice.errors == [] and bob.errors == []


def test_at_phone_width_the_sidebar_is_a_drawer_and_the_composer_works(people, browser):
    alice = people("alice")
    tag = uuid.uuid4().hex[:6]
    setup = alice.new_page()
    setup.goto(alice.server.url)
    join_room(setup, f"one {tag}")
    room_id = join_room(setup, f"two {tag}")
    setup.close()
    phone = browser.new_context(
        viewport={"width": 390, "height": 844},
        storage_state=alice.context.storage_state(),
        has_touch=True,
        is_mobile=True,
    )
    page = phone.new_page()
    page.goto(f"{alice.server.url}/rooms/{room_id}/")
    expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
    sidebar, toggle = page.locator("#chat-sidebar"), page.locator("#sidebar-toggle")
    expect(sidebar).to_be_hidden()
    expect(toggle).to_be_visible()

    toggle.tap()
    expect(sidebar).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    page.locator("#room-list a", has_text=f"one {tag}").tap()
    expect(page.locator("#room-title")).to_have_text(f"one {tag}")
    expect(sidebar).to_be_hidden()

    toggle.tap()
    expect(sidebar).to_be_visible()
    page.keyboard.press("Escape")
    expect(sidebar).to_be_hidden()
    expect(toggle).to_be_focused()

    composer = page.locator("#composer-input")
    expect(composer).to_be_in_viewport()
    composer.tap()
    composer.fill("sent from a phone")
    page.locator(".composer-send").tap()
    expect(page.locator(MESSAGES)).to_have_text(["sent from a phone"])
    expect(composer).to_have_value("")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # nothing pushes the page sideways
    phone.close()


def test_incoming_messages_from_others_are_announced_in_the_live_region(people):
    alice, bob = people("alice"), people("bob")
    room = f"spoken {uuid.uuid4().hex[:6]}"
    alice_page, bob_page = alice.new_page(), bob.new_page()
    alice_page.goto(alice.server.url)
    bob_page.goto(bob.server.url)
    join_room(alice_page, room)
    join_room(bob_page, room)
    announcer = alice_page.locator("#announcer")
    expect(announcer).to_have_attribute("aria-live", "polite")

    send_from_composer(bob_page, "hello from bob")
    expect(announcer).to_have_text(f"{bob.username}: hello from bob")
    send_from_composer(alice_page, "my own words")
    expect(alice_page.locator(MESSAGES)).to_have_text(["hello from bob", "my own words"])
    expect(announcer).to_have_text(f"{bob.username}: hello from bob")  # own: not read out
    assert alice.errors == [] and bob.errors == []


def test_a_user_without_input_for_the_idle_timeout_shows_as_idle_to_others(people):
    alice, bob = people("alice"), people("bob")
    bob_page = bob.new_page()
    bob_page.clock.install()
    bob_page.goto(bob.server.url)
    room_id = open_dm(bob_page, alice.username)
    alice_page = alice.new_page()
    alice_page.goto(alice.server.url)
    assert open_dm(alice_page, bob.username) == room_id
    dot = alice_page.locator("#room-presence")
    expect(dot).to_have_attribute("data-status", "online")

    bob_page.clock.fast_forward("04:00")
    alice_page.wait_for_timeout(500)
    expect(dot).to_have_attribute("data-status", "online")  # not yet: five minutes
    bob_page.clock.fast_forward("01:01")
    expect(dot).to_have_attribute("data-status", "idle")
    expect(dot).to_have_attribute("aria-label", "Idle")

    bob_page.keyboard.press("Shift")  # any input: active again
    expect(dot).to_have_attribute("data-status", "online")
    assert alice.errors == []


def test_the_home_page_offers_notifications_once_and_the_offer_works_by_keyboard(people):
    alice = people("alice")
    page = alice.new_page()
    page.add_init_script(NOTIFICATION_STUB % "default")
    page.goto(alice.server.url)
    prompt = page.locator("#notify-prompt")
    expect(prompt).to_have_attribute("role", "region")
    expect(prompt).to_have_accessible_name(re.compile(r"^Get desktop notifications"))
    tab_to(page, "notify-dismiss")
    page.keyboard.press("Shift+Tab")
    expect(page.get_by_role("button", name="Enable notifications")).to_be_focused()
    assert page.evaluate("window.__permissionRequests") == 0
    page.keyboard.press("Enter")
    expect(prompt).to_be_hidden()
    assert page.evaluate("window.__permissionRequests") == 1
    # Focus is not lost with the offer: it moves on into the page.
    assert page.evaluate("document.activeElement !== document.body")
    page.reload()
    expect(page.locator("#home-rooms")).to_be_visible()
    expect(prompt).to_be_hidden()
    assert alice.errors == []


def test_the_notification_settings_page_works_by_keyboard_and_names_every_control(people):
    alice = people("alice")
    page = alice.new_page()
    page.add_init_script(NOTIFICATION_STUB % "default")
    page.goto(f"{alice.server.url}/accounts/profile/")
    link = page.get_by_role("link", name="Notification settings")
    link.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/accounts/notifications/$"))
    group = page.get_by_role("group", name="By default, notify me of")
    expect(group.get_by_role("radio")).to_have_count(3)
    tab_to(page, "id_notify_default_1")
    expect(page.get_by_role("radio", name="Mentions and direct messages")).to_be_checked()
    page.keyboard.press("ArrowUp")
    expect(page.get_by_role("radio", name="All messages")).to_be_checked()
    page.keyboard.press("Enter")
    expect(page.locator(".flash")).to_have_text("Your notification settings were saved.")
    expect(page.get_by_role("radio", name="All messages")).to_be_checked()
    unnamed = page.evaluate(
        """() => [...document.querySelectorAll("button, input, select, textarea, a[href]")]
            .filter((node) => node.checkVisibility())
            .filter((node) => {
                const labelled = node.labels?.length || node.getAttribute("aria-label")
                    || node.getAttribute("aria-labelledby") || node.title;
                return !labelled && !node.textContent.trim();
            })
            .map((node) => node.outerHTML.slice(0, 80))"""
    )
    assert unnamed == []
    tab_to(page, "notify-enable")
    page.keyboard.press("Enter")
    expect(page.locator("#notify-permission")).to_have_text(
        "Desktop notifications are on in this browser."
    )
    expect(page.locator("#notify-permission")).to_be_focused()
    assert alice.errors == []


def test_a_weak_password_is_refused_under_the_password_field(browser, parley_server):
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{parley_server.url}/accounts/register/")
    page.fill("input[name=username]", f"weak-{uuid.uuid4().hex[:6]}")
    page.fill("input[name=password1]", "12345678")
    page.fill("input[name=password2]", "12345678")
    page.keyboard.press("Enter")
    password = page.locator(".field", has=page.locator("input[name=password1]"))
    confirmation = page.locator(".field", has=page.locator("input[name=password2]"))
    expect(password.get_by_role("alert")).to_contain_text("This password is too common.")
    expect(confirmation.get_by_role("alert")).to_have_count(0)
    expect(page.locator("input[name=password1]")).to_have_attribute("aria-invalid", "true")
    context.close()


def test_the_profile_card_is_a_named_dialog_that_works_by_keyboard(people):
    alice, bob, alice_page, bob_page = two_in_a_room(people, "card keys")
    send_from_composer(bob_page, "first of a run")
    send_from_composer(bob_page, "second of a run")
    entries = alice_page.locator("#messages li.msg:not(.msg-pending)")
    expect(entries).to_have_count(2)
    # A run shows its author once; the second name is hidden until it has focus.
    hidden_name = entries.nth(1).locator(".msg-author")
    expect(hidden_name).not_to_be_in_viewport()
    hidden_name.focus()
    expect(hidden_name).to_be_in_viewport()
    expect(hidden_name).to_have_accessible_name(bob.username)

    alice_page.keyboard.press("Enter")
    dialog = alice_page.get_by_role("dialog", name=bob.username)
    expect(dialog).to_be_visible()
    expect(hidden_name).to_have_attribute("aria-expanded", "true")
    expect(dialog.get_by_role("link", name=f"Message {bob.username}")).to_be_focused()
    assert unnamed_controls(alice_page) == []
    alice_page.keyboard.press("Shift+Tab")
    expect(dialog.get_by_role("button", name="Close")).to_be_focused()
    alice_page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(hidden_name).to_be_focused()
    assert alice.errors == []


def test_the_people_directory_works_by_keyboard_and_names_every_control(people):
    alice, bob = people("alice"), people("bob")
    page = alice.new_page()
    page.goto(alice.server.url)
    header_link = page.get_by_role("navigation", name="Main").get_by_role("link", name="People")
    header_link.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/people/$"))
    expect(header_link).to_have_attribute("aria-current", "page")
    expect(page.get_by_role("search")).to_be_visible()
    tab_to(page, "people-q")
    page.keyboard.type(bob.username)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/people/\?q="))
    message = page.get_by_role("link", name=f"Message {bob.username}")
    for _ in range(20):
        if message.evaluate("(node) => node === document.activeElement"):
            break
        page.keyboard.press("Tab")
    expect(message).to_be_focused()
    assert unnamed_controls(page) == []
    page.keyboard.press("Enter")
    page.wait_for_url(ROOM_URL)
    expect(page.locator("#room-title")).to_have_text(bob.username)


def test_the_thread_panel_works_by_keyboard_and_names_every_control(people):
    alice, _bob, page, _bob_page = two_in_a_room(people, "thread keys")
    send_from_composer(page, "keyboard root")
    # Reach the message's thread button by keyboard: focus it and press Enter.
    button = action(page, "keyboard root", "thread")
    button.focus()
    page.keyboard.press("Enter")
    panel = page.locator("#thread-panel")
    expect(panel).to_be_visible()
    expect(page.locator("#thread-input")).to_be_focused()
    page.keyboard.type("first line")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("second line")
    page.keyboard.press("Enter")
    expect(page.locator("#thread-replies .thread-msg")).to_have_count(1)
    expect(page.locator("#thread-input")).to_have_value("")
    page.keyboard.press("Tab")
    expect(page.locator("#thread-also")).to_be_focused()
    page.keyboard.press("Space")
    expect(page.locator("#thread-also")).to_be_checked()
    page.locator("#thread-also").uncheck()
    # A reply's actions, by keyboard: Shift+Tab back from the composer reaches its last
    # one (Delete), then Edit; Enter edits in place and Esc cancels the edit only.
    reply = page.locator("#thread-replies .thread-msg").first
    page.locator("#thread-input").focus()
    page.keyboard.press("Shift+Tab")
    expect(reply.get_by_role("button", name="Delete")).to_be_focused()
    page.keyboard.press("Shift+Tab")
    edit = reply.get_by_role("button", name="Edit")
    expect(edit).to_be_focused()
    page.keyboard.press("Enter")
    editor = reply.get_by_role("textbox", name="Edit message")
    expect(editor).to_be_focused()
    assert unnamed_controls(page) == []
    page.keyboard.press("Escape")
    expect(editor).to_have_count(0)
    expect(panel).to_be_visible()
    expect(edit).to_be_focused()
    # The quick reactions too: the picker by keyboard, a reaction, Esc back to its toggle.
    picker = reply.get_by_role("button", name="Add reaction")
    picker.focus()
    page.keyboard.press("Enter")
    expect(reply.get_by_role("button", name="React with 👍")).to_be_focused()
    assert unnamed_controls(page) == []
    page.keyboard.press("Escape")
    expect(picker).to_be_focused()
    expect(panel).to_be_visible()
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")
    expect(reply.locator(".reaction")).to_have_text("👍1")
    expect(reply.locator(".reaction")).to_have_attribute("aria-pressed", "true")
    assert unnamed_controls(page) == []
    labelled = page.evaluate(
        "document.getElementById(document.getElementById('thread-panel')"
        ".getAttribute('aria-labelledby')).textContent"
    )
    assert labelled == "Thread"
    # A draft stays with its thread; Esc closes the panel and gives focus back.
    page.locator("#thread-input").fill("a draft")
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(button).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#thread-input")).to_have_value("a draft")
    assert alice.errors == []


def test_on_a_phone_the_message_menu_is_named_and_the_keyboard_still_reaches_the_actions(
    people, browser
):
    alice, bob, alice_page, _bob_page = two_in_a_room(people, "phone aria")
    send_from_composer(alice_page, "menu for me")
    expect(alice_page.locator(MESSAGES)).to_have_text(["menu for me"])
    phone = browser.new_context(
        viewport={"width": 390, "height": 844},
        storage_state=alice.context.storage_state(),
        has_touch=True,
        is_mobile=True,
    )
    on_phone = Person(phone, alice.server, alice.username)
    page = on_phone.new_page()
    page.goto(alice_page.url)
    item = page.locator("#messages li.msg", has_text="menu for me")
    expect(item).to_be_visible()

    # The open menu: a named menu of named items, focus in it, the message marked.
    item.locator(".msg-body").tap()
    menu = page.get_by_role("menu", name=f"Message from {alice.username}")
    expect(menu).to_be_visible()
    expect(menu.get_by_role("group", name="Pick a reaction")).to_be_visible()
    expect(menu.get_by_role("menuitemcheckbox")).to_have_count(8)
    roles = menu.locator("button").evaluate_all(
        "(items) => items.map((i) => i.role ?? i.getAttribute('role'))"
    )
    assert set(roles) <= {"menuitem", "menuitemcheckbox"}
    assert page.evaluate("document.activeElement.closest('[role=menu]') !== null")
    assert unnamed_controls(page) == []
    page.keyboard.press("Tab")  # Tab leaves a menu: closed, focus back on the message
    expect(menu).to_be_hidden()
    expect(item).to_be_focused()

    # By keyboard at phone width: Tab from the conversation reaches the message's actions,
    # which show while focused, and work as on a wide screen.
    page.locator("#conversation").focus()
    page.keyboard.press("Tab")
    # The author's name (it opens their card) comes first, then the message's actions.
    expect(item.locator(".msg-author")).to_be_focused()
    page.keyboard.press("Tab")
    picker_button = item.locator(".msg-actions [data-action=picker]")
    expect(picker_button).to_be_focused()
    toolbar = item.locator(".msg-actions").bounding_box()
    assert toolbar["width"] > 60 and toolbar["height"] > 20
    page.keyboard.press("Tab")
    expect(item.locator(".msg-actions [data-action=reply]")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#reply-bar")).to_contain_text("menu for me")
    # The context-menu key on a message's control opens its menu too.
    picker_button.focus()
    page.keyboard.press("Shift+F10")
    expect(menu).to_be_visible()
    page.keyboard.press("Escape")
    expect(menu).to_be_hidden()
    expect(picker_button).to_be_focused()
    phone.close()
    assert alice.errors == [] and bob.errors == [] and on_phone.errors == []
