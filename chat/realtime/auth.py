"""Session authentication for the WebSocket, read once at the handshake.

Channels' SessionMiddleware wraps `send` so that a session changed during the
connection is saved with an outgoing message. A Parley socket never changes the
session, and that wrapper would sit on the path of every frame the hub delivers.
This middleware reads the cookies, loads the session and its user at connect and
passes `send` on untouched; the scope is copied once (a socket's scope and every
middleware's copy live as long as it does). The tabs of one browser share their
session cookie and, after a worker died, connect again together: the handshakes
waiting for the database read each session once (chat.realtime.shared), and share
the user read (a socket never changes its user).
"""

from importlib import import_module
from types import SimpleNamespace

from django.conf import settings
from django.contrib import auth
from django.http.cookie import parse_cookie

from .shared import reads


class SessionAuthMiddleware:
    """Put `cookies`, `session` and `user` (AnonymousUser when signed out) in the scope."""

    def __init__(self, application):
        self.application = application
        self.session_store = import_module(settings.SESSION_ENGINE).SessionStore

    async def __call__(self, scope, receive, send):
        cookies = {}
        for name, value in scope.get("headers", ()):
            if name == b"cookie":
                cookies = parse_cookie(value.decode("latin1"))
                break
        session_key = cookies.get(settings.SESSION_COOKIE_NAME)
        key, user = await reads().read(("session", session_key), self._user, session_key)
        scope = dict(scope, cookies=cookies, session=self.session_store(key), user=user)
        return await self.application(scope, receive, send)

    def _user(self, session_key: str | None):
        """In the database thread: the session's key once read (None if it was flushed:
        its user's password changed) and its user, as Django's own `get_user` decides."""
        session = self.session_store(session_key)
        user = auth.get_user(SimpleNamespace(session=session))
        return session.session_key, user
