"""A page on another local origin cannot use the signed-in user's cookie on the socket."""

import http.server
import threading

import pytest
from playwright.sync_api import expect

from tests.browser.test_chat_client import join_room
from tests.support import free_port

PROBE = """<!doctype html><title>elsewhere</title><script>
window.outcome = new Promise((resolve) => {
  const socket = new WebSocket(%r);
  socket.onmessage = (event) => resolve("message: " + event.data.slice(0, 40));
  socket.onclose = (event) => resolve("closed " + event.code);
});
</script>"""


@pytest.fixture
def other_origin(parley_server):
    """A tiny web server on another port of the same host, serving the probe page."""
    socket_url = parley_server.url.replace("http", "ws", 1) + "/ws/"
    page = (PROBE % socket_url).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def test_a_page_on_another_local_origin_cannot_open_a_socket_with_the_users_cookie(
    people, other_origin
):
    alice = people("alice")
    own = alice.new_page()
    own.goto(alice.server.url)
    join_room(own, "origin check")
    # The same browser context, so the session cookie (SameSite=Lax, same site) goes along.
    expect(own.locator("#connection")).to_have_attribute("data-state", "connected")

    elsewhere = alice.context.new_page()
    elsewhere.goto(other_origin)
    outcome = elsewhere.evaluate("window.outcome")
    assert outcome.startswith("closed"), outcome
    assert "hello" not in outcome
