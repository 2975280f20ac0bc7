"""Sockets opened with an API token (chat.realtime.auth): the token's user, no Origin
check (a program's socket; a browser cannot set the header), a bad token refused, and
revoking the token closes them with 4401 as a session's end does."""

import uuid

import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from accounts import bots, tokens
from accounts.models import Token
from chat.realtime.hub import Hub
from tests.factories import RoomFactory, UserFactory
from tests.wsclient import open_tab

pytestmark = pytest.mark.django_db(transaction=True)

SESSION_ENDED = 4401
FOREIGN = "https://evil.example.net"


def bearer(secret: str) -> tuple[tuple[bytes, bytes], ...]:
    return ((b"authorization", f"Bearer {secret}".encode()),)


@pytest.fixture
async def ada(db):
    return await sync_to_async(UserFactory)(username="ada")


@pytest.fixture
async def secret(ada):
    _token, secret = await sync_to_async(tokens.make_token)(ada, name="script")
    return secret


@pytest.mark.parametrize("origin", [None, FOREIGN])
async def test_a_token_opens_a_socket_as_its_user_from_any_origin(ada, secret, origin):
    async with open_tab(origin=origin, headers=bearer(secret)) as tab:
        assert tab.connected
        assert tab.hello["user"]["username"] == "ada"
        assert (await tab.request({"type": "ping"}, "pong"))["type"] == "pong"


@pytest.mark.parametrize("origin", [None, FOREIGN])
async def test_a_session_socket_still_needs_an_allowed_origin(ada, origin):
    async with open_tab(ada, origin=origin, expect_hello=False) as tab:
        assert not tab.connected


@pytest.mark.parametrize("header", [b"Bearer parley_" + b"x" * 43, b"Bearer wrong", b"Bearer "])
async def test_a_bad_token_is_refused_even_with_a_good_session_and_origin(ada, header):
    async with open_tab(ada, headers=((b"authorization", header),), expect_hello=False) as tab:
        assert not tab.connected
    assert [s for s in Hub.current().sockets if s.user_id == ada.pk] == []


async def test_revoking_the_token_closes_its_sockets_only(ada, secret):
    client = Client()
    await sync_to_async(client.force_login)(ada)
    [listed] = (await sync_to_async(client.get)("/api/tokens/")).json()["tokens"]
    _other, other_secret = await sync_to_async(tokens.make_token)(ada, name="other")
    async with (
        open_tab(origin=None, headers=bearer(secret)) as revoked,
        open_tab(origin=None, headers=bearer(other_secret)) as kept,
        open_tab(ada) as browser,
    ):
        answer = await sync_to_async(client.delete)(f"/api/tokens/{listed['id']}")
        assert answer.status_code == 200
        assert await revoked.close_code(timeout=5) == SESSION_ENDED
        for tab in (kept, browser):
            assert (await tab.request({"type": "ping"}, "pong"))["type"] == "pong"
    async with open_tab(origin=None, headers=bearer(secret), expect_hello=False) as again:
        assert not again.connected


async def test_a_bot_in_a_room_posts_and_hears_over_its_socket(ada):
    bot, _token, bot_secret = await sync_to_async(bots.new_bot)(
        ada, username="pinger", display_name="Pinger"
    )
    room = await sync_to_async(RoomFactory)(kind="private", members=[ada, bot])
    async with open_tab(ada) as person, open_tab(origin=None, headers=bearer(bot_secret)) as robot:
        assert robot.hello["user"]["is_bot"] is True
        assert room.pk in {r["id"] for r in robot.hello["rooms"]}
        said = {
            "type": "send",
            "room": room.pk,
            "body": "hello bot",
            "client_msg_id": str(uuid.uuid4()),
        }
        await person.send(said)
        heard = await robot.receive_type("message")
        assert heard["message"]["body"] == "hello bot"
        assert heard["message"]["author"]["is_bot"] is False
        reply = {
            "type": "send",
            "room": room.pk,
            "body": "beep",
            "client_msg_id": str(uuid.uuid4()),
        }
        ack = await robot.request(reply, "ack")
        assert ack["client_msg_id"] == reply["client_msg_id"]
        frame = await person.receive_type("message")  # the bot's (ada's own came in her ack)
        assert frame["message"]["body"] == "beep"
        assert frame["message"]["author"] == {
            "id": bot.pk,
            "username": "pinger",
            "display_name": "Pinger",
            "avatar": None,
            "is_bot": True,
        }


@pytest.mark.parametrize("how", ["token deleted in the admin", "bot deleted", "owner deactivated"])
async def test_a_bots_socket_closes_however_its_token_goes(ada, how):
    bot, token, secret = await sync_to_async(bots.new_bot)(ada, username="pinger", display_name="")

    def take_away():
        if how == "bot deleted":
            bots.delete_bot(ada, bot.pk)
        elif how == "owner deactivated":
            ada.is_active = False
            ada.save()
        else:
            Token.objects.filter(pk=token.pk).delete()  # what the admin's inline does

    async with open_tab(origin=None, headers=bearer(secret)) as tab:
        await sync_to_async(take_away)()
        assert await tab.close_code(timeout=5) == SESSION_ENDED
    async with open_tab(origin=None, headers=bearer(secret), expect_hello=False) as again:
        assert not again.connected
