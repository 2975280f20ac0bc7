"""Exact Origin allow-list for the WebSocket handshake.

Channels' AllowedHostsOriginValidator compares host names only, so a page on
another port or scheme of the same host could open a socket with the user's
cookie. Here an origin passes only if its scheme, host and port all match.
Channels' OriginValidator does match those, but not only those (docs/architecture.md,
Security defaults).
"""

from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings

DEFAULT_PORTS = {"http": 80, "https": 443}


def normalize_origin(origin: str) -> str | None:
    """`scheme://host:port` in lower case with the port made explicit, or None if malformed."""
    try:
        parts = urlsplit(origin.strip())
        port = parts.port or DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or port is None:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host.lower()}:{port}"


def origin_allowed(origin: str | None, allowed: list[str]) -> bool:
    if origin is None:
        return False
    normalized = normalize_origin(origin)
    return normalized is not None and normalized in {normalize_origin(o) for o in allowed}


class AllowedOriginsMiddleware:
    """Deny a WebSocket handshake whose Origin is not in settings.PARLEY_ORIGINS."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        origin = None
        for name, value in scope.get("headers", []):
            if name == b"origin":
                origin = value.decode("latin-1")
        if origin_allowed(origin, settings.PARLEY_ORIGINS):
            return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)
