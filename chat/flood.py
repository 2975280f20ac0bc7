"""Flood control: at most N sends per user per window (PARLEY_SEND_RATE), counted in
process memory and shared through the cache (Redis) only when it matters.

A round trip to Redis on every send cost a send about 0.2 ms of CPU, as much as all
the rest of its Redis work (docs/performance.md). A user far below the limit needs
none: each process counts the sends it takes, and only once a user's count for the
window passes half the limit does every further send add this process's count to
the shared counter and read back the total of all processes. One process is exact.
A user whose tabs are on P processes can get up to about max(N, P × N/2) sends into
one window before every process refuses: it is a guard against floods, not an account.
"""

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)

MAX_USERS_TRACKED = 10_000  # past this, users with no send in the current window are dropped

# Adds `delta` to the shared counter under `key` (created to expire in `timeout` s) and
# returns its new total (chat.services wires it to the cache).
Store = Callable[[str, int, int], int]


@dataclass
class _Count:
    window: int
    here: int = 0  # sends this process took in the window
    told: int = 0  # of which the shared counter has been told
    elsewhere: int = 0  # other processes' sends, as the shared counter last said


class SendCounter:
    """Each user's sends in the current window, in one process."""

    def __init__(self, store: Store, prefix: str = "parley:send-rate"):
        self.store = store
        self.prefix = prefix
        self._counts: dict[int, _Count] = {}
        self._lock = threading.Lock()

    def allow(self, user_id: int, limit: int, seconds: int, now: float) -> bool:
        """Count one send by the user (allowed or not, as every attempt counts) and say
        whether it is within the limit."""
        window = int(now // seconds)
        with self._lock:
            count = self._counts.get(user_id)
            if count is None or count.window != window:
                if len(self._counts) >= MAX_USERS_TRACKED:
                    self._counts = {u: c for u, c in self._counts.items() if c.window == window}
                count = self._counts[user_id] = _Count(window)
            count.here += 1
            total = count.here + count.elsewhere
            if total > limit // 2:
                total = self._share(count, user_id, seconds) or total
            return total <= limit

    def _share(self, count: _Count, user_id: int, seconds: int) -> int | None:
        """Tell the shared counter what it lacks of this process's count; the total of all."""
        key = f"{self.prefix}:{user_id}:{count.window}"
        try:
            stored = self.store(key, count.here - count.told, seconds * 2)
        except Exception as exc:
            logger.warning(
                "flood-control store unavailable (%s: %s); counting in this process only",
                type(exc).__name__,
                exc,
            )
            return None
        count.told = count.here
        count.elsewhere = stored - count.here
        return stored
