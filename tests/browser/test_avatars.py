"""Uploaded avatars: shown wherever the person is, initials where they have none."""

import re
import uuid

from playwright.sync_api import Page, expect

from tests.browser.conftest import Person
from tests.browser.test_chat_client import join_room, send_from_composer
from tests.browser.test_client_presence_search import open_dm
from tests.browser.test_uploads import png

AVATAR_SRC = re.compile(r"/media/avatars/\d+/")


def upload_avatar(person: Person) -> Page:
    page = person.new_page()
    page.goto(f"{person.server.url}/accounts/profile/")
    page.set_input_files(
        "input[name=avatar]", {"name": "me.png", "mimeType": "image/png", "buffer": png("teal")}
    )
    page.get_by_role("button", name="Save").first.click()
    expect(page.locator("img.avatar-lg")).to_have_attribute("src", AVATAR_SRC)
    return page


def test_an_uploaded_avatar_shows_in_messages_the_sidebar_members_and_people(people):
    alice, bob = people("alice"), people("bob")
    upload_avatar(bob).close()
    room = f"faces {uuid.uuid4().hex[:6]}"
    alice_page, bob_page = alice.new_page(), bob.new_page()
    alice_page.goto(alice.server.url)
    # The home page's people list.
    person = alice_page.locator("a", has_text=f"@{bob.username}")
    expect(person.locator("img.avatar")).to_have_attribute("src", AVATAR_SRC)
    bob_page.goto(bob.server.url)
    room_id = join_room(alice_page, room)
    assert join_room(bob_page, room) == room_id

    send_from_composer(bob_page, "with my face")
    send_from_composer(alice_page, "with my initial")
    # Live, in Alice's timeline: Bob's picture, and her own initial still.
    bobs = alice_page.locator("#messages li.msg", has_text="with my face")
    expect(bobs.locator("img.msg-avatar")).to_have_attribute("src", AVATAR_SRC)
    expect(bobs.locator("img.msg-avatar")).to_have_attribute("alt", "")
    alices = alice_page.locator("#messages li.msg", has_text="with my initial")
    expect(alices.locator(".msg-avatar")).to_have_text(alice.username[0].upper())
    expect(alices.locator("img")).to_have_count(0)

    # The members panel.
    alice_page.get_by_role("button", name="Members").click()
    row = alice_page.locator("#member-list li.member", has_text=f"@{bob.username}")
    expect(row.locator("img.member-avatar")).to_have_attribute("src", AVATAR_SRC)

    # A direct room: the sidebar (live, on the first message) and the home page.
    open_dm(bob_page, alice.username)
    send_from_composer(bob_page, "psst")
    dm = alice_page.locator("#room-list a", has_text=bob.username.title())
    expect(dm.locator("img.room-avatar")).to_have_attribute("src", AVATAR_SRC)
    alice_page.goto(alice.server.url)
    summary = alice_page.locator("#home-rooms li", has_text="psst")
    expect(summary.locator("img.room-avatar")).to_have_attribute("src", AVATAR_SRC)
    assert alice.errors == [] and bob.errors == []
