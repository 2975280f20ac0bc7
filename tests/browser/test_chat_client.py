"""The browser client end to end: real Chromium, real server, real socket."""

import json
import re
import uuid
from typing import NamedTuple

from playwright.sync_api import Page, WebSocket, expect

from tests.browser.conftest import PASSWORD

MESSAGES = "#messages li.msg:not(.msg-pending) .msg-body"


def join_room(page: Page, name: str) -> int:
    """Join (or create) a public room from the home page; returns its id."""
    page.goto(f"{page.url.split('/', 3)[0]}//{page.url.split('/', 3)[2]}/")
    page.fill("#join-name", name)
    page.locator("#join-name").press("Enter")
    page.wait_for_url(re.compile(r"/rooms/\d+/$"))
    expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
    return int(re.search(r"/rooms/(\d+)/", page.url).group(1))


def send_from_composer(page: Page, text: str) -> None:
    page.fill("#composer-input", text)
    page.locator("#composer-input").press("Enter")


def post_messages(page: Page, room_id: int, bodies: list[str]) -> None:
    """Send through the HTTP API with the page's session and CSRF token, one after another."""
    page.evaluate(
        """async ([roomId, bodies]) => {
            const token = document.cookie.match(/csrftoken=([^;]+)/)[1];
            for (const body of bodies) {
                const response = await fetch(`/api/rooms/${roomId}/messages`, {
                    method: "POST",
                    headers: {"Content-Type": "application/json", "X-CSRFToken": token},
                    body: JSON.stringify({body, client_msg_id: crypto.randomUUID()}),
                });
                if (response.status !== 201) throw new Error(`send failed: ${response.status}`);
            }
        }""",
        [room_id, bodies],
    )


def sockets_of(page: Page) -> list[WebSocket]:
    """The page's WebSockets, newest last (call before the page opens one)."""
    opened: list[WebSocket] = []
    page.on("websocket", lambda socket: opened.append(socket))
    return opened


def heads_saying(socket: WebSocket, room_id: int, seq: int) -> None:
    """Wait for a `heads` frame that puts the room at `seq`: a client holding that much
    has nothing left to fetch, so nothing more may arrive for it after this."""

    def says(payload) -> bool:
        frame = json.loads(payload)
        return frame["type"] == "heads" and frame["rooms"].get(str(room_id)) == seq

    socket.wait_for_event("framereceived", says, timeout=10_000)


class TwoInARoom(NamedTuple):
    alice: object
    bob: object
    alice_page: Page
    bob_page: Page
    room_id: int
    alice_sockets: list[WebSocket]
    bob_sockets: list[WebSocket]


def two_in_a_room(people, name: str) -> TwoInARoom:
    """alice and bob, each on a page of their own, in a new room (`name` and a suffix);
    each page's WebSockets recorded from the start (newest last)."""
    alice, bob = people("alice"), people("bob")
    room = f"{name} {uuid.uuid4().hex[:6]}"
    alice_page, bob_page = alice.new_page(), bob.new_page()
    alice_sockets, bob_sockets = sockets_of(alice_page), sockets_of(bob_page)
    alice_page.goto(alice.server.url)
    bob_page.goto(bob.server.url)
    room_id = join_room(alice_page, room)
    join_room(bob_page, room)
    return TwoInARoom(alice, bob, alice_page, bob_page, room_id, alice_sockets, bob_sockets)


def test_two_people_chat_live_in_a_room_and_in_a_dm(people):
    alice, bob = people("alice"), people("bob")
    room = f"lobby {uuid.uuid4().hex[:6]}"
    alice_page, bob_page = alice.new_page(), bob.new_page()
    alice_page.goto(alice.server.url)
    bob_page.goto(bob.server.url)
    room_id = join_room(alice_page, room)
    assert join_room(bob_page, room) == room_id

    send_from_composer(alice_page, "hello bob")
    expect(bob_page.locator(MESSAGES)).to_have_text(["hello bob"])
    send_from_composer(bob_page, "hi alice\nsecond line")
    expect(alice_page.locator(MESSAGES)).to_have_text(["hello bob", "hi alice\nsecond line"])

    alice_page.goto(f"{alice.server.url}/dm/{bob.username}/")
    alice_page.wait_for_url(re.compile(r"/rooms/\d+/$"))
    expect(alice_page.locator("#connection")).to_have_attribute("data-state", "connected")
    send_from_composer(alice_page, "just between us")
    dm_link = bob_page.locator("#room-list a", has_text=alice.username.title())
    expect(dm_link).to_have_count(1)
    dm_link.click()
    expect(bob_page.locator(MESSAGES)).to_have_text(["just between us"])
    assert alice.errors == [] and bob.errors == []


