"""When to hold events back for a moment, so that more go out in the same write.

Each write of the fan-out (to a socket, or a publish to Redis) costs a system call
that wakes the reader, about as much for several events as for one: under load,
events that come within PARLEY_FANOUT_COALESCE_MS of the last write-out wait until
that time is up and go together. Holding pays only when the window would gather
at least two events at the rate events are coming now, so below that rate
(400 events/s for 5 ms) nothing is held, and a lone message is never delayed.
"""

from django.conf import settings

BUCKET_SECONDS = 0.1  # the rate is the count of the last tenth of a second
WORTH_HOLDING = 2.0  # events a window must be expected to gather


class Coalescer:
    """The recent rate of one stream of write-outs, and how long to hold the next."""

    def __init__(self) -> None:
        self.written_at = float("-inf")
        self.rate = 0.0  # events/s over the last full bucket
        self._bucket_start = float("-inf")
        self._counted = 0

    def hold(self, now: float) -> float:
        """Seconds to wait before the next write-out (0: go now)."""
        window = settings.PARLEY_FANOUT_COALESCE_MS / 1000
        if now - self._bucket_start > 2 * BUCKET_SECONDS:
            self.rate = 0.0  # nothing written for a while: the old rate says nothing
        if not window or self.rate * window < WORTH_HOLDING:
            return 0.0
        return max(0.0, self.written_at + window - now)

    def wrote(self, now: float, events: int) -> None:
        """Count a write-out of `events` events, made at `now`."""
        self.written_at = now
        if now - self._bucket_start >= BUCKET_SECONDS:
            if now - self._bucket_start < 2 * BUCKET_SECONDS:
                self.rate = self._counted / (now - self._bucket_start)
            else:
                self.rate = 0.0
            self._bucket_start, self._counted = now, 0
        self._counted += events
