"""One event, the same bytes on every socket.

A server's WebSocket frames are never masked, so without a per-connection
extension (Parley serves with permessage-deflate off) every socket's copy of an
event is byte-for-byte the same frame. Under uvicorn's sans-I/O websockets
protocol, which `make run` and production serve with, the hub frames each event
once and writes those bytes straight to each connection's transport, as
websockets' own broadcast() does, instead of handing the text to each socket's
ASGI `send`, which frames it again per socket. Any other server (Daphne, the
Channels test communicator) takes the ASGI path.
"""

from collections.abc import Callable

from websockets.frames import Frame, Opcode
from websockets.protocol import State

try:
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
except ImportError:  # pragma: no cover - uvicorn is a dependency, but not the only server
    WebSocketsSansIOProtocol = None


class Event:
    """An encoded event for many sockets; framed once, on first need."""

    __slots__ = ("_frame", "text")

    def __init__(self, text: str):
        self.text = text
        self._frame: bytes | None = None

    @property
    def frame(self) -> bytes:
        if self._frame is None:
            self._frame = Frame(Opcode.TEXT, self.text.encode()).serialize(mask=False)
        return self._frame


class DirectWriter:
    """Writes framed events to one uvicorn sans-I/O WebSocket connection."""

    __slots__ = ("protocol",)

    def __init__(self, protocol):
        self.protocol = protocol

    @classmethod
    def for_send(cls, send: Callable) -> "DirectWriter | None":
        """A writer for the connection behind an ASGI `send`, if it can take one."""
        protocol = getattr(send, "__self__", None)
        if WebSocketsSansIOProtocol is None or not isinstance(protocol, WebSocketsSansIOProtocol):
            return None
        if protocol.conn.extensions or protocol.conn.state is not State.OPEN:
            return None
        return cls(protocol)

    def buffered(self) -> int:
        """Bytes written but not yet taken by the client's connection."""
        return self.protocol.transport.get_write_buffer_size()

    def write(self, *events: Event) -> bool:
        """Write the events' frames, in one write; False once the connection takes no
        more frames."""
        protocol = self.protocol
        if (
            protocol.close_sent
            or protocol.conn.state is not State.OPEN
            or protocol.transport.is_closing()
        ):
            return False
        if len(events) == 1:
            protocol.transport.write(events[0].frame)
        else:
            protocol.transport.write(b"".join(event.frame for event in events))
        return True
