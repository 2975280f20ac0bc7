import logging

import pytest

from chat.services import flood
from chat.services.flood import SendCounter

LIMIT, SECONDS = 6, 10
NOW = 1_000_000.0  # the start of a window


class SharedCount:
    """The shared counter, as a dict, recording every call."""

    def __init__(self):
        self.totals: dict[str, int] = {}
        self.calls: list[tuple[str, int]] = []

    def __call__(self, key: str, delta: int, timeout: int) -> int:
        self.calls.append((key, delta))
        self.totals[key] = self.totals.get(key, 0) + delta
        return self.totals[key]


def sends(counter: SendCounter, n: int, user: int = 1, now: float = NOW) -> list[bool]:
    return [counter.allow(user, LIMIT, SECONDS, now) for _ in range(n)]


def test_one_process_allows_exactly_the_limit_then_refuses():
    counter = SendCounter(SharedCount())
    assert sends(counter, LIMIT + 2) == [True] * LIMIT + [False, False]


def test_below_half_the_limit_no_send_asks_the_shared_counter():
    shared = SharedCount()
    counter = SendCounter(shared)
    sends(counter, LIMIT // 2)
    assert shared.calls == []
    sends(counter, 2)
    assert shared.calls == [("parley:send-rate:1:100000", 4), ("parley:send-rate:1:100000", 1)]


def test_sends_on_two_processes_are_refused_once_their_shared_total_passes_the_limit():
    shared = SharedCount()
    one, two = SendCounter(shared), SendCounter(shared)
    allowed = [counter.allow(1, LIMIT, SECONDS, NOW) for _ in range(10) for counter in (one, two)]
    assert sum(allowed) <= max(LIMIT, 2 * LIMIT // 2) + 2
    assert allowed[-4:] == [False] * 4
    assert shared.totals["parley:send-rate:1:100000"] == 20  # every attempt counted


def test_other_users_start_from_zero_and_a_whole_window_later_so_does_the_sender():
    counter = SendCounter(SharedCount())
    sends(counter, LIMIT + 1)
    assert sends(counter, 1, user=2) == [True]
    assert sends(counter, LIMIT, now=NOW + 2 * SECONDS) == [True] * LIMIT


def test_no_burst_passes_twice_across_the_edge_of_a_window():
    """The fixed window's flaw: the limit at the end of one window, and again at the
    start of the next. In any span of the window's length at most the limit passes."""
    counter = SendCounter(SharedCount())
    late = NOW + SECONDS * 0.9
    assert sends(counter, LIMIT, now=late) == [True] * LIMIT
    assert sends(counter, 1, now=NOW + SECONDS) == [False]  # just past the edge
    halfway = NOW + SECONDS * 1.5  # half of the last window still counts: LIMIT / 2
    assert sum(sends(counter, LIMIT, now=halfway)) == LIMIT - LIMIT // 2 - 1


def test_without_the_shared_counter_the_process_still_enforces_its_own_count(caplog):
    def down(key, delta, timeout):
        raise ConnectionError("Redis down")

    counter = SendCounter(down)
    with caplog.at_level(logging.WARNING, logger="chat.services.flood"):
        assert sends(counter, LIMIT + 1) == [True] * LIMIT + [False]
    assert "flood-control store unavailable (ConnectionError: Redis down)" in caplog.text


def test_users_idle_for_a_whole_window_are_forgotten_past_the_tracking_bound(monkeypatch):
    """Past the bound, users whose last sends are older than the window before are
    dropped; those of the window before still count, so they are kept."""
    monkeypatch.setattr(flood, "MAX_USERS_TRACKED", 3)
    counter = SendCounter(SharedCount())
    for user in (1, 2, 3):
        sends(counter, 1, user=user)
    sends(counter, 1, user=4, now=NOW + SECONDS)
    assert set(counter._counts) == {1, 2, 3, 4}
    sends(counter, 1, user=5, now=NOW + 2 * SECONDS)
    assert set(counter._counts) == {4, 5}


@pytest.mark.parametrize("limit", [1, 2, 3])
def test_a_small_limit_is_exact_too(limit):
    counter = SendCounter(SharedCount())
    assert [counter.allow(1, limit, SECONDS, NOW) for _ in range(limit + 1)] == [True] * limit + [
        False
    ]
