"""What tests share beyond fixtures (those are in conftest.py): records and assertions."""

import asyncio
import json
from typing import NamedTuple

import pytest

from chat.errors import ChatError


class Published(NamedTuple):
    """One publish a service made after commit: to a `room`'s or a `user`'s sockets,
    or a `grant`/`revoke` of `room` to a user's sockets (`target` is the room or user id)."""

    to: str
    target: int
    frame: dict
    room: int | None = None

    @property
    def brief(self) -> tuple[str, int, str]:
        return (self.to, self.target, self.frame["type"])


def refused(code: str, call, *args, **kwargs) -> ChatError:
    """Call, expecting a ChatError with this code; the error."""
    with pytest.raises(ChatError) as caught:
        call(*args, **kwargs)
    assert caught.value.code == code
    return caught.value


class AsgiAnswer(NamedTuple):
    status: int
    body: bytes
    read: int  # body bytes the application took from the client

    def json(self) -> dict:
        return json.loads(self.body)


async def asgi_request(
    app,
    path: str,
    *,
    method: str = "POST",
    headers: list[tuple[bytes, bytes]] = (),
    chunks: list[bytes] = (b"",),
) -> AsgiAnswer:
    """Call an ASGI application with an HTTP request as a server would, the body in
    `chunks` (no content-length header: chunked, unless `headers` declares one)."""
    pending = list(chunks)
    read = 0
    sent: list[dict] = []

    answered = asyncio.Event()

    async def receive():
        nonlocal read
        if not pending:
            await answered.wait()  # a client stays until it has its answer
            return {"type": "http.disconnect"}
        chunk = pending.pop(0)
        read += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

    async def send(message):
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            answered.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1:8000"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    await app(scope, receive, send)
    [start] = [m for m in sent if m["type"] == "http.response.start"]
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return AsgiAnswer(start["status"], body, read)
