"""The WebSocket's one ASGI layer in front of its consumer: who it is, whether it may
open, and which consumer serves its path.

One layer rather than a stack of middlewares (a token's, the Origin check, the
session's, Channels' URLRouter) because every layer's coroutine frame and every copy of
the scope it makes live as long as the socket: this one keeps one frame and adds `user`
and `language` (and `session`, or `token_id`) to the server's scope in place, no copy:
the server (uvicorn) reads only its client and path of it before the socket is accepted,
and nothing once it is.

In order: a bearer handshake is the token's user and skips the Origin check
(chat.realtime.auth says why), a bad token refused with 401; any other must come from
an allowed Origin (chat.realtime.origin, else refused with 403) and is the session's
user (AnonymousUser when signed out: the consumer closes it). A path with no consumer
raises ValueError, as URLRouter does.

What the socket needs of the handshake's headers (the token, the Origin, the cookies,
the language) is read before the first wait, and the headers are let go then: in a
reconnect storm hundreds of handshakes wait for the database at once, and each held
its headers (≈ 1 KiB) through the wait, memory that then stayed with the process
(docs/performance.md, "What a connecting socket holds").
"""

from channels.security.websocket import WebsocketDenier

from ..i18n import language_from_handshake
from .auth import Sessions, bearer_secret, handshake_cookies, refuse_token, token_scope
from .origin import handshake_origin_allowed


class SocketEntry:
    """An ASGI application for `websocket` scopes: `routes` maps a path, without the
    root path and leading slashes, to its consumer class."""

    def __init__(self, routes: dict[str, type]) -> None:
        self.routes = routes
        self.sessions = Sessions()

    async def __call__(self, scope, receive, send):
        if await self._admit(scope, receive, send):
            consumer = self._consumer(scope)
            await consumer()(scope, receive, send)

    async def _admit(self, scope: dict, receive, send) -> bool:
        """Adds who it is and its `language` to the scope; False once the handshake has
        been refused."""
        secret = bearer_secret(scope)
        if secret is None and not handshake_origin_allowed(scope):
            await WebsocketDenier()(scope, receive, send)
            return False
        # A token's socket takes no cookie: not its session, nor its language.
        cookies = handshake_cookies(scope) if secret is None else {}
        scope["language"] = language_from_handshake(scope["headers"], cookies)
        scope["headers"] = []  # all read: not held while waiting (the module's docstring)
        if secret is not None:
            added = await token_scope(secret)
            if added is None:
                await refuse_token(scope, receive, send)
                return False
        else:
            added = await self.sessions.scope(cookies)
        scope.update(added)
        return True

    def _consumer(self, scope: dict) -> type:
        path = scope["path"]
        root_path = scope.get("root_path", "")
        if root_path and not path.startswith(root_path):
            raise ValueError(f"No route found for path {path!r}.")
        consumer = self.routes.get(path[len(root_path) :].lstrip("/"))
        if consumer is None:
            raise ValueError(f"No route found for path {path!r}.")
        return consumer