def test_one_user_in_two_tabs_sees_each_tabs_messages_and_badges_clear_in_both(people):
    alice, bob = people("alice"), people("bob")
    lobby, side = f"lobby {uuid.uuid4().hex[:6]}", f"side {uuid.uuid4().hex[:6]}"
    alice_page, tab_a, tab_b = alice.new_page(), bob.new_page(), bob.new_page()
    for page in (alice_page, tab_a, tab_b):
        page.goto(alice.server.url)
    side_id = join_room(alice_page, side)
    lobby_id = join_room(alice_page, lobby)
    join_room(tab_a, side)
    assert join_room(tab_a, lobby) == lobby_id
    tab_b.goto(f"{bob.server.url}/rooms/{lobby_id}/")
    expect(tab_b.locator("#connection")).to_have_attribute("data-state", "connected")

    send_from_composer(tab_a, "sent from tab a")
    expect(tab_b.locator(MESSAGES)).to_have_text(["sent from tab a"])
    expect(alice_page.locator(MESSAGES)).to_have_text(["sent from tab a"])

    post_messages(alice_page, side_id, ["one", "two"])
    for tab in (tab_a, tab_b):
        badge = tab.locator(f'#room-list a[data-room="{side_id}"] .badge')
        expect(badge).to_have_text("2")
        expect(tab).to_have_title(re.compile(r"^\(2\) "))
    tab_a.locator(f'#room-list a[data-room="{side_id}"]').click()
    expect(tab_a.locator(MESSAGES)).to_have_text(["one", "two"])
    for tab in (tab_a, tab_b):
        expect(tab.locator(f'#room-list a[data-room="{side_id}"] .badge')).to_have_count(0)
    expect(tab_b).not_to_have_title(re.compile(r"\(\d+\)"))
    assert alice.errors == [] and bob.errors == []


def test_user_offline_while_others_send_sees_every_message_once_in_order(people):
    _alice, bob, alice_page, bob_page, room_id, _, bob_sockets = two_in_a_room(people, "busy")
    post_messages(alice_page, room_id, ["before"])
    expect(bob_page.locator(MESSAGES)).to_have_text(["before"])

    bob.context.set_offline(True)
    expect(bob_page.locator("#connection")).to_have_attribute("data-state", "offline")
    bodies = [f"message {n:02d}" for n in range(1, 51)]
    post_messages(alice_page, room_id, bodies)
    fetched: list[dict] = []
    bob_page.on(
        "websocket",
        lambda socket: socket.on(
            "framesent",
            lambda payload: fetched.append(json.loads(payload)) if '"fetch"' in payload else None,
        ),
    )
    over_http: list[str] = []
    bob_page.on(
        "request",
        lambda request: over_http.append(request.url) if "after=" in request.url else None,
    )
    bob.context.set_offline(False)

    expect(bob_page.locator(MESSAGES)).to_have_text(["before", *bodies], timeout=20_000)
    heads_saying(bob_sockets[-1], room_id, len(bodies) + 1)  # nothing may arrive twice later
    expect(bob_page.locator(MESSAGES)).to_have_text(["before", *bodies])
    # The catch-up came over the new socket (the server shares it among tabs coming back
    # together), paired with its answer by request_id; not over HTTP.
    assert [(frame["room"], frame["after"]) for frame in fetched] == [(room_id, 1)]
    assert fetched[0]["request_id"]
    assert over_http == []
    assert bob.errors == []


