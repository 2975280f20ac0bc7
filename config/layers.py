"""ASGI layers that hand back their app's coroutine instead of awaiting it.

A layer written as `async def __call__(...): return await app(...)` keeps its frame
(≈ 0.25 KiB) for as long as its app runs, which for a WebSocket is the socket's life.
These do their work before the app starts and return the app's own awaitable, so a
socket holds no frame of theirs.
"""

import inspect
from typing import Any

from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware


class ByScopeType:
    """Channels' ProtocolTypeRouter: the application for the scope's type."""

    def __init__(self, applications: dict[str, Any]) -> None:
        self.applications = applications

    def __call__(self, scope, receive, send):
        application = self.applications.get(scope["type"])
        if application is None:
            raise ValueError(f"No application configured for scope type {scope['type']!r}")
        return application(scope, receive, send)

    # A coroutine function's mark: what uvicorn and asgiref look at to tell an ASGI 3
    # application (this, as it returns a coroutine) from an ASGI 2 one.
    __call__ = inspect.markcoroutinefunction(__call__)


async def _nothing(scope, receive, send) -> None:
    return None


class ProxyHeaders(ProxyHeadersMiddleware):
    """uvicorn's `--proxy-headers` middleware (X-Forwarded-For and -Proto from trusted
    proxies): its own code rewrites the scope, run to its end in place with an app that
    does nothing, and the real app's coroutine is returned. config.serve has uvicorn
    wrap its app with this rather than with uvicorn's class."""

    def __init__(self, app, trusted_hosts: list[str] | str = "127.0.0.1") -> None:
        super().__init__(_nothing, trusted_hosts)
        self.inner = app

    def __call__(self, scope, receive, send):
        rewriting = super().__call__(scope, receive, send)
        try:
            rewriting.send(None)
        except StopIteration:
            return self.inner(scope, receive, send)
        rewriting.close()
        raise RuntimeError("uvicorn's proxy-headers middleware waited on something else")

    __call__ = inspect.markcoroutinefunction(__call__)
