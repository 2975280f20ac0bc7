"""A few clients on the websockets library itself: warm a server up, check it still serves.

The load generator reads with its own lean reader (bench/leanws.py); these probes use the
library's full asyncio client, so every server is also seen working by a standard client.
"""

import asyncio
import json
import time
import uuid
from dataclasses import dataclass

import uvloop
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Origin

TIMEOUT = 15.0


@dataclass(frozen=True)
class ProbeResult:
    sockets: int
    acks: int
    deliveries: int
    expected: int
    seconds: float
    error: str = ""

    @property
    def ok(self) -> bool:
        return (
            not self.error
            and self.deliveries == self.expected
            and self.acks * self.sockets == self.expected
        )


async def open_socket(url: str, origin: str, cookie: str, timeout: float) -> ClientConnection:
    """Connect like a browser tab (Origin and session cookie) and read the `hello` frame."""
    ws = await connect(
        url,
        origin=Origin(origin),
        additional_headers={"Cookie": cookie},
        compression=None,
        ping_interval=None,
        open_timeout=timeout,
        close_timeout=2.0,
        proxy=None,
    )
    async with asyncio.timeout(timeout):
        hello = json.loads(await ws.recv())
    if hello.get("type") != "hello":
        await ws.close()
        raise RuntimeError(f"expected hello, got {hello!r}")
    return ws


async def _exchange(url: str, origin: str, cookies: list[str], room: int, each: int) -> ProbeResult:
    started = time.monotonic()
    sockets = [await open_socket(url, origin, cookie, TIMEOUT) for cookie in cookies]
    sent = each * len(sockets)
    acks = deliveries = 0

    async def read(ws: ClientConnection) -> None:
        """Until the socket has its acks and every message once: its own in their acks
        (Parley sends the sending socket no event; a server that also echoes it counts
        once), the others' as events."""
        nonlocal acks, deliveries
        mine, heard = 0, set()
        while mine < each or len(heard) < sent:
            frame = json.loads(await ws.recv())
            if frame.get("type") in ("ack", "message"):
                mine += frame["type"] == "ack"
                heard.add(frame["message"]["client_msg_id"])
        acks += mine
        deliveries += len(heard)

    readers = [asyncio.create_task(read(ws)) for ws in sockets]
    for reader in readers:  # a dropped socket is reported by the sender side
        reader.add_done_callback(lambda task: task.cancelled() or task.exception())
    for k in range(each):
        for ws in sockets:
            frame = {
                "type": "send",
                "room": room,
                "body": f"probe {k}",
                "client_msg_id": str(uuid.uuid4()),
            }
            await ws.send(json.dumps(frame))
    try:
        async with asyncio.timeout(TIMEOUT):
            await asyncio.gather(*readers)
    except TimeoutError:
        for reader in readers:
            reader.cancel()
    await asyncio.gather(*(ws.close() for ws in sockets))
    return ProbeResult(
        len(sockets), acks, deliveries, sent * len(sockets), time.monotonic() - started
    )


def exchange(url: str, origin: str, cookies: list[str], room: int, each: int = 2) -> ProbeResult:
    """Open one socket per cookie; each sends `each` messages; all must hear every one.

    A failure (refused, dropped) is returned in `error`, not raised: a broken server is a
    finding to report, and the run goes on.
    """
    try:
        return asyncio.run(
            _exchange(url, origin, cookies, room, each), loop_factory=uvloop.new_event_loop
        )
    except Exception as exc:
        expected = each * len(cookies) ** 2
        return ProbeResult(len(cookies), 0, 0, expected, 0.0, f"{type(exc).__name__}: {exc}")
