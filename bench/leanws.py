"""A lean WebSocket client connection for the load generator's many receiving sockets.

Why not websockets' asyncio client for them: at N = 1,000 every chat message becomes
1,000 frames that the generator must read on the same two cores as the server, and the
library's full receive path (parser coroutine, Frame objects, UTF-8 decoding, message
assembly, a future per recv) costs several times what the server spends writing the
frame, so the generator would be what is measured. Here the opening handshake and every
frame we send (masked text, pong, close) still go through websockets' sans-I/O
ClientProtocol, so the wire protocol is the library's; only reading is done by hand:
server frames (never masked) are scanned in place and only the fields the bench needs
are pulled out, without decoding the JSON.

The bench's message bodies are `bench <step> <monotonic_ns>` (see `body`): the send
time travels in the body, and every process on the machine shares CLOCK_MONOTONIC.
"""

import asyncio
import contextlib
import time
from typing import Protocol, cast

from websockets.client import ClientProtocol
from websockets.protocol import State
from websockets.typing import Origin
from websockets.uri import parse_uri

OP_CONT, OP_TEXT, OP_CLOSE, OP_PING = 0x0, 0x1, 0x8, 0x9
MESSAGE = b'{"type":"message"'
ACK = b'{"type":"ack"'
ERROR = b'{"type":"error"'
HELLO = b'{"type":"hello"'
BODY = b'"body":"bench '
MAX_HANDSHAKE_BYTES = 64 * 1024
TRY_AGAIN_LATER = 1013


def body(step: int, sent_ns: int) -> str:
    """The message body the bench sends: which step it belongs to and when it was due."""
    return f"bench {step} {sent_ns}"


def stamp(buf: bytes, start: int, end: int) -> tuple[int, int]:
    """(step, sent_ns) from a message or ack frame's body, or (-1, 0) if it is not ours."""
    i = buf.find(BODY, start, end)
    if i < 0:
        return -1, 0
    i += len(BODY)
    space = buf.index(b" ", i, end)
    quote = buf.index(b'"', space, end)
    return int(buf[i:space]), int(buf[space + 1 : quote])


class HandshakeRefused(Exception):
    """The server answered the opening handshake with something other than 101."""


class Sink(Protocol):
    """Where a connection reports what it reads; one per process and step."""

    def message(self, step: int, sent_ns: int, now_ns: int) -> None: ...

    def ack(self, client: "LeanClient", step: int, sent_ns: int, now_ns: int) -> None: ...

    def error(self, client: "LeanClient", frame: bytes) -> None: ...


