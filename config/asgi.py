"""ASGI entry point: HTTP through Django (a body over its limit refused unread first),
WebSockets through Channels, and the server's lifespan (what shutdown lets go of)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.sessions import CookieMiddleware  # noqa: E402

from chat.http.middleware import BodyLimit  # noqa: E402
from chat.realtime.auth import SessionAuthMiddleware, TokenAuthMiddleware  # noqa: E402
from chat.realtime.lifespan import lifespan  # noqa: E402
from chat.realtime.origin import AllowedOriginsMiddleware  # noqa: E402
from chat.realtime.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": BodyLimit(django_asgi_app),
        # An API token's handshake skips the Origin check (chat/realtime/auth.py).
        "websocket": TokenAuthMiddleware(
            URLRouter(websocket_urlpatterns),
            sessions=AllowedOriginsMiddleware(
                CookieMiddleware(SessionAuthMiddleware(URLRouter(websocket_urlpatterns)))
            ),
        ),
        "lifespan": lifespan,
    }
)
