"""Who a WebSocket is, read once at the handshake: by an API token, or by the session.

A handshake with `Authorization: Bearer <token>` (a program's: a browser cannot set that
header) is the token's user (accounts.tokens), whatever cookie came with it, and skips
the Origin allow-list (chat.realtime.entry): the allow-list keeps other sites' pages
from riding a browser's cookie, and a token is no cookie. A bad token is refused with
401 and a JSON error, never tried as a session. Every other handshake goes the
session's way: Origin check, cookies, session.

Channels' SessionMiddleware wraps `send` so that a session changed during the
connection is saved with an outgoing message. A Parley socket never changes the
session, and that wrapper would sit on the path of every frame the hub delivers:
`handshake_cookies` reads the cookies and `Sessions.scope` loads the session and its
user at connect, and `send` stays untouched. The tabs of one browser share their
session cookie and, after a worker died, connect again together: the handshakes
waiting for the database read each session once (chat.realtime.shared), and share the
user read (a socket never changes its user).
"""

import json
from importlib import import_module
from types import SimpleNamespace

from channels.db import database_sync_to_async
from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.contrib import auth
from django.http.cookie import parse_cookie
from django.utils import translation
from django.utils.translation import gettext as _

from accounts import tokens

from .shared import reads


def bearer_secret(scope: dict) -> str | None:
    """The API token's secret of a bearer handshake, else None (a session's handshake)."""
    return tokens.bearer_secret(_first_header(scope, b"authorization") or "")


def _first_header(scope: dict, name: bytes) -> str | None:
    """A handshake header's value (the first, if it came more than once), or None."""
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def handshake_cookies(scope: dict) -> dict[str, str]:
    """The handshake's cookies, parsed as Django parses a request's."""
    cookie = _first_header(scope, b"cookie")
    return {} if cookie is None else parse_cookie(cookie)


async def token_scope(secret: str) -> dict | None:
    """What a token's socket adds to its scope (`user`, `token_id`), or None if the token
    is not valid."""
    token = await database_sync_to_async(tokens.authenticate)(secret)
    if token is None:
        return None
    return {"user": token.user, "token_id": token.pk}


async def refuse_token(scope: dict, receive, send) -> None:
    """A 401 with the API's JSON error where the server can answer a handshake with a
    response of its own (uvicorn can), else the plain refusal (403)."""
    if "websocket.http.response" not in (scope.get("extensions") or {}):
        await WebsocketDenier()(scope, receive, send)
        return
    with translation.override(scope["language"]):
        detail = _("This API token is not valid: it may have been revoked.")
    await receive()  # websocket.connect
    body = json.dumps({"error": {"code": "unauthorized", "detail": detail}}).encode()
    await send(
        {
            "type": "websocket.http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"www-authenticate", b'Bearer error="invalid_token"'),
            ],
        }
    )
    await send({"type": "websocket.http.response.body", "body": body})


class Sessions:
    """What a session's socket adds to its scope: `session` and `user` (AnonymousUser
    when signed out)."""

    def __init__(self) -> None:
        self.session_store = import_module(settings.SESSION_ENGINE).SessionStore

    async def scope(self, cookies: dict[str, str]) -> dict:
        """`session` and `user` for a handshake with these cookies."""
        session_key = cookies.get(settings.SESSION_COOKIE_NAME)
        key, user = await reads().read(("session", session_key), self._user, session_key)
        return {"session": self.session_store(key), "user": user}

    def _user(self, session_key: str | None):
        """In the database thread: the session's key once read (None if it was flushed:
        its user's password changed) and its user, as Django's own `get_user` decides."""
        session = self.session_store(session_key)
        user = auth.get_user(SimpleNamespace(session=session))
        return session.session_key, user
