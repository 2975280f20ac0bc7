"""The composer in the browser: each room keeps its own unsent text."""

import uuid

from playwright.sync_api import expect

from tests.browser.test_chat_client import MESSAGES, join_room


def test_unsent_text_stays_in_its_room_across_switches_and_reloads_until_sent(people):
    alice, bob = people("alice"), people("bob")
    tag = uuid.uuid4().hex[:6]
    alice_page, bob_page = alice.new_page(), bob.new_page()
    alice_page.goto(alice.server.url)
    bob_page.goto(bob.server.url)
    general = join_room(alice_page, f"general {tag}")
    random = join_room(alice_page, f"random {tag}")
    assert join_room(bob_page, f"random {tag}") == random
    composer = alice_page.locator("#composer-input")

    alice_page.locator(f'#room-list a[data-room="{general}"]').click()
    composer.press_sequentially("half a thought")
    alice_page.locator(f'#room-list a[data-room="{random}"]').click()
    expect(composer).to_have_value("")
    composer.press("Enter")  # nothing to send in #random
    composer.press_sequentially("for random")
    composer.press("Enter")
    expect(bob_page.locator(MESSAGES)).to_have_text(["for random"])
    expect(composer).to_have_value("")

    alice_page.locator(f'#room-list a[data-room="{general}"]').click()
    expect(composer).to_have_value("half a thought")
    composer.press_sequentially(", more")
    alice_page.reload()
    expect(composer).to_have_value("half a thought, more")
    alice_page.locator(f'#room-list a[data-room="{random}"]').click()
    expect(composer).to_have_value("")

    alice_page.locator(f'#room-list a[data-room="{general}"]').click()
    composer.press("Enter")
    expect(alice_page.locator(MESSAGES)).to_have_text(["half a thought, more"])
    alice_page.reload()
    expect(alice_page.locator(MESSAGES)).to_have_text(["half a thought, more"])
    expect(composer).to_have_value("")
    # Bob's #random got only what was sent there.
    expect(bob_page.locator(MESSAGES)).to_have_text(["for random"])
    assert alice.errors == [] and bob.errors == []


def test_a_draft_is_kept_for_its_user_only(people):
    alice, bob = people("alice"), people("bob")
    tag = uuid.uuid4().hex[:6]
    alice_page, bob_page = alice.new_page(), bob.new_page()
    alice_page.goto(alice.server.url)
    bob_page.goto(bob.server.url)
    room = join_room(alice_page, f"shared {tag}")
    assert join_room(bob_page, f"shared {tag}") == room
    alice_page.locator("#composer-input").press_sequentially("alice's secret")
    expect(alice_page.locator("#composer-input")).to_have_value("alice's secret")
    # Bob on a browser that Alice used: her saved state is in its storage.
    saved = alice_page.evaluate("() => Object.entries(localStorage)")
    assert saved, "the draft is kept in localStorage"
    bob_page.evaluate(
        "(entries) => { for (const [key, value] of entries) localStorage.setItem(key, value); }",
        saved,
    )
    bob_page.reload()
    expect(bob_page.locator("#connection")).to_have_attribute("data-state", "connected")
    expect(bob_page.locator("#composer-input")).to_have_value("")
    assert alice.errors == [] and bob.errors == []


def test_logging_out_leaves_no_draft_in_the_browser(people):
    alice = people("alice")
    page = alice.new_page()
    page.goto(alice.server.url)
    join_room(page, f"leaving {uuid.uuid4().hex[:6]}")
    page.locator("#composer-input").press_sequentially("not for the next person")
    drafts = "() => Object.keys(localStorage).filter((key) => key.startsWith('parley.draft.'))"
    assert len(page.evaluate(drafts)) == 1
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(lambda url: "/rooms/" not in url)
    assert page.evaluate(drafts) == []
    # The closing socket may ask whether it is still signed in first: 401, as it should.
    assert [e for e in alice.errors if "status of 401" not in e] == []
