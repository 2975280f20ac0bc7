"""The emoji picker (composer and reactions), `:shortcode:`, `@` member and `#` room
completion in the composer, with a second person watching live where it matters."""

import re
import uuid

from playwright.sync_api import Page, expect

from tests.browser.test_chat_client import MESSAGES, join_room, send_from_composer
from tests.browser.test_message_actions import SENT, action, message, two_in_a_room

PICKER = "#emoji-picker"
SUGGESTIONS = "#composer-suggestions [role=option]"


def open_composer_picker(page: Page) -> None:
    page.locator("#composer-emoji").click()
    expect(page.locator(PICKER)).to_be_visible()
    expect(page.locator(f"{PICKER} .emoji-option").first).to_be_visible()


def test_an_emoji_picked_by_name_goes_into_the_composer_and_reaches_the_other_person(people):
    alice, bob, alice_page, bob_page = two_in_a_room(people, "picker")
    page = alice_page
    page.fill("#composer-input", "launch ")
    open_composer_picker(page)
    expect(page.locator("#composer-emoji")).to_have_attribute("aria-expanded", "true")
    page.locator(f"{PICKER} .emoji-search").fill("rocket")
    expect(page.locator(f"{PICKER} .emoji-option").first).to_have_text("🚀")
    expect(page.locator(f"{PICKER} .emoji-status")).to_contain_text("found")
    page.locator(f"{PICKER} .emoji-option", has_text="🚀").click()
    expect(page.locator(PICKER)).to_be_hidden()
    expect(page.locator("#composer-input")).to_have_value("launch 🚀")
    expect(page.locator("#composer-input")).to_be_focused()
    page.locator("#composer-input").press("Enter")
    expect(bob_page.locator(MESSAGES)).to_have_text(["launch 🚀"])

    # Reopened, the picker shows what was used recently first.
    open_composer_picker(page)
    recent = page.locator(f"{PICKER} .emoji-section").first
    expect(page.locator(f"{PICKER} .emoji-section-title").first).to_have_text("Recently used")
    expect(recent.locator(".emoji-option")).to_have_text(["🚀"])
    assert alice.errors == [] and bob.errors == []


def test_a_skin_tone_chosen_once_applies_to_every_emoji_that_has_them(people):
    alice = people("alice")
    page = alice.new_page()
    page.goto(alice.server.url)
    join_room(page, f"tones {uuid.uuid4().hex[:6]}")
    open_composer_picker(page)
    page.locator(f"{PICKER} .emoji-tone").select_option("3")
    page.locator(f"{PICKER} .emoji-search").fill("thumbs up")
    expect(page.locator(f"{PICKER} .emoji-option").first).to_have_text("👍🏽")
    page.locator(f"{PICKER} .emoji-search").press("Enter")
    expect(page.locator("#composer-input")).to_have_value("👍🏽")
    # The choice is remembered, and emoji without skin tones stay as they are.
    open_composer_picker(page)
    expect(page.locator(f"{PICKER} .emoji-tone")).to_have_value("3")
    page.locator(f"{PICKER} .emoji-search").fill("party popper")
    expect(page.locator(f"{PICKER} .emoji-option").first).to_have_text("🎉")
    assert alice.errors == []


def test_a_reaction_with_any_emoji_from_the_full_picker_shows_live_for_the_other(people):
    alice, bob, alice_page, bob_page = two_in_a_room(people, "react-any")
    send_from_composer(bob_page, "ship it")
    expect(message(alice_page, "ship it")).to_be_visible()
    action(alice_page, "ship it", "picker").click()
    alice_page.locator(".reaction-picker [data-action=more-emoji]").click()
    expect(alice_page.locator(PICKER)).to_be_visible()
    alice_page.locator(f"{PICKER} .emoji-search").fill("woman technologist")
    alice_page.locator(f"{PICKER} .emoji-option", has_text="👩‍💻").first.click()
    expect(alice_page.locator(PICKER)).to_be_hidden()

    chip = message(bob_page, "ship it").locator(".reaction")
    expect(chip).to_have_count(1)
    expect(chip.locator(".reaction-emoji")).to_have_text("👩‍💻")
    expect(chip.locator(".reaction-count")).to_have_text("1")
    # Bob adds his by pressing the chip: the same emoji, counted twice for Alice.
    chip.click()
    expect(message(alice_page, "ship it").locator(".reaction-count")).to_have_text("2")
    assert alice.errors == [] and bob.errors == []


