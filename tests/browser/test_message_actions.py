"""Rich text, edits, deletions, reactions, replies, typing and mentions in the browser."""

import re
import uuid

from playwright.sync_api import Page, expect

from tests.browser.test_chat_client import MESSAGES, join_room, send_from_composer

SENT = "#messages li.msg:not(.msg-pending)"


def two_in_a_room(people, prefix: str):
    """Alice and Bob, each with a page open on the same new public room."""
    alice, bob = people("alice"), people("bob")
    room = f"{prefix} {uuid.uuid4().hex[:6]}"
    alice_page, bob_page = alice.new_page(), bob.new_page()
    alice_page.goto(alice.server.url)
    bob_page.goto(bob.server.url)
    room_id = join_room(alice_page, room)
    assert join_room(bob_page, room) == room_id
    return alice, bob, alice_page, bob_page


def message(page: Page, text: str):
    """The (acknowledged) message whose text contains `text`."""
    return page.locator(SENT, has_text=text)


def action(page: Page, text: str, name: str):
    """A message's action button (picker, reply, edit, delete): hovers the message first."""
    item = message(page, text)
    item.hover()
    return item.locator(f".msg-actions button[data-action={name}]")


def test_markdown_shows_bold_and_a_mention_of_the_reader_is_highlighted(people):
    alice, bob, alice_page, bob_page = two_in_a_room(people, "markup")
    send_from_composer(alice_page, f"**hi** @{bob.username}")

    received = bob_page.locator(SENT).first
    expect(received.locator(".msg-body strong")).to_have_text("hi")
    mention = received.locator(f'.msg-body span.mention[data-username="{bob.username}"]')
    expect(mention).to_have_text(f"@{bob.username}")
    expect(mention).to_have_class(re.compile(r"\bmention-me\b"))
    expect(received).to_have_class(re.compile(r"\bmsg-mentions-me\b"))
    # The author sees the mention, but it is not about her.
    sent = alice_page.locator(SENT).first
    expect(sent.locator("span.mention")).to_have_text(f"@{bob.username}")
    expect(sent.locator("span.mention")).not_to_have_class(re.compile(r"\bmention-me\b"))
    assert alice.errors == [] and bob.errors == []


def test_unread_mention_shows_an_at_badge_on_the_room_in_the_sidebar(people):
    _alice, bob, alice_page, bob_page = two_in_a_room(people, "mentioned")
    room_id = int(re.search(r"/rooms/(\d+)/", bob_page.url).group(1))
    join_room(bob_page, f"elsewhere {uuid.uuid4().hex[:6]}")
    send_from_composer(alice_page, f"ping @{bob.username}")

    link = bob_page.locator(f'#room-list a[data-room="{room_id}"]')
    expect(link.locator(".badge-mention")).to_have_text("@1")
    link.click()
    expect(bob_page.locator(MESSAGES)).to_have_text([f"ping @{bob.username}"])
    expect(link.locator(".badge-mention")).to_have_count(0)
    assert bob.errors == []


def test_edit_shows_new_text_and_edited_mark_and_delete_leaves_a_tombstone(people):
    alice, bob, alice_page, bob_page = two_in_a_room(people, "edits")
    send_from_composer(alice_page, "first draft")
    send_from_composer(bob_page, "an answer")
    expect(bob_page.locator(MESSAGES)).to_have_text(["first draft", "an answer"])
    # Only your own messages offer Edit; a member's others offer no Delete either.
    bob_page.locator(SENT).first.hover()
    expect(bob_page.locator(SENT).first.locator("button[data-action=edit]")).to_be_hidden()
    expect(bob_page.locator(SENT).first.locator("button[data-action=delete]")).to_be_hidden()

    action(alice_page, "first draft", "edit").click()
    editor = alice_page.locator(".msg-editor-input")
    expect(editor).to_be_focused()
    expect(editor).to_have_value("first draft")
    editor.fill("final text")
    editor.press("Enter")
    expect(editor).to_have_count(0)

    edited = bob_page.locator(SENT).first
    expect(edited.locator(".msg-body")).to_have_text("final text")
    expect(edited.locator(".msg-edited")).to_have_text("(edited)")
    expect(edited.locator(".msg-edited")).to_have_attribute("title", re.compile(r"^Edited "))

    # Up in the empty composer edits your last message; Esc leaves it as it was.
    alice_page.locator("#composer-input").press("ArrowUp")
    expect(editor).to_have_value("final text")
    editor.press("Escape")
    expect(editor).to_have_count(0)
    expect(alice_page.locator("#composer-input")).to_be_focused()

    alice_page.once("dialog", lambda dialog: dialog.accept())
    action(alice_page, "final text", "delete").click()
    expect(bob_page.locator(MESSAGES)).to_have_text(["This message was deleted", "an answer"])
    expect(bob_page.locator(SENT).first).to_have_class(re.compile(r"\bmsg-deleted\b"))
    expect(alice_page.locator(MESSAGES)).to_have_text(["This message was deleted", "an answer"])
    assert alice.errors == [] and bob.errors == []


