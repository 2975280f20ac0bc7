import pytest

from chat.gathering import BUCKET_SECONDS, Gathering


@pytest.fixture(autouse=True)
def window_of_5_ms(settings):
    settings.PARLEY_FANOUT_COALESCE_MS = 5


def busy(events_per_s: float, start: float = 100.0) -> tuple[Gathering, float]:
    """A gathering that has seen write-outs of one event at this rate for a while."""
    gathering = Gathering()
    now, step = start, 1 / events_per_s
    while now < start + 3 * BUCKET_SECONDS:
        gathering.wrote(now, 1)
        now += step
    return gathering, now - step


def test_nothing_is_held_at_first():
    assert Gathering().hold(100.0) == 0.0


def test_below_the_rate_that_would_gather_two_events_nothing_is_held():
    gathering, last = busy(300)  # 1.5 events per 5 ms window
    assert gathering.hold(last + 0.001) == 0.0


def test_at_a_rate_that_gathers_two_the_next_write_out_waits_for_the_window_to_pass():
    gathering, last = busy(1000)
    assert gathering.rate == pytest.approx(1000, rel=0.05)
    assert gathering.hold(last + 0.001) == pytest.approx(0.004)
    assert gathering.hold(last + 0.006) == 0.0  # the window is over: go at once


def test_after_a_lull_the_old_rate_holds_nothing():
    gathering, last = busy(1000)
    assert gathering.hold(last + 2 * BUCKET_SECONDS + 0.01) == 0.0


def test_a_window_of_0_turns_it_off(settings):
    gathering, last = busy(5000)
    settings.PARLEY_FANOUT_COALESCE_MS = 0
    assert gathering.hold(last + 0.001) == 0.0


def test_the_rate_counts_events_not_write_outs():
    gathering = Gathering()
    for i in range(4):
        gathering.wrote(100.0 + i * 0.05, 10)  # 10 events a write, every 50 ms
    assert gathering.rate == pytest.approx(200, rel=0.05)
