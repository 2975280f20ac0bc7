"""Webhooks in the browser: an owner makes one in the members panel, copies its URL
once, a program posts to it (JSON with a `username`) and the message shows live from the
webhook's bot, "via" that name; revoked, its bot leaves and its URL answers 404."""

import json
import re
import urllib.error
import urllib.request
import uuid

from playwright.sync_api import Page, expect

from tests.browser.test_chat_client import MESSAGES, join_room
from tests.browser.test_invites import create_room_from_sidebar


def post_to(url: str, payload: dict) -> tuple[int, bytes]:
    """POST the payload as JSON, as a program would: no cookie, no CSRF token."""
    body, headers = json.dumps(payload).encode(), {"Content-Type": "application/json"}
    request = urllib.request.Request(url, body, headers)  # noqa: S310 (the test's server)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def make_webhook(page: Page, name: str) -> str:
    page.get_by_label("Name (shown as the sender of its messages)").fill(name)
    page.get_by_role("button", name="Create webhook").click()
    url = page.locator("#webhook-url")
    expect(url).to_have_value(re.compile(r"^https?://[^/]+/hooks/[A-Za-z0-9_-]{32}$"))
    expect(url).to_be_focused()
    return url.input_value()


def test_an_owner_makes_a_webhook_a_program_posts_and_revoking_stops_it(people):
    alice = people("alice")
    tag = uuid.uuid4().hex[:6]
    page = alice.new_page()
    page.goto(alice.server.url)
    join_room(page, f"lobby {tag}")
    create_room_from_sidebar(page, f"builds {tag}", private=True)
    page.get_by_role("button", name="Members").click()
    expect(page.locator("#webhooks")).to_be_visible()
    expect(page.locator("#webhooks-status")).to_have_text("No webhooks.")
    url = make_webhook(page, f"Deploy {tag}")
    hooks = page.locator("#webhook-list li")
    expect(hooks).to_have_count(1)
    expect(hooks).to_contain_text(f"Deploy {tag}")
    expect(page.locator("#member-list .member-name")).to_contain_text([f"Deploy {tag}"])

    assert post_to(url, {"text": "shipped **v2**", "username": "ci"}) == (200, b"ok")
    expect(page.locator(MESSAGES)).to_have_text(["shipped v2"])
    message = page.locator("#messages li.msg").last
    expect(message.locator(".msg-author")).to_have_text(f"Deploy {tag}")
    expect(message.locator(".msg-via")).to_have_text("via ci")
    expect(message.locator(".msg-body strong")).to_have_text("v2")

    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name=f"Revoke the webhook Deploy {tag}").click()
    expect(hooks).to_have_count(0)
    expect(page.locator("#webhooks-status")).to_have_text("No webhooks.")
    expect(page.locator("#member-list .member-name")).not_to_contain_text([f"Deploy {tag}"])
    status, body = post_to(url, {"text": "too late"})
    assert (status, json.loads(body)["error"]["code"]) == (404, "not_found")
    expect(page.locator(MESSAGES)).to_have_text(["shipped v2"])
    assert alice.errors == []
