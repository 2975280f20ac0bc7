"""Connect/disconnect storm: many sockets open and vanish at once; nothing may stay behind.

Rounds of `sockets` connections opened as fast as a bounded concurrency allows, while one
more member sends to the room, and then dropped in three ways: a clean closing handshake,
an abrupt TCP abort, and (third round) half of them abandoned mid-handshake. Afterwards
Redis must hold no pub/sub subscription under the run's prefix (Parley's hub subscribes
once per room and user per process and must unsubscribe with its last local socket there),
the server log must hold no traceback, and a fresh client must still be served.
"""

import asyncio
import contextlib
import json
import random
import time
import uuid
from dataclasses import dataclass, field

import redis
import uvloop
from websockets.asyncio.client import ClientConnection

from .environment import REDIS_URL
from .probe import open_socket

ROUNDS = ("close", "abort", "abandon")
OPEN_TIMEOUT = 30.0
SEND_RATE = 20.0  # messages/s into the room during the storm


@dataclass
class StormRound:
    how: str
    opened: int = 0
    failed: int = 0
    abandoned: int = 0
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)


@dataclass
class StormResult:
    rounds: list[StormRound]
    sent: int = 0
    stale_subscriptions: dict[str, int] = field(default_factory=dict)
    tracebacks: int = 0
    errors: int = 0
    log_samples: list[str] = field(default_factory=list)
    healthy_after: bool = False

    @property
    def clean(self) -> bool:
        failed = sum(r.failed for r in self.rounds)
        return not (failed or self.stale_subscriptions or self.tracebacks or self.errors) and (
            self.healthy_after
        )


async def _round(
    how: str, url: str, origin: str, cookies: list[str], concurrency: int
) -> StormRound:
    result = StormRound(how)
    limit = asyncio.Semaphore(concurrency)
    sockets: list[ClientConnection] = []
    started = time.monotonic()

    async def one(cookie: str) -> None:
        async with limit:
            if how == "abandon" and random.random() < 0.5:
                # Give up somewhere inside the handshake (or just after it).
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(random.uniform(0.0, 0.02)):
                        sockets.append(await open_socket(url, origin, cookie, OPEN_TIMEOUT))
                result.abandoned += 1
                return
            try:
                sockets.append(await open_socket(url, origin, cookie, OPEN_TIMEOUT))
                result.opened += 1
            except Exception as exc:
                result.failed += 1
                if len(result.failures) < 3:
                    result.failures.append(f"{type(exc).__name__}: {exc}")

    await asyncio.gather(*(one(cookie) for cookie in cookies))
    if how == "abort":
        for ws in sockets:
            ws.transport.abort()
    else:
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    result.seconds = time.monotonic() - started
    return result


async def _storm(
    url: str, origin: str, room: int, sender_cookie: str, cookies: list[str], concurrency: int
) -> tuple[list[StormRound], int]:
    sender = await open_socket(url, origin, sender_cookie, OPEN_TIMEOUT)
    sent = 0

    async def send_forever() -> None:
        nonlocal sent
        while True:
            frame = {
                "type": "send",
                "room": room,
                "body": f"storm {sent}",
                "client_msg_id": str(uuid.uuid4()),
            }
            await sender.send(json.dumps(frame))
            sent += 1
            await asyncio.sleep(1 / SEND_RATE)

    async def drain_sender() -> None:
        async for _ in sender:
            pass

    tasks = [asyncio.create_task(send_forever()), asyncio.create_task(drain_sender())]
    try:
        rounds = [await _round(how, url, origin, cookies, concurrency) for how in ROUNDS]
    finally:
        for task in tasks:
            task.cancel()
        await sender.close()
    return rounds, sent


def run_storm(
    url: str, origin: str, room: int, sender_cookie: str, cookies: list[str], concurrency: int
) -> tuple[list[StormRound], int]:
    return asyncio.run(
        _storm(url, origin, room, sender_cookie, cookies, concurrency),
        loop_factory=uvloop.new_event_loop,
    )


def subscriptions(prefix: str) -> dict[str, int]:
    """Every pub/sub channel under the prefix that still has subscribers, with their count
    (Parley on Redis subscribes its hub to a channel per room and user with local sockets
    and must unsubscribe with the last of them)."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        channels = client.pubsub_channels(f"{prefix}:*")
        return {name.decode(): count for name, count in client.pubsub_numsub(*channels)}
    finally:
        client.close()


def forget(prefix: str) -> None:
    """Delete whatever the run left under its Redis prefix."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()