def test_reaction_counts_for_everyone_and_a_second_click_takes_it_back(people):
    alice, bob, alice_page, bob_page = two_in_a_room(people, "reactions")
    send_from_composer(alice_page, "react to me")
    expect(bob_page.locator(MESSAGES)).to_have_text(["react to me"])

    action(bob_page, "react to me", "picker").click()
    picker = bob_page.locator(".reaction-picker")
    expect(picker.locator("button[data-action=pick]")).to_have_count(8)
    expect(picker.locator("button[data-action=more-emoji]")).to_have_attribute(
        "aria-label", "More emoji"
    )
    picker.locator('button[data-emoji="👍"]').click()
    expect(picker).to_have_count(0)

    alice_chip = message(alice_page, "react to me").locator(".reaction")
    expect(alice_chip).to_have_count(1)
    expect(alice_chip.locator(".reaction-count")).to_have_text("1")
    expect(alice_chip).to_have_attribute("aria-pressed", "false")
    bob_chip = message(bob_page, "react to me").locator(".reaction")
    expect(bob_chip).to_have_attribute("aria-pressed", "true")
    expect(bob_chip).to_have_attribute("aria-label", "👍, reacted by 1")

    bob_chip.click()
    expect(alice_chip).to_have_count(0)
    expect(bob_chip).to_have_count(0)
    assert alice.errors == [] and bob.errors == []


def test_reply_shows_a_quote_of_its_parent_that_leads_back_to_it(people):
    alice, bob, alice_page, bob_page = two_in_a_room(people, "replies")
    send_from_composer(alice_page, "the question\nwith a second line")
    expect(bob_page.locator(MESSAGES)).to_have_count(1)

    action(bob_page, "the question", "reply").click()
    bar = bob_page.locator("#reply-bar")
    expect(bar).to_be_visible()
    expect(bar).to_contain_text("the question")
    expect(bob_page.locator("#composer-input")).to_be_focused()
    send_from_composer(bob_page, "the answer")
    expect(bar).to_be_hidden()

    reply = message(alice_page, "the answer")
    quote = reply.locator(".msg-quote")
    expect(quote.locator(".msg-quote-excerpt")).to_have_text("the question")
    expect(quote.locator(".msg-quote-author")).not_to_be_empty()
    expect(reply.locator(".msg-body")).to_have_text("the answer")
    quote.click()
    expect(alice_page.locator(SENT).first).to_have_class(re.compile(r"\bmsg-flash\b"))
    expect(alice_page.locator(SENT).first).to_be_focused()

    # Esc in the composer drops a reply before it is sent.
    action(bob_page, "the answer", "reply").click()
    expect(bar).to_be_visible()
    bob_page.locator("#composer-input").press("Escape")
    expect(bar).to_be_hidden()
    assert alice.errors == [] and bob.errors == []


