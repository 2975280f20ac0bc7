"""chat.realtime.entry: the socket's one layer before its consumer routes by path as
Channels' URLRouter did, and hands the consumer the server's scope with who it is added
(no copy: a copy lives as long as the socket), the handshake's headers read and let go
before it waits."""

import pytest
from channels.testing import WebsocketCommunicator

from chat.realtime.auth import Sessions
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
    assert scope["session"].session_key is None and scope["language"] == "en"


async def test_the_headers_are_read_and_let_go_before_the_session_is_waited_for():
    """In a storm hundreds of handshakes wait for the database at once: none holds its
    headers meanwhile, and what the socket needs of them is in its scope."""
    Recorder.scopes = []
    entry = SocketEntry({"ws/": Recorder})
    headers = [
        (b"origin", ORIGIN.encode()),
        (b"cookie", b"sessionid=nothing; django_language=de"),
        (b"accept-language", b"en"),
    ]
    communicator = WebsocketCommunicator(entry, "/ws/", headers=headers)
    waited_with: list[tuple[list, dict]] = []

    class Watched(Sessions):
        async def scope(self, cookies):
            waited_with.append((list(communicator.scope["headers"]), cookies))
            return await super().scope(cookies)

    entry.sessions = Watched()
    await communicator.connect(timeout=5)
    [(held, cookies)] = waited_with
    assert held == []
    assert cookies == {"sessionid": "nothing", "django_language": "de"}
    [scope] = Recorder.scopes
    assert scope["language"] == "de"  # the language cookie, as a page's
    assert "cookies" not in scope and not scope["user"].is_authenticated


async def test_a_path_with_no_consumer_is_an_error_as_with_urlrouter():
    entry = SocketEntry({"ws/": Recorder})
    communicator = WebsocketCommunicator(entry, "/other/", headers=[(b"origin", ORIGIN.encode())])
    with pytest.raises(ValueError, match="No route found"):
        await communicator.connect(timeout=5)
