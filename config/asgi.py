"""ASGI entry point: HTTP through Django (a body over its limit refused unread first),
WebSockets through Channels, and the server's lifespan (what shutdown lets go of),
routed by a layer that keeps no frame per socket (config/layers.py)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

django_asgi_app = get_asgi_application()

from chat.http.middleware import BodyLimit  # noqa: E402
from chat.realtime.entry import SocketEntry  # noqa: E402
from chat.realtime.lifespan import lifespan  # noqa: E402
from chat.realtime.routing import websocket_routes  # noqa: E402
from config.layers import ByScopeType  # noqa: E402

application = ByScopeType(
    {
        "http": BodyLimit(django_asgi_app),
        # Token or session, Origin and path in one layer (chat/realtime/entry.py).
        "websocket": SocketEntry(websocket_routes),
        "lifespan": lifespan,
    }
)
