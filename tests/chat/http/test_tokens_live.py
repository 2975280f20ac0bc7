"""API tokens against a real server (as `make run` starts it): the API and the socket by
token, a bad token's 401 on both (JSON on the socket's handshake too), a revoked token's
socket closed at once, and no secret ever in the server's log."""

import asyncio
import contextlib
import http.client
import json
import uuid

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.browser.conftest import LiveServer
from tests.support import open_peer

SESSION_ENDED = 4401

SETUP = """
from accounts import bots, tokens
from accounts.models import User
from chat import services
alice = User.objects.create_user("alice", password="x" * 20)
room, _created = services.create_or_join_room(alice, "lobby")
for name in ("kept", "revoked"):
    _token, secret = tokens.make_token(alice, name=name)
    print(name, secret)
bot, token, secret = bots.new_bot(alice, username="bot", display_name="Bot")
services.add_member(alice, room.pk, "bot")
print("bot", secret)
print("room", room.pk)
"""


def setup_server(live: LiveServer) -> dict[str, str]:
    said = [line.split() for line in live.manage("shell", "-c", SETUP).splitlines()]
    return {words[0]: words[1] for words in said if len(words) == 2}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A real Parley with alice, her two tokens, her bot in her room; and its log."""
    live = LiveServer(tmp_path_factory.mktemp("tokens"))
    with live.running() as process:
        live.process = process
        live.facts = setup_server(live)
        yield live


def call(server, method: str, path: str, token: str, data: dict | None = None):
    """(status, JSON body) of one API request with `Authorization: Bearer <token>`."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request(
            method,
            path,
            body=json.dumps(data) if data is not None else None,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_tokens_work_fail_clearly_are_revoked_and_are_never_logged(server):
    facts, room = server.facts, int(server.facts["room"])
    kept, revoked, bot = facts["kept"], facts["revoked"], facts["bot"]
    forged = "parley_" + "A" * 43

    status, body = call(server, "GET", "/api/tokens/", kept)
    assert status == 200
    assert {t["name"] for t in body["tokens"]} == {"kept", "revoked"}
    made_status, made = call(server, "POST", "/api/tokens/", kept, {"name": "fresh"})
    assert made_status == 201
    fresh = made["token"]

    status, body = call(server, "GET", "/api/rooms/", forged)
    assert status == 401 and body["error"]["code"] == "unauthorized"

    async def sockets():
        async with contextlib.AsyncExitStack() as stack:
            doomed = await open_peer(stack, "revoked", server.process, None, token=revoked)
            listener = await open_peer(stack, "bot", server.process, None, token=bot)
            await doomed.wait_for(lambda f: f["type"] == "hello", "hello")
            await listener.wait_for(lambda f: f["type"] == "hello", "hello")
            said = str(uuid.uuid4())
            status, _sent = call(
                server,
                "POST",
                f"/api/rooms/{room}/messages",
                fresh,
                {"body": "@bot hello", "client_msg_id": said},
            )
            assert status == 201
            heard = await listener.wait_for(
                lambda f: f["type"] == "message" and f["message"]["client_msg_id"] == said,
                "alice's message",
            )
            assert heard["message"]["author"]["username"] == "alice"
            [listed] = [
                t
                for t in call(server, "GET", "/api/tokens/", kept)[1]["tokens"]
                if t["name"] == "revoked"
            ]
            assert call(server, "DELETE", f"/api/tokens/{listed['id']}", kept)[0] == 200
            await asyncio.wait_for(doomed.reader, timeout=5)
            assert doomed.close_code == SESSION_ENDED
            assert not listener.reader.done()  # the bot's token still holds
        with pytest.raises(InvalidStatus) as refused:
            async with connect(
                f"ws://127.0.0.1:{server.port}/ws/",
                additional_headers={"Authorization": f"Bearer {revoked}"},
                open_timeout=10,
            ):
                pass
        return refused.value.response

    response = asyncio.run(sockets())
    assert response.status_code == 401
    assert json.loads(response.body)["error"]["code"] == "unauthorized"
    assert call(server, "GET", "/api/rooms/", revoked)[0] == 401

    log = server.process.log.read_text(errors="replace")
    assert "Unauthorized: /api/rooms/" in log  # the refusals were logged, by path only
    for secret in (kept, revoked, bot, fresh, forged):
        assert secret not in log
        assert secret.removeprefix("parley_") not in log
