"""A socket is refused cleanly (1013, with the reason) past the server's, the address's or
the user's socket cap, and nothing of it stays in the hub."""

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings

from chat.realtime.hub import Hub
from config.asgi import application
from tests.factories import UserFactory
from tests.wsclient import ORIGIN, session_cookie

pytestmark = pytest.mark.django_db(transaction=True)


async def connect(user, address: str = "10.0.0.1"):
    cookie = f"{settings.SESSION_COOKIE_NAME}={await session_cookie(user)}"
    communicator = WebsocketCommunicator(
        application, "/ws/", headers=[(b"origin", ORIGIN.encode()), (b"cookie", cookie.encode())]
    )
    communicator.scope["client"] = (address, 40000)
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    return communicator


async def admitted(communicator) -> bool:
    """True once hello arrives; False when the server closes the socket first (1013)."""
    output = await communicator.receive_output(timeout=5)
    if output["type"] == "websocket.close":
        assert output["code"] == 1013
        return False
    return '"type":"hello"' in output["text"]


@pytest.fixture
async def users(db):
    return [await sync_to_async(UserFactory)(username=name) for name in ("ada", "grace")]


@pytest.mark.parametrize(
    ("setting", "who", "addresses"),
    [
        ("PARLEY_MAX_SOCKETS_PER_USER", [0, 0, 0], ["10.0.0.1", "10.0.0.2", "10.0.0.3"]),
        ("PARLEY_MAX_SOCKETS_PER_ADDRESS", [0, 1, 1], ["10.0.0.9"] * 3),
        ("PARLEY_MAX_SOCKETS", [0, 1, 1], ["10.0.0.1", "10.0.0.2", "10.0.0.3"]),
    ],
)
async def test_the_socket_past_a_cap_is_refused_and_the_others_stay(
    settings, users, setting, who, addresses
):
    setattr(settings, setting, 2)
    opened = []
    try:
        for user_index, address in zip(who, addresses, strict=True):
            communicator = await connect(users[user_index], address)
            opened.append(communicator)
        outcomes = [await admitted(c) for c in opened]
        assert outcomes == [True, True, False]
        assert len(Hub.current().sockets) == 2
    finally:
        for communicator in opened:
            await communicator.disconnect()
