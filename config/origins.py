"""Origins (`scheme://host:port`), read without Django: the settings use them for
PUBLIC_URL, the WebSocket handshake (chat/realtime/origin.py) to compare Origin headers."""

from typing import NamedTuple
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}


class Site(NamedTuple):
    host: str  # as ALLOWED_HOSTS lists it
    origin: str  # as a browser sends it: a default port left out


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


def site_of(url: str) -> Site | None:
    """The host and origin of a site's address such as `https://chat.example.com`; None
    unless it is one (http or https, a host, nothing after it but `/`)."""
    origin = normalize_origin(url)
    if origin is None:
        return None
    scheme, address = origin.split("://")
    host, port = address.rsplit(":", 1)
    return Site(host, origin if int(port) != DEFAULT_PORTS[scheme] else f"{scheme}://{host}")