def test_message_sent_while_offline_is_delivered_once_after_reconnect(people):
    alice, _bob, alice_page, bob_page, room_id, _, bob_sockets = two_in_a_room(people, "pending")

    alice.context.set_offline(True)
    expect(alice_page.locator("#connection")).to_have_attribute("data-state", "offline")
    send_from_composer(alice_page, "written on the train")
    expect(alice_page.locator("#messages li.msg-pending")).to_have_count(1)
    alice.context.set_offline(False)

    expect(bob_page.locator(MESSAGES)).to_have_text(["written on the train"], timeout=20_000)
    expect(alice_page.locator("#messages li.msg-pending")).to_have_count(0)
    expect(alice_page.locator(MESSAGES)).to_have_text(["written on the train"])
    heads_saying(bob_sockets[-1], room_id, 1)  # the resend stored once: nothing more comes
    expect(bob_page.locator(MESSAGES)).to_have_count(1)


def test_many_messages_written_offline_go_a_few_at_a_time_and_arrive_once_in_order(people):
    """More than the server lets a socket leave unanswered (32, then it closes the socket
    with 1008): the tab keeps a window of sends in flight and sends the rest as acks come."""
    alice, _bob, alice_page, bob_page, room_id, alice_sockets, _ = two_in_a_room(people, "train")

    alice.context.set_offline(True)
    expect(alice_page.locator("#connection")).to_have_attribute("data-state", "offline")
    bodies = [f"offline {n:02d}" for n in range(1, 41)]
    for body in bodies:
        send_from_composer(alice_page, body)
    expect(alice_page.locator("#messages li.msg-pending")).to_have_count(len(bodies))
    opened = len(alice_sockets)
    alice.context.set_offline(False)

    expect(bob_page.locator(MESSAGES)).to_have_text(bodies, timeout=20_000)
    expect(alice_page.locator("#messages li.msg-pending")).to_have_count(0)
    heads_saying(alice_sockets[-1], room_id, len(bodies))
    assert len(alice_sockets) == opened + 1  # one socket took them all: none was closed
    expect(bob_page.locator(MESSAGES)).to_have_text(bodies)
    assert alice.errors == []


def test_logging_out_in_one_tab_ends_the_others_socket_and_it_offers_to_log_in(people):
    """The server closes the session's other sockets (4401); the tab finds itself signed
    out and stops reconnecting, instead of retrying a socket that cannot open."""
    alice = people("alice")
    chat, other = alice.new_page(), alice.new_page()
    chat.goto(alice.server.url)
    join_room(chat, f"lobby {uuid.uuid4().hex[:6]}")
    other.goto(alice.server.url)
    other.get_by_role("button", name="Log out").click()
    expect(chat.locator("#login-link")).to_be_visible()
    expect(chat.locator("#connection")).to_have_attribute("data-state", "stopped")
    # The one request that asks whether it is still signed in is answered 401, as it should.
    assert [e for e in alice.errors if "status of 401" not in e] == []


def test_a_socket_closed_for_a_server_restart_reconnects_at_once(people):
    """1012 (service restart: a worker stopping, docs/deploy.md) reopens the socket within
    250 ms; any other close backs off, within a first window of a second (full jitter:
    the draw is made the largest here, so the two windows show)."""
    alice = people("alice")
    page = alice.new_page()
    page.goto(alice.server.url)
    waits = page.evaluate(
        """async () => {
            const { Connection } = await import("/static/chat/connection.js");
            const opened = [];
            class FakeSocket extends EventTarget {
                static CLOSED = 3;
                readyState = 1;
                constructor() { super(); opened.push(this); }
                close() { this.readyState = 3; }
            }
            window.WebSocket = FakeSocket;
            Math.random = () => 0.999;
            const waits = {};
            for (const code of [1012, 1006]) {
                const connection = new Connection("ws://127.0.0.1:9/ws/");
                connection.start();
                const closedAt = Date.now();
                opened.at(-1).dispatchEvent(new CloseEvent("close", { code }));
                waits[code] = [connection.state.name, connection.state.retryAt - closedAt];
                connection.stop();
            }
            return waits;
        }"""
    )
    assert waits["1012"][0] == waits["1006"][0] == "waiting"
    assert 0 <= waits["1012"][1] <= 260, waits
    assert 900 <= waits["1006"][1] <= 1010, waits


