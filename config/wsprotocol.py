"""uvicorn's sans-I/O WebSocket protocol with less kept per idle connection.

`config.serve` runs uvicorn with this class (`--ws config.wsprotocol:WebSocketProtocol`).
It is uvicorn's `WebSocketsSansIOProtocol` with what it keeps per socket made lighter,
because a chat server holds thousands of sockets that mostly wait (docs/performance.md,
"The reconnect storm", "Memory per idle tab"):

- the receive queue: an `asyncio.Queue` is three deques and an `Event` (another
  deque), ≈ 3 KiB for the one or two messages a socket ever has waiting; `Inbox` is
  two short lists;
- the `writable` flag: an `asyncio.Event` with its deque; `Flag` makes its list of
  waiters only when a write has to wait;
- the handshake: the request's headers (parsed into a `Headers` of strings, which
  uvicorn keeps for the connection's life) once the scope is made from them; the
  response websockets prepared, until the app accepts, as its pairs only (its
  `Headers` is a dict of lists beside a list of pairs, ≈ 1 KiB held by every socket
  of a storm while it connects), and not at all once accepted. The scope is the
  app's to let go: uvicorn reads it no more once the socket is accepted, and
  Parley's socket empties it then (chat/realtime/consumer.py);
- ten of its attributes in slots, so that the rest stay in the object rather than in
  a dict of their own;
- keepalive pings: from one timer for all the loop's sockets (config/keepalive.py), not
  a timer of each socket's own.

tests/config/test_wsprotocol.py pins each against uvicorn's own behaviour, so an
upgrade that changes what this relies on fails there.
"""

import asyncio
import os
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.datastructures import Headers
from websockets.frames import Frame
from websockets.http11 import Request, Response

from .keepalive import Keepalive, keepalive_for


class Inbox:
    """What uvicorn's protocol uses of an unbounded asyncio.Queue: `put_nowait`,
    `get` and `empty`, with the same order and the same cancellation rules."""

    __slots__ = ("_getters", "_items")

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._getters: list[asyncio.Future] = []

    def empty(self) -> bool:
        return not self._items

    def qsize(self) -> int:
        return len(self._items)

    def put_nowait(self, item: Any) -> None:
        self._items.append(item)
        self._wake_next()

    async def get(self) -> Any:
        while not self._items:
            getter = asyncio.get_running_loop().create_future()
            self._getters.append(getter)
            try:
                await getter
            except BaseException:
                getter.cancel()
                if getter in self._getters:
                    self._getters.remove(getter)
                if self._items and not getter.cancelled():
                    self._wake_next()  # it was woken but will not take: the next one does
                raise
        return self._items.pop(0)

    def _wake_next(self) -> None:
        while self._getters:
            getter = self._getters.pop(0)
            if not getter.done():
                getter.set_result(None)
                return


class Flag:
    """What uvicorn's protocol uses of an asyncio.Event (`set`, `clear`, `is_set`,
    `wait`); it starts set, and makes its list of waiters only when one waits."""

    __slots__ = ("_value", "_waiters")

    def __init__(self) -> None:
        self._value = True
        self._waiters: list[asyncio.Future] | None = None

    def is_set(self) -> bool:
        return self._value

    def set(self) -> None:
        if not self._value:
            self._value = True
            for waiter in self._waiters or ():
                if not waiter.done():
                    waiter.set_result(True)

    def clear(self) -> None:
        self._value = False

    async def wait(self) -> bool:
        if self._value:
            return True
        waiter = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(waiter)
        try:
            await waiter
            return True
        finally:
            self._waiters.remove(waiter)
            if not self._waiters:
                self._waiters = None


class WebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O protocol, lighter while idle (the module's docstring)."""

    # uvicorn's protocol sets 37 attributes; past 30 an instance's attributes move from
    # the object into a dict of their own (1.5 KiB). These ten, set once in uvicorn's
    # __init__, live in slots instead.
    __slots__ = (
        "app",
        "app_state",
        "asgi_version",
        "config",
        "connections",
        "default_headers",
        "logger",
        "loop",
        "root_path",
        "tasks",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = Inbox()  # type: ignore[assignment]
        self.writable = Flag()  # type: ignore[assignment]

    # uvicorn's `response`: websockets' prepared response, or, while it waits for the
    # app to accept, only its header pairs (`prepared_response`), made whole again
    # when uvicorn reads it to add the app's headers and write it.
    prepared_response: Response | tuple[tuple[str, str], ...] | None = None

    @property
    def response(self) -> Response | None:  # type: ignore[override]
        if isinstance(self.prepared_response, tuple):
            pairs = self.prepared_response
            self.prepared_response = Response(101, "Switching Protocols", Headers(pairs))
        return self.prepared_response

    @response.setter
    def response(self, response: Response | None) -> None:
        self.prepared_response = response

    def handle_connect(self, event: Request) -> None:
        """Once the scope is made from the request, its headers are let go, and the
        switching response waits for the app as its header pairs: while a storm of
        sockets waits for the database, each would hold both. (Letting go of the
        request itself as well measured worse: 2.5 KiB a tab more after a storm,
        docs/performance.md, "What a connecting socket holds".)"""
        super().handle_connect(event)
        event.headers.clear()
        prepared = self.prepared_response
        if isinstance(prepared, Response) and prepared.status_code == 101:
            self.prepared_response = tuple(prepared.headers.raw_items())

    def start_keepalive(self) -> None:
        """uvicorn calls this once the handshake's response is written (accepted)."""
        self.response = None  # written: read no more
        if keepalive := self._keepalive():
            keepalive.add(self)

    def stop_keepalive(self) -> None:
        super().stop_keepalive()
        if keepalive := self._keepalive():
            keepalive.discard(self)

    def _keepalive(self) -> Keepalive | None:
        if not self.ping_interval or self.ping_interval <= 0:
            return None
        return keepalive_for(self.loop, self.ping_interval, self.ping_timeout)

    @property
    def awaiting_pong_since(self) -> float | None:
        """When the ping still unanswered went; None when none is."""
        return self.ping_sent_at if self.pending_ping_payload is not None else None

    def send_keepalive_ping(self) -> None:
        """The ping; its pong is waited for by the keepalive, not by a timer of its own."""
        if self.close_sent or self.transport.is_closing():
            return
        # A payload of its own, so that handle_pong takes only this ping's pong.
        self.pending_ping_payload = os.urandom(4)
        self.ping_sent_at = self.loop.time()
        self.conn.send_ping(self.pending_ping_payload)
        self.transport.write(b"".join(self.conn.data_to_send()))

    def handle_pong(self, event: Frame) -> None:
        super().handle_pong(event)
        if self.pending_ping_payload is None and (keepalive := self._keepalive()):
            keepalive.answered(self)
