"""A Redis of the bench's own, and what it did between two readings: CPU and commands.

The cluster scenario reads Redis's own counters (`INFO cpu`, `INFO commandstats`)
around each step, so it runs a redis-server of its own on a free loopback port: no other
client's traffic lands in its figures. Nothing is persisted; its log goes to the run's
directory; it is stopped by its pid.
"""

import contextlib
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import redis

from tests.support import free_port, start_server

from .environment import HOST

START_TIMEOUT = 10.0
# The presence refresh: every PARLEY_HEADS_INTERVAL each worker checks all its sockets in
# again (one EVALSHA of chat/realtime/presence.py's script each, which runs some of the
# commands below; Redis counts those too) and sweeps (one ZRANGEBYSCORE). Per socket and
# per interval, never per message, and bursty (a window holds a whole refresh or none),
# so it is counted apart from what messages cost.
PERIODIC = frozenset(
    {"evalsha", "hset", "hdel", "hget", "hvals", "zadd", "zrem", "zrangebyscore", "zrevrange",
     "expire"}
)  # fmt: skip
OWN = frozenset({"info"})  # the bench's own readings


@dataclass(frozen=True)
class RedisUse:
    """What Redis did in a window: its CPU, and calls and execution time per command."""

    cpu_s: float
    calls: dict[str, int]
    usec: dict[str, int]

    @property
    def message_calls(self) -> dict[str, int]:
        """The calls that messages can cost: neither the periodic refresh nor the bench's."""
        return {c: n for c, n in self.calls.items() if n and c not in PERIODIC | OWN}

    @property
    def message_ops(self) -> int:
        return sum(self.message_calls.values())

    @property
    def periodic_ops(self) -> int:
        return sum(n for c, n in self.calls.items() if c in PERIODIC)

    @property
    def message_cpu_s(self) -> float | None:
        """Redis's CPU, if no periodic refresh ran in the window (None if one did: its
        share cannot be told apart, commandstats' usec being wall time, which on a busy
        machine exceeds the CPU it took)."""
        return None if self.periodic_ops else self.cpu_s


@dataclass(frozen=True)
class RedisCounters:
    """One reading of Redis's cumulative counters."""

    cpu_s: float
    calls: dict[str, int]
    usec: dict[str, int]

    @classmethod
    def read(cls, client: redis.Redis) -> "RedisCounters":
        info = client.info("cpu", "commandstats")
        stats = {k.removeprefix("cmdstat_"): v for k, v in info.items() if k.startswith("cmdstat_")}
        return cls(
            cpu_s=float(info["used_cpu_sys"]) + float(info["used_cpu_user"]),
            calls={name: int(s["calls"]) for name, s in stats.items()},
            usec={name: int(s["usec"]) for name, s in stats.items()},
        )

    def since(self, earlier: "RedisCounters") -> RedisUse:
        return RedisUse(
            cpu_s=self.cpu_s - earlier.cpu_s,
            calls={c: n - earlier.calls.get(c, 0) for c, n in self.calls.items()},
            usec={c: us - earlier.usec.get(c, 0) for c, us in self.usec.items()},
        )


@dataclass(frozen=True)
class PrivateRedis:
    url: str
    pid: int

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)


@contextlib.contextmanager
def running_redis(directory: Path) -> Iterator[PrivateRedis]:
    """redis-server on a free loopback port, without persistence; stopped on the way out."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed (make services installs it)")
    port = free_port()
    command = [
        binary, "--bind", HOST, "--port", str(port), "--save", "", "--appendonly", "no",
        "--dir", str(directory),
    ]  # fmt: skip
    server = start_server(command, name="redis", port=port, env={}, log=directory / "redis.log")
    try:
        url = f"redis://{HOST}:{port}/0"
        client = redis.Redis.from_url(url, socket_timeout=1)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if server.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start\n{server.log_tail()}") from None
                time.sleep(0.05)
            finally:
                client.close()
        yield PrivateRedis(url, server.pid)
    finally:
        server.stop()
