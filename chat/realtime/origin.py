"""Exact Origin allow-list for the WebSocket handshake.

Channels' AllowedHostsOriginValidator compares host names only, so a page on
another port or scheme of the same host could open a socket with the user's
cookie. Here an origin passes only if its scheme, host and port all match.
Channels' OriginValidator does match those, but not only those (docs/architecture.md,
Security defaults). chat.realtime.entry denies a session's handshake that fails it.
"""

from django.conf import settings

from config.origins import normalize_origin


def origin_allowed(origin: str | None, allowed: list[str]) -> bool:
    if origin is None:
        return False
    normalized = normalize_origin(origin)
    return normalized is not None and normalized in {normalize_origin(o) for o in allowed}


def handshake_origin_allowed(scope: dict) -> bool:
    """Whether the handshake's Origin (the last, if it came more than once) is in
    settings.PARLEY_ORIGINS."""
    origin = None
    for name, value in scope.get("headers", ()):
        if name == b"origin":
            origin = value.decode("latin-1")
    return origin_allowed(origin, settings.PARLEY_ORIGINS)
