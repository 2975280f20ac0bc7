"""The sidebar filter, the members panel (room management as the server allows it) and
blocking from a direct message, in the browser."""

import re
import uuid

from playwright.sync_api import expect

from tests.browser.test_chat_client import MESSAGES, join_room, send_from_composer
from tests.browser.test_client_presence_search import open_dm


def test_the_filter_box_narrows_the_rooms_as_you_type_and_esc_clears_it(people):
    alice = people("alice")
    tag = uuid.uuid4().hex[:6]
    page = alice.new_page()
    page.goto(alice.server.url)
    for name in (f"apples {tag}", f"pears {tag}", f"Épinards {tag}"):
        join_room(page, name)
    rooms = page.locator("#room-list li:visible .room-name")
    expect(rooms).to_have_count(3)
    box = page.get_by_label("Filter rooms and people")
    box.press_sequentially("pe")
    expect(rooms).to_have_text([f"pears {tag}"])
    box.fill("epin")  # accents folded
    expect(rooms).to_have_text([f"Épinards {tag}"])
    box.fill("nothing like it")
    expect(rooms).to_have_count(0)
    expect(page.locator("#rooms-unmatched")).to_be_visible()
    box.press("Escape")
    expect(box).to_have_value("")
    # Most recently active first: the last room joined is on top.
    expect(rooms).to_have_text([f"Épinards {tag}", f"pears {tag}", f"apples {tag}"])
    assert alice.errors == []


def test_an_owner_manages_a_room_from_the_members_panel_and_a_member_sees_it_live(people):
    alice, bob = people("alice"), people("bob")
    tag = uuid.uuid4().hex[:6]
    alice_page, bob_page = alice.new_page(), bob.new_page()
    alice_page.goto(alice.server.url)
    bob_page.goto(bob.server.url)
    room_id = join_room(alice_page, f"team {tag}")
    join_room(bob_page, f"team {tag}")
    for page in (alice_page, bob_page):
        page.get_by_role("button", name="Members").click()
    alice_rows, bob_rows = (p.locator("#member-list li.member") for p in (alice_page, bob_page))
    expect(alice_rows).to_have_count(2)
    expect(bob_rows.locator(".member-username")).to_have_text(
        [f"@{alice.username}", f"@{bob.username}"]
    )
    # A plain member sees no management controls.
    expect(bob_page.locator("#room-settings")).to_be_hidden()
    expect(bob_page.locator("#invite-form")).to_be_hidden()
    expect(bob_rows.locator(".member-remove")).to_have_count(0)

    # Rename and set the topic: the member's header and sidebar follow live.
    alice_page.get_by_label("Room name").fill(f"crew {tag}")
    alice_page.get_by_label("Topic").fill("ship it")
    alice_page.locator("#room-settings").get_by_role("button", name="Save").click()
    expect(bob_page.locator("#room-title")).to_have_text(f"crew {tag}")
    expect(bob_page.locator("#room-topic")).to_have_text("ship it")
    expect(bob_page.locator(f'#room-list a[data-room="{room_id}"] .room-name')).to_have_text(
        f"crew {tag}"
    )

    # Make bob an admin: his panel now offers the settings.
    alice_page.get_by_label(f"Role of {bob.username}").select_option("admin")
    expect(bob_page.locator("#room-settings")).to_be_visible()
    expect(bob_rows.nth(1).locator(".member-role-label")).to_have_text("Admin")

    # A refusal shows the server's reason: an admin may not remove an owner.
    bob_page.on("dialog", lambda dialog: dialog.accept())
    bob_page.get_by_role("button", name=f"Remove {alice.username} from the room").click()
    expect(bob_page.locator("#members-error")).to_have_text(
        f"Could not remove {alice.username}: Only an owner may remove an owner."
    )
    expect(bob_rows).to_have_count(2)

    # Inviting someone unknown is refused with the server's words, nothing changes.
    alice_page.get_by_label("Invite by username").fill("nobody-" + tag)
    alice_page.get_by_role("button", name="Invite").click()
    expect(alice_page.locator("#members-error")).to_have_text(
        f"Could not invite nobody-{tag}: No such user."
    )

    # Removing bob: his tab is told at once, the owner's list shrinks.
    alice_page.on("dialog", lambda dialog: dialog.accept())
    alice_page.get_by_role("button", name=f"Remove {bob.username} from the room").click()
    expect(alice_rows).to_have_count(1)
    expect(bob_page.locator("#members-panel")).to_be_hidden()
    expect(bob_page.locator("#chat-notice-text")).to_have_text(
        "You are no longer a member of this room."
    )
    # The browser logs the refused requests (403, 404) as failed loads: nothing else.
    assert all("status of 40" in error for error in alice.errors + bob.errors)
    assert len(alice.errors) == 1 and len(bob.errors) == 1


