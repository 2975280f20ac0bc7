"""Minimal Channels app for comparing ASGI servers (see bench/asgi_servers.py).

HTTP goes through the project's real Django stack (settings, middleware, URLconf) so
/healthz costs what it costs in production; WebSockets go to a bare echo consumer so
the measurement is the server's WebSocket handling plus Channels, not Parley's chat
logic. No auth and no origin check: this app is only ever bound to 127.0.0.1.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# Set Django up before importing anything that may touch models or settings.
django_asgi_app = get_asgi_application()

from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402


class EchoConsumer(AsyncWebsocketConsumer):
    """Accept every connection and send each text frame straight back."""

    async def connect(self) -> None:
        await self.accept()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is not None:
            await self.send(text_data=text_data)


application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": URLRouter([path("bench/echo/", EchoConsumer.as_asgi())]),
    }
)
