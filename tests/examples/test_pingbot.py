"""examples/pingbot.py against a real server: run as its README says, it answers
`@bot ping` with `pong` (a reply to the ping) in a room it was added to, and leaves
other messages alone."""

import asyncio
import contextlib
import os
import sys
import uuid

import pytest

from tests.browser.conftest import LiveServer
from tests.support import ROOT, open_peer

SETUP = """
from accounts import bots, tokens
from accounts.models import User
from chat import services
alice = User.objects.create_user("alice", password="x" * 20)
room, _created = services.create_or_join_room(alice, "lobby")
_token, secret = tokens.make_token(alice, name="alice")
print("alice", secret)
bot, _token, secret = bots.new_bot(alice, username="bot", display_name="Ping bot")
services.add_member(alice, room.pk, "bot")
print("bot", secret)
print("room", room.pk)
"""
LISTENING = b"listening as @bot"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    live = LiveServer(tmp_path_factory.mktemp("pingbot"))
    with live.running() as process:
        said = [line.split() for line in live.manage("shell", "-c", SETUP).splitlines()]
        live.facts = {words[0]: words[1] for words in said if len(words) == 2}
        live.process = process
        yield live


def is_message(body: str, author: str):
    return lambda f: (
        f["type"] == "message"
        and f["message"]["body"] == body
        and f["message"]["author"]["username"] == author
    )


async def run_bot_and_ping(server) -> tuple[dict, dict, list[dict]]:
    env = {**os.environ, "PARLEY_URL": server.url, "PARLEY_TOKEN": server.facts["bot"]}
    bot = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "examples" / "pingbot.py"),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        first = await asyncio.wait_for(bot.stdout.readline(), timeout=20)
        assert first.strip() == LISTENING, first
        async with contextlib.AsyncExitStack() as stack:
            alice = await open_peer(
                stack, "alice", server.process, None, token=server.facts["alice"]
            )
            await alice.wait_for(lambda f: f["type"] == "hello", "hello")
            room = int(server.facts["room"])
            for body in ("just chatting", "@bot ping"):
                await alice.send(
                    {"type": "send", "room": room, "body": body, "client_msg_id": str(uuid.uuid4())}
                )
            ping = await alice.wait_for(  # her own message comes back in its ack
                lambda f: f["type"] == "ack" and f["message"]["body"] == "@bot ping", "the ping"
            )
            pong = await alice.wait_for(is_message("pong", "bot"), "the bot's pong", timeout=10)
            return ping, pong, alice.of_type("message")
    finally:
        bot.terminate()
        await bot.wait()


def test_the_example_bot_answers_ping_with_pong(server):
    ping, pong, messages = asyncio.run(run_bot_and_ping(server))
    assert pong["message"]["author"]["is_bot"] is True
    assert pong["message"]["reply_to"]["id"] == ping["message"]["id"]
    assert pong["message"]["room"] == ping["message"]["room"]
    # One pong, for the ping only: "just chatting" went unanswered.
    assert [m["message"]["body"] for m in messages].count("pong") == 1
