"""People in the browser: the profile card (timeline, members panel, search results) and
the people directory, two people live."""

import re
import uuid
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from playwright.sync_api import Page, expect

from tests.browser.conftest import PASSWORD, Person
from tests.browser.test_chat_client import join_room, send_from_composer
from tests.browser.test_message_actions import two_in_a_room

ROOM_URL = re.compile(r"/rooms/(\d+)/$")
ZONE = "Asia/Tokyo"


def set_profile(person: Person, *, bio: str, time_zone: str) -> None:
    page = person.new_page()
    page.goto(f"{person.server.url}/accounts/profile/")
    page.fill("#id_bio", bio)
    page.fill("#id_time_zone", time_zone)
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".flash")).to_have_text("Your profile was saved.")
    page.close()


def card(page: Page):
    return page.get_by_role("dialog")


def assert_local_time(text: str, zone: str) -> None:
    """The card's "<time> local time" is the hour now in `zone` (12- or 24-hour clock)."""
    match = re.fullmatch(r"(\d{1,2}):\d{2}(\s?[AP]M)? local time", text)
    assert match, text
    hours = set()
    for moment in (datetime.now(UTC),):
        hour = moment.astimezone(ZoneInfo(zone)).hour
        hours |= {hour, hour % 12 or 12, (hour + 1) % 24, (hour + 1) % 12 or 12}
    assert int(match[1]) in hours


def test_alice_opens_bobs_card_from_his_name_in_the_timeline_and_messages_him(people):
    alice, bob, alice_page, bob_page = two_in_a_room(people, "cards")
    set_profile(bob, bio="Maps, tea & <b>not bold</b>.", time_zone=ZONE)
    send_from_composer(bob_page, "hello from bob")
    name = alice_page.locator("#messages li.msg .msg-author", has_text=bob.username)
    expect(name).to_have_count(1)
    expect(name).to_have_attribute("aria-haspopup", "dialog")

    name.click()
    dialog = card(alice_page)
    expect(dialog).to_be_visible()
    expect(dialog).to_have_accessible_name(bob.username)
    expect(dialog.locator(".profile-card-username")).to_have_text(f"@{bob.username}")
    expect(dialog.locator(".profile-card-bio")).to_have_text("Maps, tea & <b>not bold</b>.")
    time = dialog.locator(".profile-card-time")
    expect(time).to_have_attribute("title", ZONE)
    assert_local_time(time.inner_text(), ZONE)
    # Bob has a page open: online, as the store heard it; and it follows him live.
    expect(dialog.locator(".profile-card-presence")).to_have_text("Online")
    bob_page.close()
    expect(dialog.locator(".profile-card-presence")).to_have_text(re.compile(r"^Offline"))

    # Escape closes it and gives focus back to the name; Enter opens it again.
    alice_page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(name).to_be_focused()
    expect(name).to_have_attribute("aria-expanded", "false")
    alice_page.keyboard.press("Enter")
    expect(dialog).to_be_visible()
    message = dialog.get_by_role("link", name=f"Message {bob.username}")
    expect(message).to_be_focused()

    message.click()
    expect(dialog).to_be_hidden()
    alice_page.wait_for_url(ROOM_URL)
    expect(alice_page.locator("#room-title")).to_have_text(bob.username)
    expect(alice_page.locator("#room-kind")).to_have_text("Direct message")
    send_from_composer(alice_page, "a card brought me here")
    expect(alice_page.locator("#messages li.msg:not(.msg-pending) .msg-body")).to_have_text(
        ["a card brought me here"]
    )
    assert alice.errors == []


