"""Who is online, across every server process.

A user is `online` while at least one of their sockets (any tab, any process) is
checked in and active, `idle` while all of them report idle (the client says so
after some minutes without input), and `offline` otherwise, with the time they
were last seen. Every socket checks in when it connects, when its client reports
a change, and with each `heads` round; one that stops checking in (its process
crashed) expires after PRESENCE_TTL and the next sweep, in any process, counts it
gone. The store says when a user's status changed, once, so exactly one process
announces it.

Two stores with one behaviour: in this process's memory (no REDIS_URL, one
process), or in Redis, where a Lua script makes each change atomic.
"""

import time
from collections import defaultdict
from dataclasses import dataclass

from django.conf import settings
from redis.exceptions import NoScriptError

ONLINE, IDLE, OFFLINE = "online", "idle", "offline"
MAX_CONNECTIONS = 32  # to Redis, per process
SOCKET_STATES = {"active", "idle"}


def presence_ttl() -> float:
    """How long a check-in counts: three heads rounds, so a missed round is no harm."""
    return 3 * settings.PARLEY_HEADS_INTERVAL


@dataclass(frozen=True)
class Change:
    user_id: int
    status: str
    last_seen: float | None


def _status(states: list[str]) -> str:
    if not states:
        return OFFLINE
    return ONLINE if "active" in states else IDLE


class MemoryPresence:
    """The store for a single process."""

    def __init__(self):
        self.sockets: dict[int, dict[str, tuple[str, float]]] = defaultdict(dict)
        self.announced: dict[int, str] = {}
        self.seen: dict[int, float] = {}

    async def check_in(self, user_id: int, socket_id: str, state: str, now: float) -> Change | None:
        self.sockets[user_id][socket_id] = (state, now + presence_ttl())
        return self._settle(user_id, now)

    async def check_out(self, user_id: int, socket_id: str, now: float) -> Change | None:
        self.sockets[user_id].pop(socket_id, None)
        return self._settle(user_id, now)

    async def sweep(self, now: float) -> list[Change]:
        changes = [self._settle(user_id, now) for user_id in list(self.sockets)]
        return [change for change in changes if change is not None]

    async def refresh(self, sockets: list[tuple[int, str, str]], now: float) -> list[Change]:
        """Check in (user id, socket id, state) for each socket, then sweep."""
        changes = [await self.check_in(*socket, now) for socket in sockets]
        return [change for change in changes if change is not None] + await self.sweep(now)

    async def statuses(self, user_ids: list[int], now: float) -> dict[int, dict]:
        return {user_id: self._view(user_id, now) for user_id in user_ids}

    async def live_sockets(self, user_id: int, now: float) -> int:
        """How many sockets of the user are checked in, in every process."""
        return sum(expires > now for _state, expires in self.sockets.get(user_id, {}).values())

    def _view(self, user_id: int, now: float) -> dict:
        live = [state for state, expires in self.sockets.get(user_id, {}).values() if expires > now]
        return {"status": _status(live), "last_seen": self.seen.get(user_id)}

    async def close(self) -> None:
        """Nothing to let go of: the store is this process's memory."""

    def _settle(self, user_id: int, now: float) -> Change | None:
        sockets = self.sockets.get(user_id, {})
        for socket_id, (_state, expires) in list(sockets.items()):
            if expires <= now:
                del sockets[socket_id]
        if not sockets:
            self.sockets.pop(user_id, None)
        status = _status([state for state, _expires in sockets.values()])
        before = self.announced.get(user_id, OFFLINE)
        if status == OFFLINE and before != OFFLINE:
            self.seen[user_id] = now
        if before == status:
            return None
        if status == OFFLINE:
            self.announced.pop(user_id, None)
        else:
            self.announced[user_id] = status
        return Change(user_id, status, self.seen.get(user_id))


