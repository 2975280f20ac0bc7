"""config.httpprotocol: uvicorn's HTTP protocol is freed when it hands its socket to the
WebSocket protocol, not left for the cycle collector (a real uvicorn in this process)."""

import gc
import weakref

from websockets.asyncio.client import connect

from config.httpprotocol import HttpProtocol
from config.serve import OPTIONS
from tests.support import EchoApp, in_process_uvicorn


def test_the_server_command_runs_this_protocol():
    assert OPTIONS[OPTIONS.index("--http") + 1] == "config.httpprotocol:HttpProtocol"


async def test_an_upgraded_socket_frees_its_http_protocol_at_the_handover(monkeypatch):
    made: list[weakref.ref] = []
    init = HttpProtocol.__init__

    def recording(self, *args, **kwargs):
        init(self, *args, **kwargs)
        made.append(weakref.ref(self))

    monkeypatch.setattr(HttpProtocol, "__init__", recording)
    gc.collect()
    gc.disable()  # only reference counting may free it
    try:
        async with in_process_uvicorn(EchoApp()) as (_server, url), connect(url) as client:
            await client.send("hello")
            assert await client.recv() == "hello"  # served by the WebSocket protocol
            [protocol] = made
            assert protocol() is None
    finally:
        gc.enable()
