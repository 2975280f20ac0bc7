"""Notification settings in the browser: a room's level from the header's menu (by
keyboard, live in the user's other tabs), which live messages notify at each level,
the default on the settings page, and the one-time offer to turn notifications on."""

import uuid

from playwright.sync_api import Page, expect

from tests.browser.test_chat_client import MESSAGES, join_room, send_from_composer
from tests.browser.test_client_presence_search import NOTIFICATION_STUB, open_dm, set_hidden


def notifications(page: Page) -> list[dict]:
    return page.evaluate("window.__notifications")


def room_link(page: Page, room_id: int):
    return page.locator(f'#room-list a[data-room="{room_id}"]')


def choose(page: Page, name: str) -> None:
    """Open the room's notifications menu and choose an item, by mouse."""
    page.locator("#notify-toggle").click()
    page.get_by_role("menuitemradio", name=name, exact=True).click()


def test_a_rooms_level_is_chosen_by_keyboard_and_every_tab_of_the_user_shows_it(people):
    alice = people("alice")
    first = alice.new_page()
    first.goto(alice.server.url)
    room_id = join_room(first, f"quiet {uuid.uuid4().hex[:6]}")
    second = alice.new_page()
    second.goto(f"{alice.server.url}/rooms/{room_id}/")
    expect(second.locator("#connection")).to_have_attribute("data-state", "connected")
    toggle = first.locator("#notify-toggle")
    expect(toggle).to_have_accessible_name("Notifications for this room: Mentions only")

    # Keyboard only: focus the bell, open on the chosen item, go down to "Nothing".
    toggle.focus()
    first.keyboard.press("Enter")
    menu = first.get_by_role("menu")
    expect(menu).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    chosen = first.get_by_role("menuitemradio", name="Default (Mentions only)", exact=True)
    expect(chosen).to_be_focused()
    expect(chosen).to_have_attribute("aria-checked", "true")
    first.keyboard.press("ArrowDown")
    expect(first.get_by_role("menuitemradio", name="All messages", exact=True)).to_be_focused()
    first.keyboard.press("End")
    expect(first.get_by_role("menuitem", name="Notification settings")).to_be_focused()
    first.keyboard.press("ArrowUp")
    expect(first.get_by_role("menuitemradio", name="Nothing", exact=True)).to_be_focused()
    first.keyboard.press("Enter")
    expect(menu).to_be_hidden()
    expect(toggle).to_be_focused()

    for page in (first, second):
        bell = page.locator("#notify-toggle")
        expect(bell).to_have_accessible_name("Notifications for this room: Nothing")
        expect(bell).to_have_attribute("data-level", "nothing")
        expect(room_link(page, room_id).locator(".room-notify-off")).to_have_count(1)

    # Esc closes without choosing; the other tab chooses "All messages" by mouse.
    toggle.press("ArrowDown")
    expect(first.get_by_role("menuitemradio", name="Nothing", exact=True)).to_be_focused()
    first.keyboard.press("Escape")
    expect(menu).to_be_hidden()
    expect(toggle).to_be_focused()
    choose(second, "All messages")
    for page in (first, second):
        expect(page.locator("#notify-toggle")).to_have_attribute("data-level", "all")
        expect(room_link(page, room_id).locator(".room-notify-off")).to_have_count(0)
    toggle.click()
    expect(first.get_by_role("menuitemradio", name="All messages", exact=True)).to_have_attribute(
        "aria-checked", "true"
    )
    assert alice.errors == []


def test_each_level_decides_which_live_messages_notify_and_unread_counts_at_every_level(people):
    alice, bob = people("alice"), people("bob")
    name = f"levels {uuid.uuid4().hex[:6]}"
    alice_page = alice.new_page()
    alice_page.goto(alice.server.url)
    room_id = join_room(alice_page, name)
    bob_page = bob.new_page()
    bob_page.add_init_script(NOTIFICATION_STUB % "granted")
    bob_page.goto(bob.server.url)
    assert join_room(bob_page, name) == room_id
    # Bob's page shows another room; his other tab, on this one, chooses its levels. Both
    # are hidden, so neither reads what arrives.
    join_room(bob_page, f"elsewhere {uuid.uuid4().hex[:6]}")
    bobs_other_tab = bob.new_page()
    bobs_other_tab.add_init_script(NOTIFICATION_STUB % "granted")
    bobs_other_tab.goto(f"{bob.server.url}/rooms/{room_id}/")
    expect(bobs_other_tab.locator("#connection")).to_have_attribute("data-state", "connected")
    set_hidden(bob_page, True)
    set_hidden(bobs_other_tab, True)
    unread = room_link(bob_page, room_id).locator(".badge:not(.badge-mention)")
    count = 0

    def say(text: str) -> None:
        """Alice sends; once Bob's page counts it, it has decided whether to notify."""
        nonlocal count
        send_from_composer(alice_page, text)
        count += 1
        expect(unread).to_have_text(str(count))

    # The default in a group room: mentions only.
    say("nothing for bob here")
    assert notifications(bob_page) == []
    say(f"ping @{bob.username}")
    assert [n["body"] for n in notifications(bob_page)] == [f"ping @{bob.username}"]
    assert notifications(bob_page)[0]["title"] == f"{alice.username} in #{name}"

    # Nothing: never a notification, not even for a mention, but the messages still count
    # as unread. (Bob's page shows the room's icon once it has heard the new level.)
    choose(bobs_other_tab, "Nothing")
    expect(room_link(bob_page, room_id).locator(".room-notify-off")).to_have_count(1)
    say(f"even a mention @{bob.username}")
    say("and chatter")
    assert len(notifications(bob_page)) == 1
    expect(room_link(bob_page, room_id).locator(".badge-mention")).to_have_text("@2")

    choose(bobs_other_tab, "All messages")
    expect(room_link(bob_page, room_id).locator(".room-notify-off")).to_have_count(0)
    say("now everything")
    assert [n["body"] for n in notifications(bob_page)][1:] == ["now everything"]

    # Your own messages never notify, whatever the level (Alice's next one shows that
    # Bob's page has had his before it).
    send_from_composer(bobs_other_tab, "from bob himself")
    say("after bob")
    assert [n["body"] for n in notifications(bob_page)][1:] == ["now everything", "after bob"]
    assert alice.errors == [] and bob.errors == []


