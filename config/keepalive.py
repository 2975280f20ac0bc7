"""Keepalive pings for every WebSocket of an event loop on one timer.

uvicorn pings each socket from a timer of its own, and waits for the pong on another
while a ping is out: a timer handle and its context per socket, ≈ 0.6 KiB an idle
socket, and a timer callback per socket per interval. Here the sockets are spread over `TURNS` sets
walked one a turn, so each is pinged once an interval (`--ws-ping-interval`), and the
pings still unanswered are checked every turn: a socket whose pong is later than
`--ws-ping-timeout` is closed (1011) within one turn of it, as uvicorn closes it.
"""

import asyncio
import logging
import weakref
from typing import Protocol

logger = logging.getLogger(__name__)

TURNS = 10


class Pinged(Protocol):
    """What the keepalive asks of a socket (config.wsprotocol.WebSocketProtocol)."""

    def send_keepalive_ping(self) -> None: ...

    def keepalive_timeout(self) -> None: ...

    @property
    def awaiting_pong_since(self) -> float | None: ...


class Keepalive:
    """The pings of one event loop's sockets: `add` once accepted, `discard` once gone."""

    def __init__(self, loop: asyncio.AbstractEventLoop, interval: float, timeout: float | None):
        # Held weakly, so that the loop's entry in `_keepalives` can go with the loop.
        self._loop = weakref.ref(loop)
        self.interval, self.timeout = interval, timeout
        self.turns: list[set[Pinged]] = [set() for _ in range(TURNS)]
        self.awaiting: set[Pinged] = set()  # pinged, pong not yet in
        self.turn = 0
        self.walking = False  # a walk is due

    def add(self, socket: Pinged) -> None:
        """First pinged one interval from now: in the turn just walked."""
        self.turns[self.turn - 1].add(socket)
        if not self.walking:
            self._next_walk()

    def _next_walk(self) -> None:
        loop = self._loop()
        self.walking = loop is not None
        if loop is not None:
            loop.call_later(self.interval / TURNS, self._walk)

    def discard(self, socket: Pinged) -> None:
        for turn in self.turns:
            turn.discard(socket)
        self.awaiting.discard(socket)

    def answered(self, socket: Pinged) -> None:
        self.awaiting.discard(socket)

    def _walk(self) -> None:
        loop = self._loop()
        if loop is None:
            return
        now, turn = loop.time(), self.turns[self.turn]
        self.turn = (self.turn + 1) % TURNS
        try:
            if self.timeout is not None:
                for socket in [s for s in self.awaiting if self._late(s, now)]:
                    self.discard(socket)
                    self._each(socket.keepalive_timeout)
            for socket in list(turn):  # a socket may go while the turn is walked
                if socket.awaiting_pong_since is None or self.timeout is None:
                    self._each(socket.send_keepalive_ping)
                    if socket.awaiting_pong_since is not None:  # not if it was closing
                        self.awaiting.add(socket)
        finally:
            if any(self.turns):
                self._next_walk()
            else:
                self.walking = False

    @staticmethod
    def _each(step) -> None:
        """One socket's ping or timeout: its failure costs it, not the other sockets."""
        try:
            step()
        except Exception:
            logger.exception("a keepalive step failed")

    def _late(self, socket: Pinged, now: float) -> bool:
        since = socket.awaiting_pong_since
        return since is not None and now - since >= self.timeout  # type: ignore[operator]


_keepalives: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[tuple[float, float | None], Keepalive]
] = weakref.WeakKeyDictionary()


def keepalive_for(
    loop: asyncio.AbstractEventLoop, interval: float, timeout: float | None
) -> Keepalive:
    """The keepalive of the loop's sockets with these settings (a server's all have the same)."""
    keepalives = _keepalives.setdefault(loop, {})
    keepalive = keepalives.get((interval, timeout))
    if keepalive is None:
        keepalive = keepalives[interval, timeout] = Keepalive(loop, interval, timeout)
    return keepalive
