from types import SimpleNamespace

from websockets.protocol import State
from websockets.server import ServerProtocol

from chat.realtime.framewriter import DirectWriter, Event


class Transport:
    def __init__(self, buffered: int = 0, closing: bool = False):
        self.written: list[bytes] = []
        self.buffered, self.closing = buffered, closing

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def is_closing(self) -> bool:
        return self.closing

    def get_write_buffer_size(self) -> int:
        return self.buffered


def connection(state=State.OPEN, close_sent=False, transport=None):
    """What DirectWriter reads of uvicorn's WebSocketsSansIOProtocol."""
    conn = ServerProtocol()
    conn.state = state
    return SimpleNamespace(conn=conn, close_sent=close_sent, transport=transport or Transport())


def test_an_event_is_framed_exactly_as_the_library_frames_a_text_message():
    conn = ServerProtocol()
    conn.state = State.OPEN
    conn.send_text("héllo ✓".encode())
    assert Event("héllo ✓").frame == b"".join(conn.data_to_send())


def test_an_event_is_framed_once_however_many_sockets_write_it():
    event = Event('{"type":"message"}')
    assert event.frame is event.frame


def test_the_writer_puts_the_frame_on_an_open_connection():
    target = connection()
    assert DirectWriter(target).write(Event("x"))
    assert target.transport.written == [Event("x").frame]


def test_the_writer_writes_nothing_once_the_connection_is_closing():
    for target in (
        connection(state=State.CLOSING),
        connection(close_sent=True),
        connection(transport=Transport(closing=True)),
    ):
        assert not DirectWriter(target).write(Event("x"))
        assert target.transport.written == []


def test_the_writer_reports_what_the_client_has_not_taken_yet():
    assert DirectWriter(connection(transport=Transport(buffered=4096))).buffered() == 4096


def test_a_send_that_is_not_uvicorns_gets_no_writer():
    async def send(message):
        return None

    assert DirectWriter.for_send(send) is None
