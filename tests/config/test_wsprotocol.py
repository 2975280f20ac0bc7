"""config.wsprotocol: the lighter uvicorn WebSocket protocol that config.serve runs, held
to what it relies on in uvicorn (a real uvicorn server, in this process), so an upgrade
that changes it fails here."""

import asyncio
import logging

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.asyncio.client import connect
from websockets.client import ClientProtocol
from websockets.frames import Close, Frame, Opcode
from websockets.uri import parse_uri

from config.keepalive import keepalive_for
from config.serve import OPTIONS
from config.wsprotocol import Flag, Inbox, WebSocketProtocol
from tests.support import EchoApp, in_process_uvicorn, until


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


async def test_an_accepted_connection_keeps_no_handshake_and_a_light_queue():
    app = EchoApp()
    async with (
        in_process_uvicorn(app) as (server, url),
        connect(url, additional_headers={"X-Probe": "yes"}) as client,
    ):
        await client.ping()
        [protocol] = server.server_state.connections
        assert isinstance(protocol, WebSocketProtocol)
        assert (b"x-probe", b"yes") in app.seen[0]  # the app saw the headers
        assert len(protocol.request.headers) == 0  # the request's went once read
        assert protocol.response is None and protocol.prepared_response is None
        assert isinstance(protocol.queue, Inbox)
        assert isinstance(protocol.writable, Flag)
        assert len(vars(protocol)) <= 30  # what an object holds without a dict of its own
        for name in WebSocketProtocol.__slots__:
            getattr(protocol, name)  # every slot was set
        await client.send("hello")  # frames still go through the inbox to the app
        assert await client.recv() == "hello"


async def test_until_accepted_the_response_waits_as_its_pairs_and_is_written_whole():
    """The app's subprotocol and headers still reach the client through the response made
    again at the accept."""
    waiting: list = []

    async def app(scope, receive, send):
        await receive()
        [protocol] = server.server_state.connections
        waiting.append(protocol.prepared_response)
        await send(
            {"type": "websocket.accept", "subprotocol": "chat", "headers": [(b"x-app", b"yes")]}
        )
        while (await receive())["type"] != "websocket.disconnect":
            pass

    async with (
        in_process_uvicorn(app) as (server, url),
        connect(url, subprotocols=["chat"]) as client,
    ):
        [pairs] = waiting
        assert isinstance(pairs, tuple) and ("Upgrade", "websocket") in pairs
        assert any(name == "Sec-WebSocket-Accept" for name, _value in pairs)
        assert client.subprotocol == "chat"
        assert client.response.headers["X-App"] == "yes"
        assert client.response.headers["Upgrade"] == "websocket"
        assert len(client.response.headers.get_all("Date")) == 1  # uvicorn's, once


async def test_uvicorn_reads_nothing_of_the_scope_once_the_socket_is_accepted(caplog):
    """Parley's socket empties its scope once accepted (chat/realtime/consumer.py): frames
    both ways, a close from either end and the server's stop (1012) must not need it."""
    emptied: list[dict] = []

    async def app(scope, receive, send):
        await receive()
        await send({"type": "websocket.accept"})
        scope.clear()
        emptied.append(scope)
        while (message := await receive())["type"] != "websocket.disconnect":
            if message["text"] == "bye":
                await send({"type": "websocket.close", "code": 4000})
            else:
                await send({"type": "websocket.send", "text": message["text"]})

    caplog.set_level(logging.ERROR)
    async with in_process_uvicorn(app, log_config=None) as (server, url):
        async with connect(url) as client:
            await client.send("hello")
            assert await client.recv() == "hello"
            await client.send("bye")
            await client.wait_closed()
            assert client.close_code == 4000
        async with connect(url) as client:
            await client.send("hello")
            assert await client.recv() == "hello"
        async with connect(url) as client:
            await client.send("hello")
            assert await client.recv() == "hello"
            server.should_exit = True
            await client.wait_closed()
            assert client.close_code == 1012
    assert emptied == [{}, {}, {}]
    assert [record.getMessage() for record in caplog.records] == []


def test_the_slots_hold_only_what_uvicorn_sets_in_its_constructor():
    """A slot read before it is set raises; a class attribute of uvicorn's under the same
    name would be hidden by it."""
    for name in WebSocketProtocol.__slots__:
        assert name not in vars(WebSocketsSansIOProtocol)


class _RawClient:
    """A client on websockets' sans-I/O protocol that answers pings only if told to:
    `frames` are the control frames it got, in order."""

    def __init__(self, url: str, *, answers: bool) -> None:
        self.url, self.answers = url, answers
        self.protocol = ClientProtocol(parse_uri(url))
        self.frames: list[Frame] = []

    async def open(self) -> None:
        uri = parse_uri(self.url)
        self.reader, self.writer = await asyncio.open_connection(uri.host, uri.port)
        self.protocol.send_request(self.protocol.connect())
        self._write()

    def _write(self) -> None:
        data = b"".join(self.protocol.data_to_send())
        if self.answers or not data.startswith(b"\x8a"):  # a pong: 0x80 | Opcode.PONG
            self.writer.write(data)

    async def until(self, done) -> None:
        """Read until `done(frames)` holds, or the server closes the connection."""
        while not done(self.frames):
            data = await self.reader.read(65536)
            if not data:
                self.protocol.receive_eof()
                return
            self.protocol.receive_data(data)
            for event in self.protocol.events_received():
                if isinstance(event, Frame) and event.opcode in (Opcode.PING, Opcode.CLOSE):
                    self.frames.append(event)
            self._write()

    def pings(self) -> int:
        return sum(frame.opcode is Opcode.PING for frame in self.frames)


PINGS = {"ws_ping_interval": 0.1, "ws_ping_timeout": 0.1}


async def test_a_socket_that_answers_its_pings_stays_open_without_timers_of_its_own():
    async with in_process_uvicorn(EchoApp(), **PINGS) as (server, url):
        client = _RawClient(url, answers=True)
        await client.open()
        async with asyncio.timeout(10):
            await client.until(lambda frames: len(frames) >= 3)
        assert client.pings() == len(client.frames) >= 3  # and no close among them
        [protocol] = server.server_state.connections
        assert protocol.ping_timer is None and protocol.pong_timer is None
        keepalive = keepalive_for(asyncio.get_running_loop(), 0.1, 0.1)
        assert sum(protocol in turn for turn in keepalive.turns) == 1
        client.writer.close()
        await until(lambda: not server.server_state.connections, "the server let go", 10)
        assert not any(protocol in turn for turn in keepalive.turns)
        assert protocol not in keepalive.awaiting


async def test_a_socket_that_does_not_answer_is_closed_with_1011_after_the_timeout():
    async with in_process_uvicorn(EchoApp(), **PINGS) as (server, url):
        client = _RawClient(url, answers=False)
        await client.open()
        async with asyncio.timeout(10):
            await client.until(lambda frames: any(f.opcode is Opcode.CLOSE for f in frames))
        ping, close = client.frames
        assert ping.opcode is Opcode.PING
        assert Close.parse(close.data).code == 1011
        await until(lambda: not server.server_state.connections, "the server let go", 10)
        keepalive = keepalive_for(asyncio.get_running_loop(), 0.1, 0.1)
        assert not any(keepalive.turns) and not keepalive.awaiting
