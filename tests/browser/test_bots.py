"""Bots in the browser: made on the Bots page (its token shown once), invited to a room
from the members panel like anyone, then posting through the API with its token; its
name carries a "bot" badge in the timeline, the members panel and its profile card."""

import http.client
import json
import uuid

from playwright.sync_api import expect

from tests.browser.test_chat_client import join_room


def post_as_bot(server, token: str, room_id: int, body: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request(
            "POST",
            f"/api/rooms/{room_id}/messages",
            body=json.dumps({"body": body, "client_msg_id": str(uuid.uuid4())}),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        return connection.getresponse().status
    finally:
        connection.close()


def test_a_bot_made_on_its_page_is_invited_posts_and_wears_its_badge(people):
    alice = people("alice")
    tag = uuid.uuid4().hex[:6]
    name = f"helper{tag}"
    page = alice.new_page()
    page.goto(f"{alice.server.url}/accounts/bots/")
    page.get_by_label("Username").fill(name)
    page.get_by_label("Display name").fill(f"Helper {tag}")
    page.get_by_role("button", name="Make a bot").click()
    secret = page.locator("#token-secret").inner_text().strip()
    assert secret.startswith("parley_")
    page.get_by_role("link", name="Done").click()
    expect(page.get_by_role("heading", name=f"Helper {tag} bot")).to_be_visible()
    assert secret not in page.content()

    room_id = join_room(page, f"bots {tag}")
    page.get_by_role("button", name="Members").click()
    page.locator("#invite-input").fill(name)
    page.locator("#invite-form").get_by_role("button", name="Invite").click()
    bot_row = page.locator("#member-list li.member", has_text=f"@{name}")
    expect(bot_row.locator(".tag-bot")).to_have_text("bot")

    assert post_as_bot(alice.server, secret, room_id, "beep from the bot") == 201
    message = page.locator("#messages li.msg", has_text="beep from the bot")
    expect(message.locator(".msg-meta .tag-bot")).to_have_text("bot")
    message.locator(".msg-author").click()
    expect(page.get_by_role("dialog").locator(".tag-bot")).to_have_text("bot")
    # People carry no badge.
    expect(
        page.locator("#member-list li.member", has_text=f"@{alice.username}").locator(".tag-bot")
    ).to_have_count(0)
    assert alice.errors == []
