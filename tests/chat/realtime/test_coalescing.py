import pytest

from chat.realtime.coalescing import BUCKET_SECONDS, Coalescer


@pytest.fixture(autouse=True)
def window_of_5_ms(settings):
    settings.PARLEY_FANOUT_COALESCE_MS = 5


def busy(events_per_s: float, start: float = 100.0) -> tuple[Coalescer, float]:
    """A coalescer that has seen write-outs of one event at this rate for a while."""
    coalescer = Coalescer()
    now, step = start, 1 / events_per_s
    while now < start + 3 * BUCKET_SECONDS:
        coalescer.wrote(now, 1)
        now += step
    return coalescer, now - step


def test_nothing_is_held_at_first():
    assert Coalescer().hold(100.0) == 0.0


def test_below_the_rate_that_would_gather_two_events_nothing_is_held():
    coalescer, last = busy(300)  # 1.5 events per 5 ms window
    assert coalescer.hold(last + 0.001) == 0.0


def test_at_a_rate_that_gathers_two_the_next_write_out_waits_for_the_window_to_pass():
    coalescer, last = busy(1000)
    assert coalescer.rate == pytest.approx(1000, rel=0.05)
    assert coalescer.hold(last + 0.001) == pytest.approx(0.004)
    assert coalescer.hold(last + 0.006) == 0.0  # the window is over: go at once


def test_after_a_lull_the_old_rate_holds_nothing():
    coalescer, last = busy(1000)
    assert coalescer.hold(last + 2 * BUCKET_SECONDS + 0.01) == 0.0


def test_a_window_of_0_turns_it_off(settings):
    coalescer, last = busy(5000)
    settings.PARLEY_FANOUT_COALESCE_MS = 0
    assert coalescer.hold(last + 0.001) == 0.0


def test_the_rate_counts_events_not_write_outs():
    coalescer = Coalescer()
    for i in range(4):
        coalescer.wrote(100.0 + i * 0.05, 10)  # 10 events a write, every 50 ms
    assert coalescer.rate == pytest.approx(200, rel=0.05)
