"""Private rooms from the sidebar and invite links, in the browser: an owner makes a
private room and a link; a signed-out person follows it through login (or registration)
and joins, and the owner sees them arrive live."""

import re
import uuid

from playwright.sync_api import Page, expect

from tests.browser.conftest import PASSWORD, Person
from tests.browser.test_chat_client import MESSAGES, join_room, send_from_composer

ROOM_URL = re.compile(r"/rooms/(\d+)/$")


def create_room_from_sidebar(page: Page, name: str, *, private: bool) -> int:
    page.get_by_role("button", name="New room").click()
    page.get_by_label("Name of the new room").fill(name)
    page.get_by_role("radio", name=re.compile("Private" if private else "Public")).check()
    page.get_by_role("button", name="Create room").click()
    expect(page.locator("#room-title")).to_have_text(name)
    return int(ROOM_URL.search(page.url).group(1))


def make_link(page: Page, *, expiry: str = "7 days", uses: str = "No limit") -> str:
    page.get_by_label("Expires after").select_option(label=expiry)
    page.get_by_label("Number of uses").select_option(label=uses)
    page.get_by_role("button", name="Create link").click()
    url = page.locator("#invite-link-url")
    expect(url).to_have_value(re.compile(r"/invite/[A-Za-z0-9_-]{32}/$"))
    expect(url).to_be_focused()
    return url.input_value()


def signed_out(person: Person, browser) -> Person:
    return Person(browser.new_context(), person.server, person.username)


def test_a_signed_out_person_follows_a_link_to_a_private_room_through_login(people, browser):
    alice, registered_bob = people("alice"), people("bob")
    tag = uuid.uuid4().hex[:6]
    page = alice.new_page()
    page.goto(alice.server.url)
    join_room(page, f"lobby {tag}")
    room_id = create_room_from_sidebar(page, f"hideout {tag}", private=True)
    expect(page.locator("#room-kind")).to_have_text("Private room")
    expect(page.locator(f'#room-list a[data-room="{room_id}"]')).to_be_visible()
    page.get_by_role("button", name="Members").click()
    expect(page.locator("#invite-links")).to_be_visible()
    expect(page.locator("#invite-links-status")).to_have_text("No active invite links.")
    link = make_link(page, expiry="1 day", uses="5")
    links = page.locator("#invite-link-list li")
    expect(links).to_have_count(1)
    expect(links).to_contain_text("Used 0 of 5 times")

    bob = signed_out(registered_bob, browser)
    bob_page = bob.new_page()
    bob_page.goto(link)
    bob_page.wait_for_url(re.compile(r"/accounts/login/\?next=/invite/"))
    expect(bob_page.get_by_text(f"hideout {tag}")).to_have_count(0)  # nothing before login
    bob_page.get_by_label("Username").fill(bob.username)
    bob_page.get_by_label("Password").fill(PASSWORD)
    bob_page.get_by_role("button", name="Log in").click()
    bob_page.wait_for_url(link)
    expect(bob_page.get_by_role("heading")).to_have_text(f"Join #hideout {tag}?")
    bob_page.get_by_role("button", name=f"Join #hideout {tag}").click()
    bob_page.wait_for_url(re.compile(rf"/rooms/{room_id}/$"))
    expect(bob_page.locator("#connection")).to_have_attribute("data-state", "connected")
    expect(bob_page.locator("#room-title")).to_have_text(f"hideout {tag}")

    # The owner sees the newcomer arrive live, and they talk.
    expect(page.locator("#member-list .member-username")).to_have_text(
        [f"@{alice.username}", f"@{bob.username}"]
    )
    send_from_composer(bob_page, "found it by link")
    expect(page.locator(MESSAGES)).to_have_text(["found it by link"])

    # Revoked: the link leads nowhere, and says nothing about the room.
    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name=re.compile("^Revoke the link made")).click()
    expect(links).to_have_count(0)
    expect(page.locator("#invite-links-status")).to_have_text("No active invite links.")
    carol = people("carol")
    carol_page = carol.new_page()
    carol_page.goto(link)
    expect(carol_page.get_by_role("heading")).to_have_text("This invite link does not work")
    expect(carol_page.get_by_text(f"hideout {tag}")).to_have_count(0)
    assert alice.errors == bob.errors == []
    # The only complaint on carol's side is the page's own status: 404.
    assert [error for error in carol.errors if "404" not in error] == []
    bob.context.close()


def test_a_newcomer_registers_from_a_link_and_lands_in_the_room(people, browser):
    alice = people("alice")
    tag = uuid.uuid4().hex[:6]
    page = alice.new_page()
    page.goto(alice.server.url)
    join_room(page, f"lobby {tag}")
    create_room_from_sidebar(page, f"club {tag}", private=True)
    page.get_by_role("button", name="Members").click()
    link = make_link(page, expiry="Never", uses="1")
    expect(page.locator("#invite-link-list li")).to_contain_text("Never expires")

    newcomer = Person(browser.new_context(), alice.server, f"dave-{tag}")
    newcomer_page = newcomer.new_page()
    newcomer_page.goto(link)
    newcomer_page.get_by_role("link", name="Create an account").click()
    newcomer_page.fill("input[name=username]", newcomer.username)
    newcomer_page.fill("input[name=password1]", PASSWORD)
    newcomer_page.fill("input[name=password2]", PASSWORD)
    newcomer_page.get_by_role("button", name="Register").click()
    newcomer_page.wait_for_url(link)
    newcomer_page.get_by_role("button", name=f"Join #club {tag}").click()
    expect(newcomer_page.locator("#room-title")).to_have_text(f"club {tag}")
    expect(page.locator("#member-list .member-username")).to_have_text(
        [f"@{alice.username}", f"@{newcomer.username}"]
    )
    assert alice.errors == newcomer.errors == []
    newcomer.context.close()


def test_a_public_room_from_the_sidebar_a_refused_name_and_no_links_for_a_member(people):
    alice, bob = people("alice"), people("bob")
    tag = uuid.uuid4().hex[:6]
    page, bob_page = alice.new_page(), bob.new_page()
    page.goto(alice.server.url)
    join_room(page, f"lobby {tag}")
    create_room_from_sidebar(page, f"square {tag}", private=False)
    expect(page.locator("#room-kind")).to_have_text("Public room")
    bob_page.goto(bob.server.url)
    join_room(bob_page, f"square {tag}")
    bob_page.get_by_role("button", name="Members").click()
    expect(bob_page.locator("#member-list li")).to_have_count(2)
    expect(bob_page.locator("#invite-links")).to_be_hidden()

    # A name the server refuses: its reason shows in the form, and nothing opens.
    bob_page.get_by_role("button", name="New room").click()
    bob_page.get_by_label("Name of the new room").fill(f"vault! {tag}")
    bob_page.get_by_role("radio", name=re.compile("Private")).check()
    bob_page.get_by_role("button", name="Create room").click()
    expect(bob_page.locator("#new-room-error")).to_have_text(
        "Could not create the room: A room name may hold letters, digits, spaces, '-' and '_'."
    )
    expect(bob_page.get_by_label("Name of the new room")).to_be_focused()
    expect(bob_page.locator("#room-title")).to_have_text(f"square {tag}")
    assert alice.errors == []
