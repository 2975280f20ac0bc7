"""config.wsprotocol: the lighter uvicorn WebSocket protocol that config.serve runs, held
to what it relies on in uvicorn (a real uvicorn server, in this process), so an upgrade
that changes it fails here."""

import asyncio
import contextlib

import uvicorn
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.asyncio.client import connect

from config.serve import OPTIONS
from config.wsprotocol import Flag, Inbox, WebSocketProtocol
from tests.support import HOST, free_port


async def test_the_inbox_hands_out_items_in_order_and_waits_when_empty():
    inbox = Inbox()
    inbox.put_nowait(1)
    inbox.put_nowait(2)
    assert not inbox.empty()
    assert [await inbox.get(), await inbox.get()] == [1, 2]
    assert inbox.empty()
    getter = asyncio.ensure_future(inbox.get())
    await asyncio.sleep(0)
    assert not getter.done()
    inbox.put_nowait(3)
    assert await getter == 3


async def test_a_cancelled_getter_leaves_the_item_for_the_next():
    inbox = Inbox()
    first = asyncio.ensure_future(inbox.get())
    second = asyncio.ensure_future(inbox.get())
    await asyncio.sleep(0)
    inbox.put_nowait("x")  # wakes the first…
    first.cancel()  # …which is cancelled before it runs
    assert await second == "x"
    assert first.cancelled()


async def test_the_flag_starts_set_and_wakes_its_waiters_when_set_again():
    flag = Flag()
    assert flag.is_set() and await flag.wait()
    flag.clear()
    waiters = [asyncio.ensure_future(flag.wait()) for _ in range(2)]
    await asyncio.sleep(0)
    assert not any(waiter.done() for waiter in waiters)
    flag.set()
    assert await asyncio.gather(*waiters) == [True, True]
    assert flag._waiters is None


def test_the_server_command_runs_this_protocol():
    assert OPTIONS[OPTIONS.index("--ws") + 1] == "config.wsprotocol:WebSocketProtocol"


class _App:
    """Accepts every socket, records its scope's headers as the app saw them, and
    echoes its text frames."""

    def __init__(self):
        self.seen: list[list] = []

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            return
        self.seen.append(list(scope["headers"]))
        await receive()
        await send({"type": "websocket.accept"})
        while (message := await receive())["type"] != "websocket.disconnect":
            await send({"type": "websocket.send", "text": message["text"]})


@contextlib.asynccontextmanager
async def _serving(app):
    port = free_port()
    config = uvicorn.Config(
        app,
        host=HOST,
        port=port,
        ws="config.wsprotocol:WebSocketProtocol",
        ws_per_message_deflate=False,
        lifespan="off",
        log_level="warning",
    )
    server = uvicorn.Server(config)
    task = asyncio.ensure_future(server.serve())
    try:
        while not server.started:
            if task.done():  # it stopped before serving: its error, not a wait forever
                await task
                raise RuntimeError("uvicorn stopped before it started serving")
            await asyncio.sleep(0.01)
        yield server, f"ws://{HOST}:{port}/ws/"
    finally:
        server.should_exit = True
        await task


async def test_an_accepted_connection_keeps_no_handshake_and_a_light_queue():
    app = _App()
    async with (
        _serving(app) as (server, url),
        connect(url, additional_headers={"X-Probe": "yes"}) as client,
    ):
        await client.ping()
        [protocol] = server.server_state.connections
        assert isinstance(protocol, WebSocketProtocol)
        assert (b"x-probe", b"yes") in app.seen[0]  # the app saw the headers
        assert protocol.scope["headers"] == []  # and they went once accepted
        assert len(protocol.request.headers) == 0
        assert protocol.response is None
        assert isinstance(protocol.queue, Inbox)
        assert isinstance(protocol.writable, Flag)
        assert len(vars(protocol)) <= 30  # what an object holds without a dict of its own
        for name in WebSocketProtocol.__slots__:
            getattr(protocol, name)  # every slot was set
        await client.send("hello")  # frames still go through the inbox to the app
        assert await client.recv() == "hello"


def test_the_slots_hold_only_what_uvicorn_sets_in_its_constructor():
    """A slot read before it is set raises; a class attribute of uvicorn's under the same
    name would be hidden by it."""
    for name in WebSocketProtocol.__slots__:
        assert name not in vars(WebSocketsSansIOProtocol)
