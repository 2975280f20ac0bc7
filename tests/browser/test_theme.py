"""Light and dark themes: the system's by default, the header toggle's once chosen (kept
across reloads), and text contrast meeting WCAG AA (4.5:1) in both."""

import re
import uuid

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_chat_client import join_room, post_messages, send_from_composer

LIGHT_BG, DARK_BG = "rgb(246, 247, 249)", "rgb(13, 17, 23)"


def body_background(page: Page) -> str:
    return page.evaluate("getComputedStyle(document.body).backgroundColor")


def test_the_page_follows_the_system_colour_scheme(browser, parley_server):
    context = browser.new_context()
    page = context.new_page()
    page.emulate_media(color_scheme="dark")
    page.goto(f"{parley_server.url}/accounts/login/")
    assert body_background(page) == DARK_BG
    page.emulate_media(color_scheme="light")
    assert body_background(page) == LIGHT_BG
    context.close()


def test_the_toggle_overrides_the_system_and_is_remembered_after_a_reload(people):
    alice = people("alice")
    page = alice.new_page()
    page.emulate_media(color_scheme="dark")
    page.goto(alice.server.url)
    toggle = page.locator("#theme-toggle")
    expect(toggle).to_have_attribute("aria-pressed", "true")
    expect(toggle).to_have_accessible_name("Use the light theme")
    assert body_background(page) == DARK_BG

    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "false")
    expect(toggle).to_have_accessible_name("Use the dark theme")
    assert body_background(page) == LIGHT_BG

    # Remembered: another page, and a reload, open light although the system is dark.
    page.goto(f"{alice.server.url}/accounts/profile/")
    assert body_background(page) == LIGHT_BG
    page.reload()
    expect(page.locator("html")).to_have_attribute("data-theme", "light")
    assert body_background(page) == LIGHT_BG
    page.locator("#theme-toggle").press("Enter")
    assert body_background(page) == DARK_BG
    page.emulate_media(color_scheme="light")
    assert body_background(page) == DARK_BG  # the choice still wins over the system
    assert alice.errors == []


# The WCAG contrast ratio of an element's text against what lies behind it: the first
# opaque background up its ancestors, with any translucent ones on top composited in, and
# the text faded by the opacity of the element and its ancestors.
CONTRAST = """(selectors) => {
  const parse = (text) => {
    let m = /^rgba?\\(([\\d.]+),\\s*([\\d.]+),\\s*([\\d.]+)(?:,\\s*([\\d.]+))?\\)$/.exec(text);
    if (m) return [m[1] / 255, m[2] / 255, m[3] / 255, m[4] === undefined ? 1 : Number(m[4])];
    m = /^color\\(srgb ([\\d.e-]+) ([\\d.e-]+) ([\\d.e-]+)(?: \\/ ([\\d.]+))?\\)$/.exec(text);
    if (m) return [Number(m[1]), Number(m[2]), Number(m[3]), m[4] === undefined ? 1 : Number(m[4])];
    throw new Error(`unparsed colour ${text}`);
  };
  const over = (top, bottom) =>
    top.slice(0, 3).map((c, i) => c * top[3] + bottom[i] * (1 - top[3]));
  const luminance = (rgb) => {
    const [r, g, b] = rgb.map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const behind = (node) => {
    const layers = [];
    for (let at = node; at; at = at.parentElement) {
      const colour = parse(getComputedStyle(at).backgroundColor);
      if (colour[3] > 0) layers.push(colour);
      if (colour[3] === 1) break;
    }
    let rgb = [1, 1, 1];
    for (const layer of layers.reverse()) rgb = over(layer, rgb);
    return rgb;
  };
  return selectors.map((selector) => {
    const node = document.querySelector(selector);
    if (!node) return { selector, ratio: null };
    const background = behind(node);
    const colour = parse(getComputedStyle(node).color);
    for (let at = node; at; at = at.parentElement) {
      colour[3] *= Number(getComputedStyle(at).opacity);
    }
    const text = over(colour, background);
    const [light, dark] = [luminance(text), luminance(background)].sort((a, b) => b - a);
    return { selector, ratio: Math.round(((light + 0.05) / (dark + 0.05)) * 100) / 100 };
  });
}"""