# KEYS: sockets hash, expiries zset, users zset, announced hash, seen hash.
# ARGV: op ("in", "out", "settle"), user id, socket id, state, now, ttl.
# Returns {changed (0/1), status, last_seen or ""}.
SETTLE_SCRIPT = """
local sockets, expiries, users, announced, seen = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local op, user, socket, state = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local now, ttl = tonumber(ARGV[5]), tonumber(ARGV[6])
if op == "in" then
  redis.call("HSET", sockets, socket, state)
  redis.call("ZADD", expiries, now + ttl, socket)
elseif op == "out" then
  redis.call("HDEL", sockets, socket)
  redis.call("ZREM", expiries, socket)
end
local dead = redis.call("ZRANGEBYSCORE", expiries, "-inf", now)
for _, gone in ipairs(dead) do
  redis.call("HDEL", sockets, gone)
  redis.call("ZREM", expiries, gone)
end
local states = redis.call("HVALS", sockets)
local status = "offline"
for _, s in ipairs(states) do
  if s == "active" then status = "online" break end
  status = "idle"
end
if #states > 0 then
  local latest = redis.call("ZREVRANGE", expiries, 0, 0, "WITHSCORES")
  redis.call("ZADD", users, latest[2], user)
  redis.call("EXPIRE", sockets, math.ceil(ttl * 2))
  redis.call("EXPIRE", expiries, math.ceil(ttl * 2))
else
  redis.call("ZREM", users, user)
end
local before = redis.call("HGET", announced, user) or "offline"
if status == "offline" and before ~= "offline" then
  redis.call("HSET", seen, user, ARGV[5])
end
local last_seen = redis.call("HGET", seen, user) or ""
if before == status then return {0, status, last_seen} end
if status == "offline" then
  redis.call("HDEL", announced, user)
else
  redis.call("HSET", announced, user, status)
end
return {1, status, last_seen}
"""


# KEYS: each user's expiries zset then sockets hash (two per user), then the seen hash.
# ARGV: now, then the user ids. Returns each user's status, then each one's last_seen or "".
STATUSES_SCRIPT = """
local now = ARGV[1]
local count = #ARGV - 1
local statuses, seen = {}, {}
for i = 1, count do
  local status = "offline"
  local live = redis.call("ZRANGEBYSCORE", KEYS[2 * i - 1], now, "+inf")
  if #live > 0 then
    local states = redis.call("HMGET", KEYS[2 * i], unpack(live))
    for _, s in ipairs(states) do
      if s == "active" then status = "online" break end
      if s then status = "idle" end
    end
  end
  statuses[i] = status
  seen[i] = redis.call("HGET", KEYS[#KEYS], ARGV[i + 1]) or ""
end
for i = 1, count do statuses[count + i] = seen[i] end
return statuses
"""
# Users whose statuses one script call reads: a hello's peers in one round trip, while
# one call's time inside Redis (which serves nothing else meanwhile) stays short.
STATUSES_PER_CALL = 1000


def _change(user_id: int, answer: list) -> Change | None:
    changed, status, last_seen = answer
    if not int(changed):
        return None
    return Change(user_id, status, float(last_seen) if last_seen else None)


