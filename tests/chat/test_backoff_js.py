"""The web client's backoff (chat/static/chat/backoff.js), run in Node: a module with no
DOM, so its arithmetic is checked without a browser. Full jitter: every delay is drawn
uniformly from the whole window, the first window short, the window doubling to a cap."""

from tests.support import run_in_node


def run(script: str):
    """Evaluate `script` (which may use `backoffDelay`, `FIRST_WINDOW_MS` and
    `MAX_WINDOW_MS`) in Node; what it printed, as JSON."""
    names = "backoffDelay, FIRST_WINDOW_MS, MAX_WINDOW_MS"
    return run_in_node({"backoff.js": names}, script)


def test_each_delay_is_the_random_share_of_a_window_doubling_to_the_cap():
    windows = run(
        "console.log(JSON.stringify([0, 1, 2, 3, 4, 5, 6, 20].map("
        "(a) => backoffDelay(a, () => 0.999999))))"
    )
    assert windows == [999, 1999, 3999, 7999, 15999, 29999, 29999, 29999]
    assert run("console.log(JSON.stringify([0, 5].map((a) => backoffDelay(a, () => 0))))") == [
        0,
        0,
    ]
    assert run("console.log(JSON.stringify([FIRST_WINDOW_MS, MAX_WINDOW_MS]))") == [1000, 30000]


def test_a_lone_first_retry_is_fast_and_a_storm_spreads_evenly_over_the_window():
    # 10,000 tabs lost at once, each drawing its first delay with Math.random.
    delays = run("console.log(JSON.stringify(Array.from({length: 10000}, () => backoffDelay(0))))")
    assert max(delays) < 1000  # nobody waits more than a second for the first try
    tenths = [0] * 10
    for delay in delays:
        tenths[delay // 100] += 1
    # Uniform: each tenth of the second gets about a tenth of the tabs (±25 %), so the
    # server sees 10,000 over a second, not 10,000 at once nor a bunch at 0.5 s.
    assert all(750 <= count <= 1250 for count in tenths), tenths
