"""Connect test WebSockets to the real ASGI application, as a browser tab would.

Every frame a tab receives is held to its schema (chat/protocol/schema.py) before a
test sees it, so every test that talks to a socket checks every frame it hears."""

import json
from contextlib import asynccontextmanager

from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from chat.protocol.schema import check_frame
from config.asgi import application

ORIGIN = "http://127.0.0.1:8000"


@database_sync_to_async  # closes the thread's connection after: none outlives a test
def session_cookie(user) -> str:
    """A logged-in session for the user: the value of the session cookie."""
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


class Tab:
    """One browser tab's socket with JSON helpers."""

    def __init__(self, communicator: WebsocketCommunicator):
        self.communicator = communicator

    async def send(self, frame) -> None:
        text = frame if isinstance(frame, str) else json.dumps(frame)
        await self.communicator.send_to(text_data=text)

    async def receive(self, timeout: float = 2) -> dict:
        """The next frame, or jsonschema.ValidationError if it breaks the protocol."""
        return check_frame(json.loads(await self.communicator.receive_from(timeout=timeout)))

    async def receive_type(self, kind: str, timeout: float = 2) -> dict:
        """The next frame of this type, skipping others (heads, read…)."""
        for _ in range(100):
            frame = await self.receive(timeout)
            if frame["type"] == kind:
                return frame
        raise AssertionError(f"no {kind} frame")

    async def receive_all(self, *kinds: str, timeout: float = 2) -> dict[str, dict]:
        """The next frame of each type, in whatever order they come (skipping others)."""
        found: dict[str, dict] = {}
        for _ in range(100):
            frame = await self.receive(timeout)
            if frame["type"] in kinds and frame["type"] not in found:
                found[frame["type"]] = frame
                if len(found) == len(kinds):
                    return found
        raise AssertionError(f"missing {set(kinds) - set(found)}")

    async def request(self, frame: dict, reply: str, timeout: float = 2) -> dict:
        await self.send(frame)
        return await self.receive_type(reply, timeout)

    async def before_pong(self, timeout: float = 2) -> list[dict]:
        """The frames this tab already had on its way, waited for without a timer: a ping's
        pong comes after everything written to the socket before it."""
        await self.send({"type": "ping"})
        frames = []
        for _ in range(100):
            frame = await self.receive(timeout)
            if frame["type"] == "pong":
                return frames
            frames.append(frame)
        raise AssertionError("no pong")

    async def close_code(self, timeout: float = 10) -> int:
        """The code the server closed the socket with, skipping the frames before it."""
        for _ in range(1000):
            output = await self.communicator.receive_output(timeout=timeout)
            if output["type"] == "websocket.close":
                return output["code"]
        raise AssertionError("the socket was not closed")

    async def nothing(self, timeout: float = 0.2) -> bool:
        return await self.communicator.receive_nothing(timeout=timeout)


@asynccontextmanager
async def open_tab(
    user=None,
    *,
    origin: str | None = ORIGIN,
    expect_hello: bool = True,
    headers: tuple[tuple[bytes, bytes], ...] = (),
):
    headers = list(headers)
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    if user is not None:
        headers.append(
            (b"cookie", f"{settings.SESSION_COOKIE_NAME}={await session_cookie(user)}".encode())
        )
    communicator = WebsocketCommunicator(application, "/ws/", headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    tab = Tab(communicator)
    tab.connected = connected
    try:
        if connected and expect_hello:
            tab.hello = await tab.receive_type("hello")
        yield tab
    finally:
        await communicator.disconnect()