def test_the_card_opens_from_the_members_panel_and_from_a_search_result(people):
    alice, bob, alice_page, bob_page = two_in_a_room(people, "panel")
    word = f"needle{uuid.uuid4().hex[:6]}"
    send_from_composer(bob_page, f"the {word} is here")
    expect(alice_page.locator("#messages li.msg .msg-body", has_text=word)).to_have_count(1)

    alice_page.locator("#members-toggle").click()
    member = alice_page.locator("#member-list .member-name", has_text=bob.username)
    member.click()
    dialog = card(alice_page)
    expect(dialog).to_have_accessible_name(bob.username)
    expect(dialog.locator(".profile-card-time")).to_have_count(0)  # no zone set
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()
    expect(member).to_be_focused()

    # Her own card: no Message, a way to her profile.
    alice_page.locator("#member-list .member-name", has_text=alice.username).click()
    expect(dialog.get_by_role("link", name="Edit your profile")).to_be_visible()
    expect(dialog.locator(".profile-card-message")).to_have_count(0)
    alice_page.keyboard.press("Escape")

    alice_page.fill("#search-input", word)
    alice_page.locator("#search-input").press("Enter")
    result = alice_page.locator("#search-results li.search-result")
    expect(result).to_have_count(1)
    result.locator(".search-result-author").click()
    expect(dialog).to_have_accessible_name(bob.username)
    # The name opened the card, not the message: the results are still there.
    expect(result).to_have_count(1)
    assert alice.errors == []


def test_the_directory_searches_on_the_server_and_its_message_link_opens_the_dm(people):
    alice, bob, carol = people("alice"), people("bob"), people("carol")
    bob_page = bob.new_page()
    bob_page.goto(bob.server.url)
    join_room(bob_page, f"lobby {uuid.uuid4().hex[:6]}")
    page = alice.new_page()
    page.goto(alice.server.url)
    page.get_by_role("link", name="All people").click()
    page.wait_for_url(re.compile(r"/people/$"))
    expect(page.locator("#people-list li.person")).not_to_have_count(0)

    page.fill("#people-q", bob.username.upper())
    page.locator("#people-q").press("Enter")
    page.wait_for_url(re.compile(r"/people/\?q="))
    expect(page.locator("#people-list li.person .person-name")).to_have_text([bob.username])
    expect(page.locator("#people-list")).not_to_contain_text(carol.username)
    page.get_by_role("link", name=f"Message {bob.username}").click()
    page.wait_for_url(ROOM_URL)
    expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
    send_from_composer(page, "found you in the directory")

    # Bob, live: the conversation arrives in his sidebar, named after Alice.
    expect(bob_page.locator("#room-list")).to_contain_text(alice.username)
    assert alice.errors == []
    assert bob.errors == []

    # A search too long for the server: a clear error on the page (a 400, which the
    # console notes), the box keeping what fits in it.
    page.goto(f"{alice.server.url}/people/?q={'x' * 65}")
    expect(page.get_by_role("alert")).to_have_text("Search for at most 64 characters.")
    expect(page.locator("#people-q")).to_have_value("x" * 64)
    expect(page.locator("#people-q")).to_have_attribute("aria-invalid", "true")


def test_the_profile_offers_the_browsers_time_zone_and_others_see_it(people, browser):
    alice, bob = people("alice"), people("bob")
    context = browser.new_context(timezone_id="Pacific/Auckland")
    try:
        page = context.new_page()
        page.goto(f"{bob.server.url}/accounts/login/")
        page.fill("input[name=username]", bob.username)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r"/$"))
        page.goto(f"{bob.server.url}/accounts/profile/")
        offer = page.get_by_role("button", name="Use this browser’s time zone: Pacific/Auckland")
        offer.click()
        expect(page.locator("#id_time_zone")).to_have_value("Pacific/Auckland")
        expect(page.locator("#id_time_zone")).to_be_focused()
        expect(offer).to_be_hidden()
        page.get_by_role("button", name="Save", exact=True).click()
        expect(page.locator(".flash")).to_have_text("Your profile was saved.")
        # Saved: the offer is not made again for the zone already set.
        expect(offer).to_be_hidden()
    finally:
        context.close()
    page = alice.new_page()
    page.goto(alice.server.url)
    fetch = "async (name) => (await fetch(`/api/people/${name}`)).json()"
    person = page.evaluate(fetch, bob.username)
    assert person["time_zone"] == "Pacific/Auckland"
    assert alice.errors == []
