"""Budgets: how often one person, or one address, may do a thing that costs others.

Every write that reaches other people, every search and history read, and every
login, registration and room creation spends from a budget of `count` actions per
`seconds` (PARLEY_LIMITS, or PARLEY_LIMIT_<NAME>=count,seconds). The window slides:
in any span of `seconds`, wherever it starts, at most `count` pass (a fixed window
lets twice as many through across its edge). Each budget keeps the times of its
last `count` actions.

With REDIS_URL the budgets live in Redis (one round trip: a script that prunes,
counts and adds atomically, in a sorted set per budget and person), shared by every
process; without it in process memory. Sends have their own, cheaper counter
(chat.services.flood): they are the hot path, and most of a send's Redis work would
be this round trip.

If Redis cannot be reached, a budget is kept in this process alone, with a warning:
a limit must never stop the chat.
"""

import logging
import math
import threading
import time
import uuid
from collections import deque

from django.conf import settings
from django.core.cache.backends.redis import RedisCache
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.translation import gettext as _

from .errors import ChatError
from .services.flood import shared_cache

logger = logging.getLogger(__name__)

MAX_TRACKED = 50_000  # budgets kept in memory before the idle ones are dropped

# Atomically: forget actions older than the span, and add `cost` more if the count
# allows (a cost of 0 adds nothing: it asks whether one more would pass). ARGV: now
# (ms), span (ms), count, cost, a token unique to this call.
# Returns 0 when spent, else the ms until enough of the oldest have aged out.
SPEND_SCRIPT = """
local now, span = tonumber(ARGV[1]), tonumber(ARGV[2])
local count, cost = tonumber(ARGV[3]), tonumber(ARGV[4])
local need = math.max(cost, 1)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - span)
local held = redis.call('ZCARD', KEYS[1])
if held + need > count then
  local freeing = held + need - count - 1
  local oldest = redis.call('ZRANGE', KEYS[1], freeing, freeing, 'WITHSCORES')
  if oldest[2] == nil then return math.ceil(span) end
  return math.max(1, math.ceil(tonumber(oldest[2]) + span - now))
end
for i = 1, cost do redis.call('ZADD', KEYS[1], now, ARGV[5] .. ':' .. i) end
redis.call('PEXPIRE', KEYS[1], math.ceil(span))
return 0
"""


class MemoryBudgets:
    """Budgets in this process: the times (ms) of each one's recent actions."""

    def __init__(self) -> None:
        self._times: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def spend(self, key: str, now_ms: float, span_ms: float, count: int, cost: int) -> int:
        with self._lock:
            if len(self._times) >= MAX_TRACKED:
                self._times = {
                    k: times for k, times in self._times.items() if times[-1] > now_ms - span_ms
                }
            times = self._times.setdefault(key, deque())
            while times and times[0] <= now_ms - span_ms:
                times.popleft()
            need = max(cost, 1)  # a cost of 0 asks whether one more would pass
            if len(times) + need > count:
                freeing = len(times) + need - count - 1
                if freeing >= len(times):
                    return math.ceil(span_ms)
                return max(1, math.ceil(times[freeing] + span_ms - now_ms))
            times.extend([now_ms] * cost)
            return 0


_memory = MemoryBudgets()
_script = None


@receiver(setting_changed)
def _forget(setting: str, **kwargs) -> None:
    global _memory, _script
    if setting in ("CACHES", "PARLEY_LIMITS"):
        _memory, _script = MemoryBudgets(), None


def _redis_spend(key: str, now_ms: float, span_ms: float, count: int, cost: int) -> int | None:
    """The wait in ms from the shared budgets, or None when they are not in Redis."""
    global _script
    cache = shared_cache()
    if not isinstance(cache, RedisCache):
        return None
    if _script is None:
        _script = cache._cache.get_client(write=True).register_script(SPEND_SCRIPT)
    key = cache.make_and_validate_key(key)
    return int(_script(keys=[key], args=[now_ms, span_ms, count, cost, uuid.uuid4().hex]))


def wait_for(name: str, who: object, *, cost: int = 1, now: float | None = None) -> float:
    """Spend `cost` from `who`'s budget `name`; 0 if it allowed it, else the seconds
    until it would (nothing is spent then). A cost of 0 spends nothing: the seconds
    until one more would pass (0: now), for budgets that count only failures."""
    count, seconds = settings.PARLEY_LIMITS[name]
    if count <= 0:
        return 0.0  # this limit is off
    now_ms = (time.time() if now is None else now) * 1000
    args = (f"parley:limit:{name}:{who}", now_ms, seconds * 1000, count, cost)
    try:
        wait = _redis_spend(*args)
    except Exception as exc:
        logger.warning(
            "limit store unavailable (%s: %s); counting in this process only",
            type(exc).__name__,
            exc,
        )
        wait = None
    if wait is None:
        wait = _memory.spend(*args)
    return wait / 1000


def spend(name: str, who: object, *, cost: int = 1, now: float | None = None) -> None:
    """Spend from the budget, or raise `rate_limited` saying how long to wait."""
    wait = wait_for(name, who, cost=cost, now=now)
    if wait:
        raise ChatError(
            "rate_limited",
            _("Too many at once; try again in %(seconds)s s.") % {"seconds": math.ceil(wait)},
        )