def test_a_reply_quotes_its_parents_text_as_shown_not_its_markdown(people):
    alice, bob, alice_page, bob_page = two_in_a_room(people, "quotes")
    send_from_composer(alice_page, "**bold** plan & `code`\nsecond line")
    expect(bob_page.locator(MESSAGES)).to_have_count(1)

    action(bob_page, "bold", "reply").click()
    expect(bob_page.locator("#reply-bar .reply-bar-excerpt")).to_have_text("bold plan & code")
    send_from_composer(bob_page, "agreed")
    for page in (alice_page, bob_page):  # the server's quote, and the sender's own
        quote = message(page, "agreed").locator(".msg-quote-excerpt")
        expect(quote).to_have_text("bold plan & code")

    # The parent edited: the quote held follows it, still as text.
    action(alice_page, "second line", "edit").click()
    editor = alice_page.locator(".msg-editor-input")
    editor.fill("_fresh_ [words](https://example.com)")
    editor.press("Enter")
    for page in (alice_page, bob_page):
        quote = message(page, "agreed").locator(".msg-quote-excerpt")
        expect(quote).to_have_text("fresh words")
    bob_page.reload()
    expect(message(bob_page, "agreed").locator(".msg-quote-excerpt")).to_have_text("fresh words")
    assert alice.errors == [] and bob.errors == []


def test_typing_indicator_shows_while_someone_types_and_clears_when_they_send(people):
    alice, bob, alice_page, bob_page = two_in_a_room(people, "typing")
    alice_page.locator("#composer-input").press_sequentially("hel")
    expect(bob_page.locator("#typing")).to_have_text(re.compile(r"^.+ is typing…$"))
    # Your own typing is never shown to you.
    expect(alice_page.locator("#typing")).to_have_text("")

    alice_page.locator("#composer-input").press_sequentially("lo")
    alice_page.locator("#composer-input").press("Enter")
    expect(bob_page.locator(MESSAGES)).to_have_text(["hello"])
    expect(bob_page.locator("#typing")).to_have_text("")
    assert alice.errors == [] and bob.errors == []


def test_html_and_javascript_links_in_a_body_stay_inert_text(people):
    alice, bob, alice_page, bob_page = two_in_a_room(people, "xss")
    bodies = ["<img src=x onerror=window.__xss=1>", "[x](javascript:window.__xss=1)"]
    for body in bodies:
        send_from_composer(alice_page, body)
    for page in (alice_page, bob_page):
        expect(page.locator(MESSAGES)).to_have_text(bodies)
        assert page.locator("#messages img").count() == 0
        assert page.locator('#messages a[href^="javascript"]').count() == 0
        assert page.evaluate("window.__xss") is None
    assert alice.errors == [] and bob.errors == []


HOSTILE_HTML = (
    '<p onclick="window.__xss=1" style="color:red">a<img src=x onerror="window.__xss=1">'
    '<a href="javascript:window.__xss=1">js</a>'
    '<a href=" javascript:window.__xss=1">spaced</a>'
    '<a href="https://example.com/" onclick="window.__xss=1" target="_self">ok</a>'
    '<span class="mention" data-username="me" onmouseover="window.__xss=1">@me</span>'
    '<span class="mention" data-username="other">@other</span>'
    '<span class="evil">plain</span><ol start="3" type="i"><li>x</li></ol>'
    '<svg onload="window.__xss=1"><text>svg</text></svg>'
    '<iframe src="javascript:window.__xss=1"></iframe></p>'
    '<script>window.__xss=1</script><form action="/x"><button>b</button></form>'
)