class LeanClient(asyncio.Protocol):
    """One client WebSocket. `opened` resolves on the server's first frame (`hello`)."""

    def __init__(self, url: str, origin: str, cookie: str, sink: Sink) -> None:
        self.url = url
        self.cookie = cookie
        self.sink = sink
        self.ws = ClientProtocol(parse_uri(url), origin=Origin(origin))
        loop = asyncio.get_running_loop()
        self.opened: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self.close_code: int | None = None
        self.transport: asyncio.Transport | None = None
        self._handshaking = True
        self._head = b""
        self._buf = b""
        self._fragments: list[bytes] | None = None
        # This socket's sends of the step under way (step, sent_ns): counted yet? Its ack
        # carries the message, which Parley sends it no other way; a server that also
        # echoes the room's event to the sender (the ceiling, older trees) counts once.
        self._own: dict[tuple[int, int], bool] = {}
        self._own_step = -1

    def sending(self, step: int, sent_ns: int) -> None:
        """Note a message this socket is about to send, so its copy counts once."""
        if step != self._own_step:
            self._own.clear()  # a past step's late copy is a straggler either way
            self._own_step = step
        self._own[(step, sent_ns)] = False

    def _first_copy(self, step: int, sent_ns: int) -> bool:
        """Whether this copy of a message is the first this socket has (not a send's
        second, from its ack and the room's event)."""
        counted = self._own.get((step, sent_ns))
        if counted is None:
            return True  # not this socket's send
        self._own[(step, sent_ns)] = True
        return not counted

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        request = self.ws.connect()
        request.headers["Cookie"] = self.cookie
        self.ws.send_request(request)
        self._flush()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(exc or ConnectionError("closed during the handshake"))
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        if self._handshaking:
            data = self._handshake(data)
            if not data:
                return
        now = time.monotonic_ns()
        buf = self._buf + data if self._buf else data
        pos, size = 0, len(buf)
        while size - pos >= 2:
            head, length = buf[pos], buf[pos + 1] & 0x7F
            start = pos + 2
            if length == 126:
                start += 2
                if start > size:
                    break
                length = int.from_bytes(buf[pos + 2 : start])
            elif length == 127:
                start += 8
                if start > size:
                    break
                length = int.from_bytes(buf[pos + 2 : start])
            end = start + length
            if end > size:
                break
            if head == 0x80 | OP_TEXT:
                self._text(buf, start, end, now)
            else:
                self._other(head, buf[start:end], now)
            pos = end
        self._buf = buf[pos:] if pos < size else b""

    # Reading

    def _handshake(self, data: bytes) -> bytes:
        """Collect the response head, let websockets validate it; return the bytes after it."""
        self._head += data
        end = self._head.find(b"\r\n\r\n")
        if end < 0:
            if len(self._head) > MAX_HANDSHAKE_BYTES:
                self._fail(HandshakeRefused("handshake response too long"))
            return b""
        head, rest = self._head[: end + 4], self._head[end + 4 :]
        self._head = b""
        status = head.split(b"\r\n", 1)[0]
        if not status.startswith(b"HTTP/1.1 101"):
            self._fail(HandshakeRefused(status.decode(errors="replace")))
            return b""
        self.ws.receive_data(head)
        self.ws.events_received()
        if self.ws.handshake_exc is not None or self.ws.state is not State.OPEN:
            self._fail(HandshakeRefused(str(self.ws.handshake_exc)))
            return b""
        self._handshaking = False
        return rest

    def _text(self, buf: bytes, start: int, end: int, now: int) -> None:
        if buf.startswith(MESSAGE, start):
            step, sent_ns = stamp(buf, start, end)
            if self._first_copy(step, sent_ns):
                self.sink.message(step, sent_ns, now)
        elif buf.startswith(ACK, start):
            step, sent_ns = stamp(buf, start, end)
            if self._first_copy(step, sent_ns):  # the sending socket's copy of the message
                self.sink.message(step, sent_ns, now)
            self.sink.ack(self, step, sent_ns, now)
        elif buf.startswith(ERROR, start):
            self.sink.error(self, buf[start:end])
        elif buf.startswith(HELLO, start) and not self.opened.done():
            self.opened.set_result(None)

    def _other(self, head: int, payload: bytes, now: int) -> None:
        """Control frames, and the rare fragmented message."""
        opcode, fin = head & 0x0F, head & 0x80
        if opcode == OP_PING:
            self.ws.send_pong(payload)
            self._flush()
        elif opcode == OP_CLOSE:
            self.close_code = int.from_bytes(payload[:2]) if len(payload) >= 2 else 1005
            if self.ws.state is State.OPEN:
                self.ws.send_close()
                self._flush()
            if self.transport is not None:
                self.transport.close()
        elif opcode == OP_TEXT:
            self._fragments = [payload]
        elif opcode == OP_CONT and self._fragments is not None:
            self._fragments.append(payload)
            if fin:
                whole, self._fragments = b"".join(self._fragments), None
                self._text(whole, 0, len(whole), now)

    def _fail(self, exc: Exception) -> None:
        if not self.opened.done():
            self.opened.set_exception(exc)
        if self.transport is not None:
            self.transport.abort()

    # Writing

    def _flush(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"".join(self.ws.data_to_send()))

    def send_text(self, text: str) -> bool:
        """Queue a text frame without waiting (open loop); False if the socket is gone."""
        if self.ws.state is not State.OPEN or self.closed.done():
            return False
        self.ws.send_text(text.encode())
        self._flush()
        return True

    @property
    def is_open(self) -> bool:
        return self.opened.done() and not self.closed.done() and self.ws.state is State.OPEN

    async def close(self, timeout: float = 2.0) -> None:
        """Closing handshake, bounded by `timeout`; then the TCP connection is dropped."""
        if self.ws.state is State.OPEN and not self.closed.done():
            self.ws.send_close()
            self._flush()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self.closed
        self.abort()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()


async def open_client(
    url: str,
    origin: str,
    cookie: str,
    sink: Sink,
    timeout: float = 30.0,
    client_class: type[LeanClient] = LeanClient,
) -> LeanClient:
    """Connect, handshake and wait for the server's first frame, all within `timeout`."""
    loop = asyncio.get_running_loop()
    uri = parse_uri(url)
    client = client_class(url, origin, cookie, sink)
    try:
        async with asyncio.timeout(timeout):
            await loop.create_connection(lambda: client, uri.host, uri.port)
            await client.opened
    except BaseException:
        client.abort()
        raise
    return client