class RedisPresence:
    """The store shared by every process, in Redis."""

    def __init__(self, url: str, prefix: str):
        import redis.asyncio as redis

        # A storm of connects and disconnects checks in and out all at once: wait for a
        # free connection, where redis-py's default pool refuses the excess outright.
        pool = redis.BlockingConnectionPool.from_url(
            url, decode_responses=True, max_connections=MAX_CONNECTIONS
        )
        self.redis = redis.Redis.from_pool(pool)  # owns the pool: aclose() closes it
        self.prefix = f"{prefix}:presence"
        self.script = self.redis.register_script(SETTLE_SCRIPT)
        self.statuses_script = self.redis.register_script(STATUSES_SCRIPT)

    def _keys(self, user_id: int) -> list[str]:
        return [
            f"{self.prefix}:sockets:{user_id}",
            f"{self.prefix}:expiries:{user_id}",
            f"{self.prefix}:users",
            f"{self.prefix}:announced",
            f"{self.prefix}:seen",
        ]

    def _args(self, op: str, user_id: int, socket_id: str, state: str, now: float) -> list:
        return [op, user_id, socket_id, state, repr(now), repr(presence_ttl())]

    async def _run(self, op: str, user_id: int, socket_id: str, state: str, now: float):
        answer = await self.script(
            keys=self._keys(user_id), args=self._args(op, user_id, socket_id, state, now)
        )
        return _change(user_id, answer)

    async def _run_many(self, calls: list[tuple], tail=None) -> list:
        """Each (op, user id, socket id, state, now) settled in one pipelined round trip,
        with `tail(pipe)` queueing one more command; the answers, in order.

        The script is called by its hash: a pipeline given the Script object would
        first ask Redis whether it is loaded, a second round trip every time. If Redis
        lost it (a restart), it is loaded and the pipeline sent again.
        """
        for attempt in (1, 2):
            async with self.redis.pipeline(transaction=False) as pipe:
                for call in calls:
                    keys = self._keys(call[1])
                    pipe.evalsha(self.script.sha, len(keys), *keys, *self._args(*call))
                if tail is not None:
                    tail(pipe)
                answers = await pipe.execute(raise_on_error=False)
            if attempt == 1 and any(isinstance(a, NoScriptError) for a in answers):
                self.script.sha = await self.redis.script_load(SETTLE_SCRIPT)
                continue
            for answer in answers:
                if isinstance(answer, Exception):
                    raise answer
            return answers
        raise AssertionError("unreachable")

    async def check_in(self, user_id: int, socket_id: str, state: str, now: float) -> Change | None:
        return await self._run("in", user_id, socket_id, state, now)

    async def check_out(self, user_id: int, socket_id: str, now: float) -> Change | None:
        return await self._run("out", user_id, socket_id, "", now)

    async def sweep(self, now: float) -> list[Change]:
        return await self.refresh([], now)

    async def refresh(self, sockets: list[tuple[int, str, str]], now: float) -> list[Change]:
        """Check in (user id, socket id, state) for each socket, then sweep: one round
        trip, and a second only when some user's sockets have all expired."""
        calls = [("in", user_id, socket_id, state, now) for user_id, socket_id, state in sockets]
        *answers, expired = await self._run_many(
            calls, lambda pipe: pipe.zrangebyscore(f"{self.prefix}:users", "-inf", now)
        )
        changes = [_change(call[1], answer) for call, answer in zip(calls, answers, strict=True)]
        if expired:
            settles = [("settle", int(user), "", "", now) for user in expired]
            answers = await self._run_many(settles)
            changes += [_change(c[1], a) for c, a in zip(settles, answers, strict=True)]
        return [change for change in changes if change is not None]

    async def statuses(self, user_ids: list[int], now: float) -> dict[int, dict]:
        """One script call per STATUSES_PER_CALL users (a hello's peers: one round trip,
        however many), where reading each user's keys would cost the client a command
        or two per user to send and parse."""
        views = {}
        for start in range(0, len(user_ids), STATUSES_PER_CALL):
            chunk = user_ids[start : start + STATUSES_PER_CALL]
            keys = [
                key
                for user_id in chunk
                for key in (
                    f"{self.prefix}:expiries:{user_id}",
                    f"{self.prefix}:sockets:{user_id}",
                )
            ]
            answer = await self.statuses_script(
                keys=[*keys, f"{self.prefix}:seen"], args=[repr(now), *chunk]
            )
            for user_id, status, last_seen in zip(
                chunk, answer[: len(chunk)], answer[len(chunk) :], strict=True
            ):
                views[user_id] = {
                    "status": status,
                    "last_seen": float(last_seen) if last_seen else None,
                }
        return views

    async def live_sockets(self, user_id: int, now: float) -> int:
        """How many sockets of the user are checked in, in every process."""
        return await self.redis.zcount(f"{self.prefix}:expiries:{user_id}", now, "+inf")

    async def close(self) -> None:
        await self.redis.aclose()


def make_store() -> MemoryPresence | RedisPresence:
    if settings.REDIS_URL:
        return RedisPresence(settings.REDIS_URL, settings.REDIS_PREFIX)
    return MemoryPresence()


def now() -> float:
    return time.time()