def test_client_rebuilds_message_html_from_its_allow_list_only(people):
    """Defence in depth: even HTML the server should never send cannot run or style."""
    alice = people("alice")
    page = alice.new_page()
    page.goto(alice.server.url)
    result = page.evaluate(
        """async (hostile) => {
            const { renderMessageText } = await import("/static/chat/richtext.js");
            const box = document.createElement("div");
            box.append(renderMessageText(hostile, "", { me: "me" }));
            document.body.append(box);
            const elements = [...box.querySelectorAll("*")];
            const names = elements.flatMap((node) => node.getAttributeNames());
            const plain = document.createElement("div");
            plain.append(renderMessageText("", "<b>body</b>", {}));
            return {
                tags: [...new Set(elements.map((node) => node.localName))].sort(),
                attributes: [...new Set(names)].sort(),
                links: [...box.querySelectorAll("a")].map(
                    (a) => [a.getAttribute("href"), a.target, a.rel],
                ),
                mentions: [...box.querySelectorAll("span")].map((span) => span.className),
                start: box.querySelector("ol").getAttribute("start"),
                text: box.textContent,
                fallback: [plain.innerHTML, plain.textContent],
                xss: window.__xss ?? null,
            };
        }""",
        HOSTILE_HTML,
    )
    assert result["tags"] == ["a", "li", "ol", "p", "span"]
    assert result["attributes"] == ["class", "data-username", "href", "rel", "start", "target"]
    assert result["links"] == [["https://example.com/", "_blank", "noopener noreferrer nofollow"]]
    assert result["mentions"] == ["mention mention-me", "mention"]
    assert result["start"] == "3"
    assert all(word in result["text"] for word in ("js", "spaced", "plain", "svg"))
    assert result["fallback"] == ["&lt;b&gt;body&lt;/b&gt;", "<b>body</b>"]
    assert result["xss"] is None
    # Chromium reports, at parse time, each inline handler the page's CSP would block
    # (in DOMParser's inert document, which never runs them anyway): nothing else.
    assert all("Content Security Policy" in error for error in alice.errors)


def test_edits_deletions_and_reactions_made_while_offline_appear_after_reconnect(people):
    alice, bob, alice_page, bob_page = two_in_a_room(people, "away")
    for body in ("keep me", "change me", "drop me"):
        send_from_composer(alice_page, body)
    expect(bob_page.locator(MESSAGES)).to_have_text(["keep me", "change me", "drop me"])

    bob.context.set_offline(True)
    expect(bob_page.locator("#connection")).to_have_attribute("data-state", "offline")
    action(alice_page, "change me", "edit").click()
    editor = alice_page.locator(".msg-editor-input")
    editor.fill("changed while you were away")
    editor.press("Enter")
    alice_page.once("dialog", lambda dialog: dialog.accept())
    action(alice_page, "drop me", "delete").click()
    action(alice_page, "keep me", "picker").click()
    alice_page.locator('.reaction-picker button[data-emoji="🎉"]').click()
    expect(message(alice_page, "keep me").locator(".reaction")).to_have_count(1)
    bob.context.set_offline(False)

    expect(bob_page.locator(MESSAGES)).to_have_text(
        ["keep me", "changed while you were away", "This message was deleted"], timeout=20_000
    )
    expect(message(bob_page, "keep me").locator(".reaction-count")).to_have_text("1")
    assert alice.errors == [] and bob.errors == []


def test_a_long_message_shows_its_start_and_the_rest_on_request(people):
    alice = people("alice")
    page = alice.new_page()
    page.goto(alice.server.url)
    join_room(page, f"long {uuid.uuid4().hex[:6]}")
    lines = [f"line {n:02d}" for n in range(1, 31)]
    page.fill("#composer-input", "\n".join(lines))
    page.locator("#composer-input").press("Enter")
    message = page.locator("#messages li.msg:not(.msg-pending)", has_text="line 01")
    more = message.locator("button.msg-more")
    body = message.locator(".msg-text > .msg-body")
    clipped = "(body) => body.scrollHeight > body.clientHeight + 1"
    expect(more).to_have_text("Show more")
    expect(more).to_have_attribute("aria-expanded", "false")
    assert body.evaluate(clipped)
    more.click()
    expect(more).to_have_text("Show less")
    expect(more).to_have_attribute("aria-expanded", "true")
    assert not body.evaluate(clipped)
    more.press("Enter")
    expect(more).to_have_text("Show more")
    assert body.evaluate(clipped)
    # A short message has no such button.
    send_from_composer(page, "short and sweet")
    short = page.locator("#messages li.msg:not(.msg-pending)", has_text="short and sweet")
    expect(short).to_be_visible()
    expect(short.locator("button.msg-more")).to_have_count(0)
    assert alice.errors == []
