"""chat.realtime.entry: the socket's one layer before its consumer routes by path as
Channels' URLRouter did, and hands the consumer the server's scope with who it is added
(no copy: a copy lives as long as the socket)."""

import pytest
from channels.testing import WebsocketCommunicator

from chat.realtime.entry import SocketEntry
from tests.wsclient import ORIGIN

pytestmark = pytest.mark.django_db(transaction=True)


class Recorder:
    scopes: list[dict] = []

    async def __call__(self, scope, receive, send):
        Recorder.scopes.append(scope)
        await receive()
        await send({"type": "websocket.close"})


async def test_a_routed_path_reaches_its_consumer_with_the_user_in_its_scope():
    Recorder.scopes = []
    entry = SocketEntry({"ws/": Recorder})
    communicator = WebsocketCommunicator(entry, "/ws/", headers=[(b"origin", ORIGIN.encode())])
    connected, _ = await communicator.connect(timeout=5)
    assert not connected
    [scope] = Recorder.scopes
    assert scope is communicator.scope
    assert not scope["user"].is_authenticated
    assert scope["cookies"] == {} and scope["session"].session_key is None


async def test_a_path_with_no_consumer_is_an_error_as_with_urlrouter():
    entry = SocketEntry({"ws/": Recorder})
    communicator = WebsocketCommunicator(entry, "/other/", headers=[(b"origin", ORIGIN.encode())])
    with pytest.raises(ValueError, match="No route found"):
        await communicator.connect(timeout=5)