def test_a_member_who_leaves_disappears_from_the_others_panel(people):
    alice, bob = people("alice"), people("bob")
    tag = uuid.uuid4().hex[:6]
    alice_page, bob_page = alice.new_page(), bob.new_page()
    alice_page.goto(alice.server.url)
    bob_page.goto(bob.server.url)
    join_room(alice_page, f"drop-in {tag}")
    alice_page.get_by_role("button", name="Members").click()
    rows = alice_page.locator("#member-list li.member")
    expect(rows).to_have_count(1)
    join_room(bob_page, f"drop-in {tag}")
    expect(rows).to_have_count(2)  # the join arrived live
    bob_page.get_by_role("button", name="Members").click()
    bob_page.on("dialog", lambda dialog: dialog.accept())
    bob_page.get_by_role("button", name="Leave room").click()
    expect(rows).to_have_count(1)
    expect(bob_page.locator("#chat-notice-text")).to_have_text(
        "You are no longer a member of this room."
    )
    expect(bob_page.locator("#composer")).to_be_hidden()
    assert alice.errors == [] and bob.errors == []


def test_blocking_from_a_dm_stops_the_other_and_their_composer_says_why(people):
    alice, bob = people("alice"), people("bob")
    alice_page, bob_page = alice.new_page(), bob.new_page()
    alice_page.goto(alice.server.url)
    bob_page.goto(bob.server.url)
    room_id = open_dm(bob_page, alice.username)
    assert open_dm(alice_page, bob.username) == room_id

    bob_page.get_by_role("button", name="Members").click()
    expect(bob_page.locator("#members-heading")).to_have_text("People")
    bob_page.get_by_role("button", name=f"Block {alice.username}").click()
    unblock = bob_page.get_by_role("button", name=f"Unblock {alice.username}")
    expect(unblock).to_be_visible()
    expect(bob_page.locator("#composer-note")).to_have_text(
        f"You block {alice.username}: they cannot write to you here."
    )

    send_from_composer(alice_page, "are you there?")
    note = alice_page.locator("#composer-note")
    expect(note).to_have_text(
        f"You cannot write to {bob.username}: This person does not take your messages."
    )
    expect(alice_page.locator("#messages .msg-error")).to_have_text(
        re.compile("does not take your messages")
    )

    unblock.click()
    expect(bob_page.get_by_role("button", name=f"Block {alice.username}")).to_be_visible()
    expect(bob_page.locator("#composer-note")).to_be_hidden()
    alice_page.get_by_role("button", name="Retry").click()
    expect(bob_page.locator(MESSAGES)).to_have_text(["are you there?"])
    expect(note).to_be_hidden()
    assert bob.errors == []


def test_the_name_of_someone_elses_private_room_opens_a_public_room_of_ones_own(people):
    """Trying a name tells nothing of a private room: no "taken", just a public room."""
    alice, bob = people("alice"), people("bob")
    name = f"hush {uuid.uuid4().hex[:6]}"
    alice_page, bob_page = alice.new_page(), bob.new_page()
    alice_page.goto(alice.server.url)
    status = alice_page.evaluate(
        """async (name) => {
            const token = document.cookie.match(/csrftoken=([^;]+)/)[1];
            const response = await fetch("/api/rooms/", {
                method: "POST",
                headers: {"Content-Type": "application/json", "X-CSRFToken": token},
                body: JSON.stringify({name, kind: "private"}),
            });
            return response.status;
        }""",
        name,
    )
    assert status == 201
    bob_page.goto(bob.server.url)
    join_room(bob_page, name.upper())
    expect(bob_page.locator("#room-title")).to_have_text(name.upper())
    expect(bob_page.locator("#room-kind")).to_have_text("Public room")
    send_from_composer(bob_page, "mine now")
    expect(bob_page.locator(MESSAGES)).to_have_text(["mine now"])
    assert alice.errors == [] and bob.errors == []


def test_a_room_one_may_not_see_shows_parleys_404_page_and_a_way_back(people):
    """The browser tests' server runs as `make run` does (DEBUG on)."""
    alice, bob = people("alice"), people("bob")
    page = alice.new_page()
    page.goto(alice.server.url)
    room_id = page.evaluate(
        """async () => {
            const token = document.cookie.match(/csrftoken=([^;]+)/)[1];
            const response = await fetch("/api/rooms/", {
                method: "POST",
                headers: {"Content-Type": "application/json", "X-CSRFToken": token},
                body: JSON.stringify({name: "behind doors", kind: "private"}),
            });
            return (await response.json()).id;
        }"""
    )
    outsider = bob.new_page()
    response = outsider.goto(f"{bob.server.url}/rooms/{room_id}/")
    assert response.status == 404
    expect(outsider.get_by_role("heading", level=1)).to_have_text("Page not found")
    expect(outsider.locator("body")).not_to_contain_text("URLconf")
    outsider.keyboard.press("Tab")  # the skip link, then the way home
    outsider.keyboard.press("Tab")
    expect(outsider.locator(".brand")).to_be_focused()
    outsider.get_by_role("link", name="Back to chat").click()
    outsider.wait_for_url(f"{bob.server.url}/")
    assert outsider.goto(f"{bob.server.url}/no/such/page/").status == 404
    expect(outsider.get_by_role("heading", level=1)).to_have_text("Page not found")
    # Chromium logs each 404 it was answered; nothing else went wrong.
    assert alice.errors == []
    assert all("404 (Not Found)" in error for error in bob.errors), bob.errors
