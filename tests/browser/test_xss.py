"""The XSS corpus: hostile display names, message bodies and topics, set through the real
forms and API, show as literal text everywhere Parley renders them, and never run.

One person per payload: their display name, their message in a shared room, their DM
to the viewer and the topic of a room of their own are all that payload. A payload
that ran would call `parleyXss(n)` or `alert(n)`; CSP would also report a blocked
inline handler on the console. The viewer's pages are checked for all three, and for
any element that grew an inline handler or a script that is not Parley's own.
"""

import re
import uuid

import pytest
from playwright.sync_api import APIRequestContext, Browser, BrowserContext, Page, expect

from tests.browser.conftest import PASSWORD, LiveServer, Person
from tests.browser.test_chat_client import MESSAGES, join_room
from tests.browser.xss_payloads import INJECTED_JS, PAYLOADS, TRAP_SCRIPT


def csrf_token(context: BrowserContext) -> str:
    return next(c["value"] for c in context.cookies() if c["name"] == "csrftoken")


class FormUser:
    """A person driven through HTTP alone (forms and the JSON API), sharing a context's cookies."""

    def __init__(self, context: BrowserContext, server: LiveServer, username: str):
        self.context, self.url, self.username = context, server.url, username
        self.http: APIRequestContext = context.request
        self.http.get(f"{self.url}/accounts/register/")
        self.form(
            "/accounts/register/",
            {"username": username, "password1": PASSWORD, "password2": PASSWORD},
        )

    def form(self, path: str, fields: dict) -> str:
        response = self.http.post(
            f"{self.url}{path}", form={**fields, "csrfmiddlewaretoken": csrf_token(self.context)}
        )
        assert response.ok, (path, response.status)
        return response.text()

    def api(self, method: str, path: str, data: dict, status: int = 200) -> dict:
        response = self.http.fetch(
            f"{self.url}{path}",
            method=method,
            data=data,
            headers={"X-CSRFToken": csrf_token(self.context)},
        )
        assert response.status == status, (path, response.status, response.text())
        return response.json()

    def send(self, room_id: int, body: str) -> None:
        self.api(
            "POST",
            f"/api/rooms/{room_id}/messages",
            {"body": body, "client_msg_id": str(uuid.uuid4())},
            status=201,
        )


@pytest.fixture(scope="module")
def corpus(browser: Browser, parley_server: LiveServer):
    """The viewer, the shared room, and one FormUser per payload (with their topic room)."""
    viewer = Person(browser.new_context(), parley_server, f"viewer-{uuid.uuid4().hex[:6]}")
    viewer.context.add_init_script(TRAP_SCRIPT)
    viewer.register().close()
    page = viewer.new_page()
    page.goto(parley_server.url)
    room = f"corpus {uuid.uuid4().hex[:6]}"
    room_id = join_room(page, room)
    page.close()
    contexts, topic_rooms = [], []
    tag = uuid.uuid4().hex[:4]
    for n, payload in enumerate(PAYLOADS):
        context = browser.new_context()
        contexts.append(context)
        # Sorted before every other test's users, so the home page lists them all.
        user = FormUser(context, parley_server, f"aa{tag}{n:02d}")
        saved = user.form("/accounts/profile/", {"display_name": payload, "bio": payload})
        assert "Your profile was saved." in saved
        user.form("/rooms/join/", {"name": room})
        user.send(room_id, payload)
        dm = user.api("POST", "/api/rooms/direct/", {"username": viewer.username}, status=201)
        user.send(dm["id"], f"hello from number {n}")
        # A payload is never a room name: refused, with nothing created.
        refusal = user.api("POST", "/api/rooms/", {"name": payload}, status=400)
        assert refusal["error"]["code"] == "bad_request"
        joined = user.http.post(
            f"{parley_server.url}/rooms/join/",
            form={"name": payload, "csrfmiddlewaretoken": csrf_token(context)},
        )
        assert joined.status == 400
        own = user.api("POST", "/api/rooms/", {"name": f"topic {tag} {n:02d}"}, status=201)
        updated = user.api("PATCH", f"/api/rooms/{own['id']}/", {"topic": payload})
        assert updated["topic"] == payload
        user.send(own["id"], "first")  # most recently active: listed on the home page
        topic_rooms.append(own["id"])
    yield viewer, room_id, topic_rooms
    for context in [viewer.context, *contexts]:
        context.close()


def watched_page(viewer: Person) -> tuple[Page, list[str]]:
    page = viewer.new_page()
    dialogs: list[str] = []

    def on_dialog(dialog):
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    return page, dialogs


def assert_inert(page: Page, viewer: Person, dialogs: list[str]) -> None:
    injected = page.evaluate(INJECTED_JS)
    assert injected == {"handlers": [], "scripts": [], "fired": []}
    assert dialogs == []
    assert viewer.errors == []


def test_every_payload_shows_as_text_in_the_room_sidebar_and_search_and_never_runs(corpus):
    viewer, room_id, _topic_rooms = corpus
    page, dialogs = watched_page(viewer)
    page.goto(f"{viewer.server.url}/rooms/{room_id}/")
    expect(page.locator("#connection")).to_have_attribute("data-state", "connected")

    # Messages: each payload as a body and as its author's name.
    expect(page.locator(MESSAGES)).to_have_text(PAYLOADS)
    expect(page.locator("#messages li.msg .msg-author")).to_have_text(PAYLOADS)
    # Sidebar: one DM per payload, named after its peer, and their previews.
    sidebar_names = page.locator("#room-list .room-name").all_text_contents()
    assert set(PAYLOADS) <= set(sidebar_names)
    # Hovering and focusing everything gives mouse and focus handlers their chance.
    for item in page.locator("#messages li.msg").all()[:10]:
        item.hover()
    page.keyboard.press("Tab")

    # Search results: author and text, both the payload.
    page.fill("#search-input", "parleyXss")
    page.locator("#search-input").press("Enter")
    results = page.locator("#search-results li.search-result")
    expect(results).to_have_count(20)
    for result in results.all():
        author = result.locator(".search-result-author").text_content()
        assert author in PAYLOADS
        expect(result.locator(".search-result-text")).to_have_text(author)
    expect(page.locator("#search-results .search-result-room").first).to_have_text(
        re.compile(r"^#corpus ")
    )
    assert_inert(page, viewer, dialogs)


def test_every_payload_shows_as_text_on_the_home_page_and_in_room_headers(corpus):
    viewer, _room_id, topic_rooms = corpus
    page, dialogs = watched_page(viewer)
    page.goto(f"{viewer.server.url}/")
    # People to message, the DMs in "your rooms" (name and preview author), public topics.
    people_names = page.locator("section[aria-labelledby=people-heading] .room-name")
    assert set(PAYLOADS) <= set(people_names.all_text_contents())
    assert set(PAYLOADS) <= set(page.locator("#home-rooms .room-name").all_text_contents())
    authors = page.locator("#home-rooms .room-preview-author").all_text_contents()
    assert {f"{payload}:" for payload in PAYLOADS} <= set(authors)
    topics = page.locator(".public-room .room-preview").all_text_contents()
    assert set(PAYLOADS) <= set(topics)
    assert_inert(page, viewer, dialogs)

    # Each topic in its room's header, as the server renders it and the client updates it.
    for room_id, payload in zip(topic_rooms, PAYLOADS, strict=True):
        page.goto(f"{viewer.server.url}/rooms/{room_id}/")
        expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
        expect(page.locator("#room-topic")).to_have_text(payload)
        assert_inert(page, viewer, dialogs)
