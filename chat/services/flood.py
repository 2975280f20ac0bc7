"""Flood control: at most N sends per user in any span of the window's length
(PARLEY_SEND_RATE), counted in process memory and shared through the cache (Redis)
only when it matters. The window slides: a fixed window would let N through at the end
of one and N more at the start of the next; here the last window's sends still count
for the share of it that lies within the span.

A round trip to Redis on every send cost a send about 0.2 ms of CPU, as much as all
the rest of its Redis work (docs/performance.md). A user far below the limit needs
none: each process counts the sends it takes, and only once a user's count for the
window passes half the limit does every further send add this process's count to
the shared counter and read back the total of all processes. One process is exact.
A user whose tabs are on P processes, sending from them in turn, gets about
max(N, P × N/2) sends into one window before every process refuses (one who spends N on
one process first, then turns to the others, up to N + (P − 1) × N/2): it is a guard
against floods, not an account.
"""

import functools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import BaseCache, caches
from django.core.cache.backends.redis import RedisCache
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.translation import gettext as _

from ..errors import ChatError

logger = logging.getLogger(__name__)

MAX_USERS_TRACKED = 10_000  # past this, users with no send in the current window are dropped

# Adds `delta` to the shared counter under `key` (created to expire in `timeout` s) and
# returns its new total (`_add_to_count` below, on the cache).
Store = Callable[[str, int, int], int]


@dataclass
class _Count:
    window: int
    here: int = 0  # sends this process took in the window
    told: int = 0  # of which the shared counter has been told
    elsewhere: int = 0  # other processes' sends, as the shared counter last said
    before: int = 0  # every process's sends in the window before, as last known


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
        # The window slides: the last one's sends count for the share of it that still
        # lies within the last `seconds`, so no burst passes twice across an edge.
        still = 1 - (now / seconds - window)
        with self._lock:
            count = self._counts.get(user_id)
            if count is None or count.window != window:
                if len(self._counts) >= MAX_USERS_TRACKED:
                    self._counts = {u: c for u, c in self._counts.items() if c.window >= window - 1}
                before = 0
                if count is not None and count.window == window - 1:
                    before = count.here + count.elsewhere
                count = self._counts[user_id] = _Count(window, before=before)
            count.here += 1
            total = count.here + count.elsewhere
            if count.before * still + total > limit // 2:
                total = self._share(count, user_id, seconds) or total
            return count.before * still + total <= limit

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


# Wiring: the shared counter is the cache (Redis when REDIS_URL is set).


@functools.cache
def shared_cache() -> BaseCache:
    """One cache client for the process. `django.core.cache.cache` is a new client per
    async context, so on Redis every send would open a new connection."""
    return caches.create_connection("default")


@functools.cache
def _redis_counter(location: str):
    """A plain client on the cache's Redis, for counting in one round trip."""
    import redis

    return redis.Redis.from_url(location)


@receiver(setting_changed)
def _forget_shared_cache(setting: str, **kwargs) -> None:
    if setting == "CACHES":
        shared_cache.cache_clear()
        _redis_counter.cache_clear()
    if setting in ("CACHES", "PARLEY_SEND_RATE"):
        _send_counter.cache_clear()


def _add_to_count(key: str, delta: int, timeout: int) -> int:
    """Add `delta` to the counter under `key` (created with `timeout`); its new value.

    On Redis one round trip (SET NX EX, INCRBY, pipelined): through Django's cache
    the same add-then-incr takes three. The key is the cache's own, so it sits
    under the cache's prefix.
    """
    counts = shared_cache()
    if not isinstance(counts, RedisCache):
        counts.add(key, 0, timeout=timeout)
        return counts.incr(key, delta)
    key = counts.make_and_validate_key(key)
    location = settings.CACHES["default"]["LOCATION"]
    if not isinstance(location, str):
        location = location[0]
    location = location.split(",")[0]  # the first server takes the writes
    with _redis_counter(location).pipeline(transaction=False) as pipe:
        pipe.set(key, 0, ex=timeout, nx=True)
        pipe.incrby(key, delta)
        return pipe.execute()[1]


@functools.cache
def _send_counter() -> SendCounter:
    return SendCounter(_add_to_count)


def check_send_rate(user_id: int) -> None:
    """At most N sends per window per user, shared across processes (as closely as the
    module's docstring says)."""
    limit, window = settings.PARLEY_SEND_RATE
    if not _send_counter().allow(user_id, limit, window, time.time()):
        raise ChatError("rate_limited", _("You are sending too fast; wait a moment."))
