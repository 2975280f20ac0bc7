"""Session authentication for the WebSocket, read once at the handshake.

Channels' SessionMiddleware wraps `send` so that a session changed during the
connection is saved with an outgoing message. A Parley socket never changes the
session, and that wrapper would sit on the path of every frame the hub delivers.
This middleware loads the session and its user at connect and passes `send` on
untouched. The tabs of one browser share their session cookie and, after a worker
died, connect again together: the handshakes waiting for the database read each
session once (chat.realtime.shared).
"""

import copy
from importlib import import_module
from types import SimpleNamespace

from django.conf import settings
from django.contrib import auth

from .shared import reads


class SessionAuthMiddleware:
    """Put `session` and `user` (AnonymousUser when signed out) in the scope."""

    def __init__(self, application):
        self.application = application
        self.session_store = import_module(settings.SESSION_ENGINE).SessionStore

    async def __call__(self, scope, receive, send):
        session_key = scope.get("cookies", {}).get(settings.SESSION_COOKIE_NAME)
        key, user = await reads().read(("session", session_key), self._user, session_key)
        # Each socket its own copies: nothing one tab's consumer does to them reaches another.
        scope = dict(scope, session=self.session_store(key), user=copy.copy(user))
        return await self.application(scope, receive, send)

    def _user(self, session_key: str | None):
        """In the database thread: the session's key once read (None if it was flushed:
        its user's password changed) and its user, as Django's own `get_user` decides."""
        session = self.session_store(session_key)
        user = auth.get_user(SimpleNamespace(session=session))
        return session.session_key, user
