"""config.keepalive on a loop whose clock the test moves: each socket is pinged once an
interval, in its turn; one that has not answered by its timeout is closed; a socket's
failing ping or one leaving mid-walk stops no other's."""

import gc
import weakref

import pytest

from config.keepalive import TURNS, Keepalive


class Loop:
    """The two things the keepalive asks of its loop; `advance` runs what falls due."""

    def __init__(self) -> None:
        self.now = 0.0
        self.due: list[tuple[float, object]] = []

    def time(self) -> float:
        return self.now

    def call_later(self, delay, callback):
        self.due.append((self.now + delay, callback))

    def advance(self, seconds: float) -> None:
        end = self.now + seconds
        while self.due and min(at for at, _ in self.due) <= end + 1e-9:
            self.due.sort(key=lambda item: item[0])
            at, callback = self.due.pop(0)
            self.now = at
            callback()
        self.now = end


class Socket:
    def __init__(self, loop: Loop, *, answers: bool = True, fails: bool = False) -> None:
        self.loop, self.answers, self.fails = loop, answers, fails
        self.pings: list[float] = []
        self.awaiting_pong_since: float | None = None
        self.timed_out = False
        self.keepalive: Keepalive | None = None

    def send_keepalive_ping(self) -> None:
        if self.fails:
            raise OSError("gone")
        self.pings.append(self.loop.now)
        self.awaiting_pong_since = self.loop.now
        if self.answers:  # the pong, as handle_pong then tells the keepalive
            self.awaiting_pong_since = None
            if self.keepalive is not None:
                self.keepalive.answered(self)

    def keepalive_timeout(self) -> None:
        self.timed_out = True


def _keepalive(timeout: float | None = 10.0) -> tuple[Loop, Keepalive]:
    loop = Loop()
    return loop, Keepalive(loop, 10.0, timeout)  # type: ignore[arg-type]


def _add(keepalive: Keepalive, socket: Socket) -> Socket:
    socket.keepalive = keepalive
    keepalive.add(socket)
    return socket


def test_each_socket_is_pinged_once_an_interval_from_its_own_turn():
    loop, keepalive = _keepalive()
    first = _add(keepalive, Socket(loop))
    loop.advance(3.0)
    second = _add(keepalive, Socket(loop))
    loop.advance(30.0)
    assert first.pings == pytest.approx([10.0, 20.0, 30.0])
    assert second.pings == pytest.approx([13.0, 23.0, 33.0])  # its first a full interval on
    assert not first.timed_out and not second.timed_out


def test_a_socket_that_does_not_answer_is_timed_out_within_a_turn_of_its_timeout():
    loop, keepalive = _keepalive(timeout=10.0)
    silent = _add(keepalive, Socket(loop, answers=False))
    loop.advance(10.0)
    assert silent.pings == [10.0] and not silent.timed_out
    loop.advance(10.0 + 10.0 / TURNS)
    assert silent.timed_out and silent.pings == [10.0]  # not pinged again meanwhile
    assert silent not in keepalive.awaiting
    assert not any(silent in turn for turn in keepalive.turns)


def test_without_a_timeout_a_silent_socket_is_pinged_again_and_kept():
    loop, keepalive = _keepalive(timeout=None)
    silent = _add(keepalive, Socket(loop, answers=False))
    loop.advance(30.0)
    assert silent.pings == pytest.approx([10.0, 20.0, 30.0]) and not silent.timed_out


def test_a_failing_ping_costs_that_socket_only_and_the_walk_goes_on():
    loop, keepalive = _keepalive()
    failing = _add(keepalive, Socket(loop, fails=True))
    healthy = _add(keepalive, Socket(loop))
    loop.advance(20.0)
    assert healthy.pings == pytest.approx([10.0, 20.0])
    assert failing not in keepalive.awaiting


def test_a_closing_socket_that_sends_no_ping_is_not_waited_on():
    """A socket already closing sends no ping (its awaiting_pong_since stays None): it is
    not among those awaiting a pong, and the walks go on for the others."""
    loop, keepalive = _keepalive()
    closing = _add(keepalive, Socket(loop))
    closing.send_keepalive_ping = lambda: None
    healthy = _add(keepalive, Socket(loop))
    loop.advance(30.0)
    assert closing not in keepalive.awaiting and not closing.timed_out
    assert healthy.pings == pytest.approx([10.0, 20.0, 30.0])


def test_the_keepalive_holds_its_loop_weakly():
    """Its sockets hold the loop; once they are gone, the keepalive keeps no loop alive
    (config.keepalive keeps one a loop, keyed weakly)."""
    loop, keepalive = _keepalive()
    keepalive.discard(_add(keepalive, Socket(loop)))
    reference = weakref.ref(loop)
    del loop
    gc.collect()
    assert reference() is None  # the walk due went with it
    keepalive._walk()  # a walk due on a loop that is gone does nothing


def test_a_socket_discarded_while_its_turn_is_walked_stops_nothing():
    loop, keepalive = _keepalive()
    sockets = [_add(keepalive, Socket(loop)) for _ in range(3)]

    def leave_on_ping(socket=sockets[0], ping=sockets[0].send_keepalive_ping):
        ping()
        for other in sockets:
            keepalive.discard(other)

    sockets[0].send_keepalive_ping = leave_on_ping
    loop.advance(10.0)
    assert not any(keepalive.turns)
    loop.advance(10.0)  # the walks stopped with no socket left, and nothing raised
    assert not keepalive.walking and loop.due == []