def test_the_picker_is_usable_by_keyboard_alone(people):
    alice = people("alice")
    page = alice.new_page()
    page.goto(alice.server.url)
    join_room(page, f"keys {uuid.uuid4().hex[:6]}")
    page.locator("#composer-input").focus()
    page.keyboard.press("Tab")
    expect(page.locator("#composer-emoji")).to_be_focused()
    page.keyboard.press("Enter")
    search = page.locator(f"{PICKER} .emoji-search")
    expect(search).to_be_focused()
    expect(page.locator(f"{PICKER} .emoji-option").first).to_be_visible()
    page.keyboard.press("ArrowDown")
    options = page.locator(f"{PICKER} .emoji-option")
    expect(options.nth(0)).to_be_focused()
    page.keyboard.press("ArrowRight")
    expect(options.nth(1)).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(options.nth(9)).to_be_focused()
    second_row = options.nth(8).get_attribute("data-emoji")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowUp")
    expect(search).to_be_focused()
    # Esc closes it and gives focus back to its button.
    page.keyboard.press("Escape")
    expect(page.locator(PICKER)).to_be_hidden()
    expect(page.locator("#composer-emoji")).to_be_focused()
    expect(page.locator("#composer-emoji")).to_have_attribute("aria-expanded", "false")
    # Reopened: Down goes to the first emoji, Down again one row below; Enter takes it.
    page.keyboard.press("Enter")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(page.locator("#composer-input")).to_have_value(second_row)
    assert alice.errors == []


def test_a_shortcode_completes_to_its_emoji_and_enter_takes_it_instead_of_sending(people):
    alice = people("alice")
    page = alice.new_page()
    page.goto(alice.server.url)
    join_room(page, f"shortcode {uuid.uuid4().hex[:6]}")
    composer = page.locator("#composer-input")
    composer.press_sequentially("great :thumbs")
    expect(page.locator(SUGGESTIONS).first).to_contain_text("👍 :thumbs_up:")
    expect(composer).to_have_attribute("aria-activedescendant", "suggestion-0")
    composer.press("Enter")
    expect(composer).to_have_value("great 👍")
    expect(page.locator("#composer-suggestions")).to_be_hidden()
    expect(page.locator(SENT)).to_have_count(0)
    # An alias works too; a time of day is not a shortcode.
    composer.press_sequentially(" :+1")
    expect(page.locator(SUGGESTIONS).first).to_contain_text("👍")
    composer.press("Escape")
    expect(page.locator("#composer-suggestions")).to_be_hidden()
    composer.fill("")
    composer.press_sequentially("at 10:30")
    expect(page.locator("#composer-suggestions")).to_be_hidden()
    composer.press("Enter")
    expect(page.locator(MESSAGES)).to_have_text(["at 10:30"])
    assert alice.errors == []


def test_at_suggests_the_rooms_members_and_the_mention_reaches_the_member_live(people):
    alice, bob, alice_page, bob_page = two_in_a_room(people, "mention-ac")
    composer = alice_page.locator("#composer-input")
    composer.press_sequentially("hello @bo")
    option = alice_page.locator(SUGGESTIONS, has_text=f"@{bob.username}")
    expect(option).to_have_count(1)
    # Alice herself is not offered.
    expect(alice_page.locator(SUGGESTIONS, has_text=f"@{alice.username}")).to_have_count(0)
    expect(option).to_have_attribute("aria-selected", "true")
    composer.press("Tab")
    expect(composer).to_have_value(f"hello @{bob.username} ")
    composer.press_sequentially("look")
    composer.press("Enter")

    received = message(bob_page, "look")
    expect(received.locator(f'span.mention[data-username="{bob.username}"]')).to_have_class(
        re.compile(r"\bmention-me\b")
    )
    assert alice.errors == [] and bob.errors == []


