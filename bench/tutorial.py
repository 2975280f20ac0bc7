"""The baseline: the Channels tutorial's chat design, speaking Parley's frames.

One AsyncWebsocketConsumer per socket, each with its own channel-layer channel and
group membership; a `send` frame becomes one group_send, and every consumer's
chat_message handler encodes the frame again for its own socket. This is what
chat/realtime/hub.py replaces, so the bench shows what the hub buys (docs/architecture.md).

Like the tutorial it stores nothing (no database write per message) and keeps the
tutorial's AuthMiddlewareStack, so a connection costs a session and user lookup. It
adds only what Parley's frames need: a `hello` on connect, an `ack` to the sender,
and the compact JSON encoding Parley uses. Serve it like Parley:

    python -m uvicorn bench.tutorial:application --port 8766 ...
"""

import itertools
import json
import os
from datetime import UTC, datetime

from django.core.asgi import get_asgi_application

os.environ["DJANGO_SETTINGS_MODULE"] = "bench.tutorial_settings"
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

GROUP = "chat_bench"
ROOM_ID = 1
_ids = itertools.count(1)


def encode(frame: dict) -> str:
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))


class TutorialChatConsumer(AsyncWebsocketConsumer):
    """channels.readthedocs.io tutorial part 3 (the async consumer), one room."""

    async def connect(self) -> None:
        user = self.scope["user"]
        self.author = {"id": user.pk, "username": user.username, "display_name": user.username}
        await self.channel_layer.group_add(GROUP, self.channel_name)
        await self.accept()
        await self.send(text_data=encode({"type": "hello", "user": self.author, "rooms": []}))

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(GROUP, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        frame = json.loads(text_data or "{}")
        seq = next(_ids)
        message = {
            "id": seq,
            "room": ROOM_ID,
            "seq": seq,
            "author": self.author,
            "body": frame["body"],
            "created_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "client_msg_id": frame["client_msg_id"],
        }
        await self.channel_layer.group_send(GROUP, {"type": "chat.message", "message": message})
        await self.send(
            text_data=encode(
                {"type": "ack", "client_msg_id": frame["client_msg_id"], "message": message}
            )
        )

    async def chat_message(self, event: dict) -> None:
        await self.send(text_data=encode({"type": "message", "message": event["message"]}))


application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AuthMiddlewareStack(URLRouter([path("ws/", TutorialChatConsumer.as_asgi())])),
    }
)