def test_a_dm_notifies_by_default_until_the_default_is_nothing_set_on_the_settings_page(people):
    alice, bob = people("alice"), people("bob")
    bob_page = bob.new_page()
    bob_page.add_init_script(NOTIFICATION_STUB % "granted")
    bob_page.goto(bob.server.url)
    room_id = open_dm(bob_page, alice.username)
    alice_page = alice.new_page()
    alice_page.goto(alice.server.url)
    assert open_dm(alice_page, bob.username) == room_id
    expect(bob_page.locator("#notify-toggle")).to_have_accessible_name(
        "Notifications for this room: All messages"
    )
    # Permission is already granted: nothing to offer.
    expect(bob_page.locator("#notify-prompt")).to_be_hidden()

    # Visible: no notification.
    send_from_composer(alice_page, "can you see this")
    expect(bob_page.locator(MESSAGES)).to_have_text(["can you see this"])
    set_hidden(bob_page, True)
    long_text = "psst " + "x" * 200
    send_from_composer(alice_page, long_text)
    expect(bob_page.locator(MESSAGES)).to_have_count(2)
    [shown] = notifications(bob_page)
    assert shown["title"] == alice.username
    assert shown["body"].startswith("psst xxx")
    assert len(shown["body"]) <= 120

    # The default, on the settings page in another tab, keyboard only.
    settings = bob.new_page()
    settings.goto(f"{bob.server.url}/accounts/notifications/")
    mentions = settings.get_by_role("radio", name="Mentions and direct messages")
    expect(mentions).to_be_checked()
    mentions.focus()
    settings.keyboard.press("ArrowDown")
    expect(settings.get_by_role("radio", name="Nothing")).to_be_checked()
    settings.keyboard.press("Enter")
    expect(settings.locator(".flash")).to_have_text("Your notification settings were saved.")
    expect(settings.get_by_role("radio", name="Nothing")).to_be_checked()

    # The hidden tab heard it live: default now means nothing in the DM.
    expect(bob_page.locator("#notify-toggle")).to_have_attribute("data-level", "nothing")
    send_from_composer(alice_page, "shh")
    expect(bob_page.locator(MESSAGES)).to_have_count(3)
    assert len(notifications(bob_page)) == 1
    expect(room_link(bob_page, room_id).locator(".badge")).to_have_text("2")
    assert alice.errors == [] and bob.errors == []


def test_the_offer_is_shown_once_not_now_puts_it_away_and_the_settings_page_still_asks(people):
    alice = people("alice")
    page = alice.new_page()
    page.add_init_script(NOTIFICATION_STUB % "default")
    page.goto(alice.server.url)
    prompt = page.get_by_role("region", name="Get desktop notifications")
    expect(prompt).to_be_visible()
    room_id = join_room(page, f"asking {uuid.uuid4().hex[:6]}")
    expect(prompt).to_be_visible()
    # It is at the top of the conversation, not in the sidebar.
    assert page.locator("#chat-sidebar #notify-prompt").count() == 0
    other_tab = alice.new_page()
    other_tab.add_init_script(NOTIFICATION_STUB % "default")
    other_tab.goto(alice.server.url)
    expect(other_tab.locator("#notify-prompt")).to_be_visible()

    page.get_by_role("button", name="Not now").click()
    expect(prompt).to_be_hidden()
    expect(page.locator("#composer-input")).to_be_focused()
    expect(other_tab.locator("#notify-prompt")).to_be_hidden()  # every tab of the browser
    page.reload()
    expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
    expect(page.locator("#notify-prompt")).to_be_hidden()
    page.goto(alice.server.url)
    expect(page.locator("#home-rooms")).to_be_visible()
    expect(page.locator("#notify-prompt")).to_be_hidden()
    assert page.evaluate("window.__permissionRequests") == 0

    page.goto(f"{alice.server.url}/accounts/notifications/")
    status = page.locator("#notify-permission")
    expect(status).to_have_text("Desktop notifications are off in this browser.")
    page.get_by_role("button", name="Enable notifications").click()
    expect(status).to_have_text("Desktop notifications are on in this browser.")
    expect(page.get_by_role("button", name="Enable notifications")).to_be_hidden()
    assert page.evaluate("window.__permissionRequests") == 1
    assert room_id
    assert alice.errors == []


def test_enabling_from_the_offer_asks_once_by_keyboard_and_the_offer_goes(people):
    alice = people("alice")
    page = alice.new_page()
    page.add_init_script(NOTIFICATION_STUB % "default")
    page.goto(alice.server.url)
    join_room(page, f"enable {uuid.uuid4().hex[:6]}")
    button = page.get_by_role("button", name="Enable notifications")
    expect(button).to_be_visible()
    assert page.evaluate("window.__permissionRequests") == 0
    button.focus()
    page.keyboard.press("Enter")
    expect(button).to_be_hidden()
    expect(page.locator("#composer-input")).to_be_focused()
    assert page.evaluate("window.__permissionRequests") == 1
    assert alice.errors == []