CHAT_TEXT = [
    ".msg-body",
    ".msg-author",
    ".msg-time",
    ".mention-me",
    ".mention:not(.mention-me)",
    "#room-title",
    "#room-kind",
    "#room-topic",
    ".sidebar-head h2",
    ".sidebar-more",
    "#connection-text",
    ".room-link[aria-current] .room-name",
    ".room-link:not([aria-current]) .room-name",
    ".room-link .badge:not(.badge-mention)",
    ".room-link .badge-mention",
    ".composer-send",
    ".composer-hint",
    ".brand",
    ".topbar-profile",
    ".topbar .button-link",
    ".member-name",
    ".member-username",
    ".member-role-label",
    "#leave-room",
    "#members-status",
]
HOME_TEXT = [".tag", ".room-preview", ".room-preview-author", "#join-help", ".join-row .button"]


def low_contrast(page: Page, selectors: list[str]) -> list[dict]:
    results = page.evaluate(CONTRAST, selectors)
    missing = [r["selector"] for r in results if r["ratio"] is None]
    assert missing == [], f"not on the page: {missing}"
    return [r for r in results if r["ratio"] < 4.5]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_text_on_the_chat_and_home_pages_meets_wcag_aa_contrast(people, scheme):
    alice, bob = people("alice"), people("bob")
    tag = uuid.uuid4().hex[:6]
    alice_page, bob_page = alice.new_page(), bob.new_page()
    alice_page.emulate_media(color_scheme=scheme)
    alice_page.goto(alice.server.url)
    bob_page.goto(bob.server.url)
    elsewhere = join_room(alice_page, f"elsewhere {tag}")
    join_room(bob_page, f"elsewhere {tag}")
    here = join_room(alice_page, f"here {tag}")
    join_room(bob_page, f"here {tag}")
    post_messages(bob_page, elsewhere, [f"@{alice.username} over here"])
    post_messages(bob_page, here, [f"hey @{alice.username}"])
    post_messages(alice_page, here, [f"hi @{bob.username}"])
    alice_page.evaluate(
        """async (roomId) => {
            const token = document.cookie.match(/csrftoken=([^;]+)/)[1];
            await fetch(`/api/rooms/${roomId}/`, {
                method: "PATCH",
                headers: {"Content-Type": "application/json", "X-CSRFToken": token},
                body: JSON.stringify({topic: "colours"}),
            });
        }""",
        here,
    )
    expect(alice_page.locator("#room-topic")).to_have_text("colours")
    expect(alice_page.locator(".room-link .badge-mention")).to_be_visible()
    expect(alice_page.locator(".mention-me")).to_be_visible()
    alice_page.locator("#members-toggle").click()
    expect(alice_page.locator("#member-list li")).to_have_count(2)
    assert low_contrast(alice_page, CHAT_TEXT) == []

    # A message waiting to be sent, and its status line.
    alice.context.set_offline(True)
    expect(alice_page.locator("#connection")).to_have_attribute("data-state", "offline")
    send_from_composer(alice_page, "still on its way")
    expect(alice_page.locator("#messages li.msg-pending")).to_have_count(1)
    assert low_contrast(alice_page, [".msg-pending .msg-body", ".msg-pending .msg-status"]) == []
    alice.context.set_offline(False)
    expect(alice_page.locator("#messages li.msg-pending")).to_have_count(0)

    alice_page.goto(alice.server.url)
    expect(alice_page.locator(".tag")).to_have_count(0)  # public rooms carry no tag
    bob_page.goto(f"{bob.server.url}/dm/{alice.username}/")
    bob_page.wait_for_url(re.compile(r"/rooms/\d+/$"))
    send_from_composer(bob_page, "a word in private")  # a DM reaches her with its first message
    expect(bob_page.locator("#messages li.msg:not(.msg-pending)")).to_have_count(1)
    alice_page.reload()
    assert low_contrast(alice_page, HOME_TEXT) == []
    assert alice.errors == [] and bob.errors == []