def test_logging_in_again_lands_in_the_room_last_open(people):
    alice = people("alice")
    page = alice.new_page()
    page.goto(alice.server.url)
    room_id = join_room(page, f"my usual room {uuid.uuid4().hex[:6]}")
    join_room(page, f"somewhere {uuid.uuid4().hex[:6]}")
    page.locator(f'a.room-link[href="/rooms/{room_id}/"]').click()
    page.wait_for_url(f"**/rooms/{room_id}/")
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/accounts/login/**")
    page.fill("input[name=username]", alice.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{alice.server.url}/rooms/{room_id}/")
    expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
    # Logging out, the tab asked whether it was still signed in: 401, as it should be.
    assert [e for e in alice.errors if "status of 401" not in e] == []


def test_a_send_answered_unavailable_is_sent_again_and_delivered_once(people):
    """The server could not reach its database (`unavailable`: nothing stored): the message
    stays pending, goes again after a backoff, and arrives once, not as a failed send."""
    alice, bob = people("alice"), people("bob")
    room = f"outage {uuid.uuid4().hex[:6]}"
    alice_page, bob_page = alice.new_page(), bob.new_page()
    answered = []

    def refuse_the_first_send(route):
        server = route.connect_to_server()

        def from_page(payload):
            frame = json.loads(payload)
            if frame["type"] == "send" and not answered:
                answered.append(frame["client_msg_id"])
                refusal = {
                    "type": "error",
                    "code": "unavailable",
                    "detail": "Try again shortly.",
                    "client_msg_id": frame["client_msg_id"],
                }
                route.send(json.dumps(refusal))
            else:
                server.send(payload)

        route.on_message(from_page)

    alice_page.route_web_socket(re.compile(r"/ws/$"), refuse_the_first_send)
    bob_sockets = sockets_of(bob_page)
    alice_page.goto(alice.server.url)
    bob_page.goto(bob.server.url)
    room_id = join_room(alice_page, room)
    join_room(bob_page, room)

    send_from_composer(alice_page, "through the outage")
    expect(bob_page.locator(MESSAGES)).to_have_text(["through the outage"], timeout=10_000)
    expect(alice_page.locator("#messages li.msg-pending")).to_have_count(0)
    expect(alice_page.locator(MESSAGES)).to_have_text(["through the outage"])
    assert len(answered) == 1
    heads_saying(bob_sockets[-1], room_id, 1)  # stored once: nothing more comes
    expect(bob_page.locator(MESSAGES)).to_have_count(1)
    assert alice.errors == [] and bob.errors == []


def test_heads_arriving_while_a_catch_up_is_in_flight_fetch_nothing_twice(people):
    """A heads frame that lands while the catch-up it asks for is already on its way (here
    put in front of the fetch's answer) queues no second fetch of what that one brings.
    The server's own heads rounds and live messages are held back meanwhile, so the only
    catch-up is the one the test asks for."""
    alice, bob = people("alice"), people("bob")
    room = f"heads {uuid.uuid4().hex[:6]}"
    alice_page, bob_page = alice.new_page(), bob.new_page()
    routes, fetched, deaf = [], [], []

    def lose_live_messages(route):
        routes.append(route)
        server = route.connect_to_server()

        def from_server(payload):
            if not (deaf and json.loads(payload)["type"] in ("message", "heads")):
                route.send(payload)

        def from_page(payload):
            frame = json.loads(payload)
            if deaf and frame["type"] == "fetch" and "after" in frame:
                fetched.append(frame["after"])
                route.send(json.dumps({"type": "heads", "rooms": {str(frame["room"]): 6}}))
            server.send(payload)

        server.on_message(from_server)
        route.on_message(from_page)

    bob_page.route_web_socket(re.compile(r"/ws/$"), lose_live_messages)
    alice_page.goto(alice.server.url)
    bob_page.goto(bob.server.url)
    room_id = join_room(alice_page, room)
    join_room(bob_page, room)
    post_messages(alice_page, room_id, ["before"])
    expect(bob_page.locator(MESSAGES)).to_have_text(["before"])

    deaf.append(True)
    bodies = [f"lost {n}" for n in range(1, 6)]
    post_messages(alice_page, room_id, bodies)
    routes[-1].send(json.dumps({"type": "heads", "rooms": {str(room_id): 6}}))
    expect(bob_page.locator(MESSAGES)).to_have_text(["before", *bodies])
    assert fetched == [1]
    assert bob.errors == []
