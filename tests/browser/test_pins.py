"""Pinned messages in the browser, live between two people: the owner pins, the member
sees the header's list and the message's mark, jumps to a pin far up the history (also
after a reload, the pins coming with hello); a member of a group room has no pin button,
both people of a direct room do."""

import re

from playwright.sync_api import Page, expect

from tests.browser.test_chat_client import MESSAGES, post_messages, send_from_composer
from tests.browser.test_message_actions import SENT, action, message, two_in_a_room

ROOM_URL = re.compile(r"/rooms/(\d+)/$")


def pins_toggle(page: Page):
    return page.locator("#pins-toggle")


def pin_items(page: Page):
    return page.locator("#pins-list button.pins-item")


def test_the_owner_pins_the_member_sees_it_live_and_jumps_to_it_far_up(people):
    alice, bob, alice_page, bob_page = two_in_a_room(people, "pins")
    room_id = int(ROOM_URL.search(alice_page.url).group(1))
    send_from_composer(alice_page, "the plan: meet at noon")
    expect(bob_page.locator(MESSAGES)).to_have_text(["the plan: meet at noon"])
    expect(bob_page.locator("#pins-wrap")).to_be_hidden()

    # Bob, a member of a group room, is offered no pin.
    message(bob_page, "the plan").hover()
    expect(message(bob_page, "the plan").locator("[data-action=pin]")).to_be_hidden()

    action(alice_page, "the plan", "pin").click()
    expect(pins_toggle(bob_page)).to_have_text("Pinned (1)")
    expect(message(bob_page, "the plan").locator(".msg-pin-mark")).to_have_text("Pinned")
    expect(message(alice_page, "the plan").locator("[data-action=unpin]")).to_be_visible()
    expect(message(alice_page, "the plan").locator("[data-action=pin]")).to_be_hidden()
    message(bob_page, "the plan").hover()
    expect(message(bob_page, "the plan").locator("[data-action=unpin]")).to_be_hidden()

    # Enough newer messages that the pinned one leaves Bob's page.
    post_messages(alice_page, room_id, [f"later {n}" for n in range(130)])
    expect(bob_page.locator(SENT).last).to_have_text(re.compile("later 129"))
    expect(message(bob_page, "the plan")).to_have_count(0)

    pins_toggle(bob_page).click()
    expect(pins_toggle(bob_page)).to_have_attribute("aria-expanded", "true")
    expect(pin_items(bob_page)).to_have_count(1)
    item = pin_items(bob_page).first
    expect(item.locator(".pins-item-author")).to_have_text(alice.username)
    expect(item.locator(".pins-item-excerpt")).to_have_text("the plan: meet at noon")
    expect(item.locator(".pins-item-by")).to_contain_text(f"Pinned by {alice.username}")
    item.click()
    expect(bob_page.locator("#pins-popup")).to_be_hidden()
    shown = message(bob_page, "the plan")
    expect(shown).to_be_in_viewport()
    expect(shown).to_be_focused()

    # A fresh page (a reconnect): the pins come with hello, and the pin loads its history.
    bob_page.reload()
    expect(bob_page.locator("#connection")).to_have_attribute("data-state", "connected")
    expect(pins_toggle(bob_page)).to_have_text("Pinned (1)")
    expect(message(bob_page, "the plan")).to_have_count(0)
    pins_toggle(bob_page).click()
    pin_items(bob_page).first.click()
    expect(message(bob_page, "the plan")).to_be_in_viewport()
    expect(message(bob_page, "the plan").locator(".msg-pin-mark")).to_be_visible()

    # Unpinned from Alice's list, it leaves Bob's header live.
    action(alice_page, "later 129", "pin").click()
    expect(pins_toggle(bob_page)).to_have_text("Pinned (2)")
    alice_page.reload()
    expect(alice_page.locator("#connection")).to_have_attribute("data-state", "connected")
    pins_toggle(alice_page).click()
    expect(pin_items(alice_page).locator(".pins-item-excerpt")).to_have_text(
        ["later 129", "the plan: meet at noon"]
    )
    pin_items(alice_page).nth(1).click()
    action(alice_page, "the plan", "unpin").click()
    expect(pins_toggle(bob_page)).to_have_text("Pinned (1)")
    expect(message(bob_page, "the plan").locator(".msg-pin-mark")).to_have_count(0)

    # The list itself unpins, for an owner; Bob, a member, gets no such button.
    pins_toggle(bob_page).click()
    expect(bob_page.locator("#pins-list .pins-unpin")).to_have_count(0)
    pins_toggle(alice_page).click()
    alice_page.get_by_role("button", name="Unpin: later 129").click()
    expect(bob_page.locator("#pins-wrap")).to_be_hidden()
    expect(alice_page.locator("#pins-wrap")).to_be_hidden()
    assert alice.errors == [] and bob.errors == []


def test_both_people_of_a_direct_room_pin_and_a_deleted_message_leaves_the_list(people):
    alice, bob = people("alice"), people("bob")
    alice_page, bob_page = alice.new_page(), bob.new_page()
    alice_page.goto(f"{alice.server.url}/dm/{bob.username}/")
    alice_page.wait_for_url(ROOM_URL)
    expect(alice_page.locator("#connection")).to_have_attribute("data-state", "connected")
    send_from_composer(alice_page, "my new address")
    bob_page.goto(f"{bob.server.url}/dm/{alice.username}/")
    bob_page.wait_for_url(ROOM_URL)
    expect(bob_page.locator(MESSAGES)).to_have_text(["my new address"])

    action(bob_page, "my new address", "pin").click()
    expect(pins_toggle(alice_page)).to_have_text("Pinned (1)")
    expect(pins_toggle(bob_page)).to_have_text("Pinned (1)")
    expect(message(alice_page, "my new address").locator(".msg-pin-mark")).to_be_visible()

    alice_page.once("dialog", lambda dialog: dialog.accept())
    action(alice_page, "my new address", "delete").click()
    expect(bob_page.locator(MESSAGES)).to_have_text(["This message was deleted"])
    expect(bob_page.locator("#pins-wrap")).to_be_hidden()
    expect(alice_page.locator("#pins-wrap")).to_be_hidden()
    assert alice.errors == [] and bob.errors == []