def test_the_arrow_keys_move_through_the_members_and_a_click_picks_one(people):
    alice, bob, alice_page, _bob_page = two_in_a_room(people, "arrows")
    carol = people("carol")
    carol_page = carol.new_page()
    carol_page.goto(carol.server.url)
    room_id = join_room(carol_page, alice_page.locator("#room-title").inner_text())
    assert f"/rooms/{room_id}/" in alice_page.url
    composer = alice_page.locator("#composer-input")
    composer.press_sequentially("@")
    options = alice_page.locator(SUGGESTIONS)
    expect(options).to_have_count(2)
    expect(composer).to_have_attribute("aria-controls", "composer-suggestions")
    composer.press("ArrowDown")
    expect(options.nth(1)).to_have_attribute("aria-selected", "true")
    expect(composer).to_have_attribute("aria-activedescendant", "suggestion-1")
    composer.press("ArrowDown")
    expect(options.nth(0)).to_have_attribute("aria-selected", "true")
    composer.press("ArrowUp")
    expect(options.nth(1)).to_have_attribute("aria-selected", "true")
    picked = options.nth(1).locator(".suggestion-detail").inner_text()
    options.nth(1).click()
    expect(composer).to_have_value(f"{picked} ")
    expect(composer).to_be_focused()
    assert alice.errors == [] and bob.errors == [] and carol.errors == []


def test_hash_suggests_the_users_rooms_and_inserts_the_name(people):
    alice = people("alice")
    page = alice.new_page()
    page.goto(alice.server.url)
    tag = uuid.uuid4().hex[:6]
    join_room(page, f"garden {tag}")
    join_room(page, f"kitchen {tag}")
    composer = page.locator("#composer-input")
    composer.press_sequentially("see #gar")
    option = page.locator(SUGGESTIONS)
    expect(option).to_have_text([f"#garden {tag}"])
    composer.press("Enter")
    expect(composer).to_have_value(f"see #garden {tag} ")
    expect(page.locator(SENT)).to_have_count(0)

    # Alt+Down still goes to the next room from inside the picker, and closes it.
    open_composer_picker(page)
    page.locator(f"{PICKER} .emoji-search").press("Alt+ArrowDown")
    expect(page.locator("#room-title")).to_have_text(f"garden {tag}")
    expect(page.locator(PICKER)).to_be_hidden()
    composer.press_sequentially("#kit")
    page.keyboard.press("Alt+ArrowUp")
    expect(page.locator("#room-title")).to_have_text(f"kitchen {tag}")
    expect(page.locator("#composer-suggestions")).to_be_hidden()
    assert alice.errors == []


def test_someone_who_joins_later_is_suggested_without_a_reload(people):
    alice, bob, alice_page, _bob_page = two_in_a_room(people, "late")
    composer = alice_page.locator("#composer-input")
    composer.press_sequentially("@")
    expect(alice_page.locator(SUGGESTIONS)).to_have_count(1)  # Bob; the list is fetched now
    composer.press("Escape")
    alice_page.locator("#members-toggle").click()
    carol = people("carol")
    carol_page = carol.new_page()
    carol_page.goto(carol.server.url)
    join_room(carol_page, alice_page.locator("#room-title").inner_text())
    expect(alice_page.locator("#member-list li", has_text=carol.username)).to_have_count(1)

    composer.fill("")
    composer.press_sequentially(f"@{carol.username[:4]}")
    expect(alice_page.locator(SUGGESTIONS)).to_have_text([re.compile(f"@{carol.username}$")])
    assert alice.errors == [] and bob.errors == [] and carol.errors == []


CROWD = """
from accounts.models import User
from chat.models import Membership
tag = "{tag}"
crowd = User.objects.bulk_create(
    [User(username=f"crowd{{tag}}{{n:03}}", display_name=f"Crowd {{n}}") for n in range(505)]
    + [User(username=f"zed{{tag}}", display_name="Zed Last")]
)
Membership.objects.bulk_create([Membership(room_id={room}, user=user) for user in crowd])
"""


def test_at_finds_a_member_of_a_room_too_large_to_list_whole(people):
    """The members API lists 500; past that, the composer asks the server by name."""
    alice = people("alice")
    page = alice.new_page()
    page.goto(alice.server.url)
    tag = uuid.uuid4().hex[:6]
    room_id = join_room(page, f"crowded {tag}")
    alice.server.manage("shell", "-c", CROWD.format(tag=tag, room=room_id))
    page.reload()
    expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
    page.locator("#composer-input").press_sequentially("hi @zed")
    # Three searches by name go to the server, one a key: on a busy machine, give them time.
    expect(page.locator(SUGGESTIONS)).to_have_count(1, timeout=15_000)
    expect(page.locator(SUGGESTIONS).first).to_contain_text(f"@zed{tag}")
    page.locator("#composer-input").press("Tab")
    expect(page.locator("#composer-input")).to_have_value(f"hi @zed{tag} ")
    assert alice.errors == []
