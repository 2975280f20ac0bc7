"""Authentication for the WebSocket, read once at the handshake: by an API token, or by
the session.

A handshake with `Authorization: Bearer <token>` (a program's: a browser cannot set that
header) is the token's user (accounts.tokens), whatever cookie came with it, and skips
the Origin allow-list: the allow-list keeps other sites' pages from riding a browser's
cookie, and a token is no cookie. A bad token is refused with 401 and a JSON error,
never tried as a session. Every other handshake goes the session's way: Origin check,
cookies, session.

Channels' SessionMiddleware wraps `send` so that a session changed during the
connection is saved with an outgoing message. A Parley socket never changes the
session, and that wrapper would sit on the path of every frame the hub delivers.
SessionAuthMiddleware loads the session and its user at connect and passes `send` on
untouched.
"""

import json
from importlib import import_module

from channels.auth import get_user
from channels.db import database_sync_to_async
from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from accounts import tokens

from ..i18n import language_from_scope


class SessionAuthMiddleware:
    """Put `session` and `user` (AnonymousUser when signed out) in the scope."""

    def __init__(self, application):
        self.application = application
        self.session_store = import_module(settings.SESSION_ENGINE).SessionStore

    async def __call__(self, scope, receive, send):
        session_key = scope.get("cookies", {}).get(settings.SESSION_COOKIE_NAME)
        scope = dict(scope, session=self.session_store(session_key))
        scope["user"] = await get_user(scope)
        return await self.application(scope, receive, send)


def _authorization(scope: dict) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            return value.decode("latin-1")
    return None


async def _refuse(scope: dict, receive, send, detail: str) -> None:
    """A 401 with the API's JSON error where the server can answer a handshake with a
    response of its own (uvicorn can), else the plain refusal (403)."""
    if "websocket.http.response" not in (scope.get("extensions") or {}):
        await WebsocketDenier()(scope, receive, send)
        return
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


class TokenAuthMiddleware:
    """A bearer handshake to `application` as the token's user (`user` and `token_id` in
    the scope); any other to `sessions` (the Origin check and session stack)."""

    def __init__(self, application, *, sessions):
        self.application = application
        self.sessions = sessions

    async def __call__(self, scope, receive, send):
        secret = tokens.bearer_secret(_authorization(scope) or "")
        if secret is None:
            return await self.sessions(scope, receive, send)
        token = await database_sync_to_async(tokens.authenticate)(secret)
        if token is None:
            with translation.override(language_from_scope(scope)):
                detail = _("This API token is not valid: it may have been revoked.")
            return await _refuse(scope, receive, send, detail)
        scope = dict(scope, user=token.user, token_id=token.pk)
        return await self.application(scope, receive, send)
