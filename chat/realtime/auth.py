"""Session authentication for the WebSocket, read once at the handshake.

Channels' SessionMiddleware wraps `send` so that a session changed during the
connection is saved with an outgoing message. A Parley socket never changes the
session, and that wrapper would sit on the path of every frame the hub delivers.
This middleware loads the session and its user at connect and passes `send` on
untouched.
"""

from importlib import import_module

from channels.auth import get_user
from django.conf import settings


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
