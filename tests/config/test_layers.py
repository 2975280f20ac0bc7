"""config.layers: the router and the proxy-headers layer hand back their app's own
coroutine (no frame of theirs per socket), do what Channels' and uvicorn's do, and are
taken for ASGI 3 applications by uvicorn and asgiref."""

import inspect

import pytest
import uvicorn
from asgiref.compatibility import is_double_callable
from uvicorn import config as uvicorn_config

from config.layers import ByScopeType, ProxyHeaders


async def app(scope, receive, send):
    return scope


def _websocket_scope(client: str, headers: list[tuple[bytes, bytes]]) -> dict:
    return {"type": "websocket", "client": (client, 50000), "scheme": "ws", "headers": headers}


def _run(coroutine):
    """The value of a coroutine that never suspends, as the app above."""
    with pytest.raises(StopIteration) as stopped:
        coroutine.send(None)
    return stopped.value.value


def test_the_router_returns_the_scope_types_own_coroutine():
    router = ByScopeType({"websocket": app})
    scope = {"type": "websocket"}
    coroutine = router(scope, None, None)
    assert inspect.iscoroutine(coroutine) and coroutine.cr_code is app.__code__
    assert _run(coroutine) is scope


def test_the_router_refuses_a_scope_type_it_has_no_application_for():
    with pytest.raises(ValueError, match="No application configured for scope type 'http'"):
        ByScopeType({"websocket": app})({"type": "http"}, None, None)


def test_a_trusted_proxys_forwarded_headers_rewrite_the_scope_before_the_app_runs():
    layer = ProxyHeaders(app, trusted_hosts="127.0.0.1")
    headers = [(b"x-forwarded-for", b"203.0.113.7"), (b"x-forwarded-proto", b"https")]
    scope = _websocket_scope("127.0.0.1", headers)
    coroutine = layer(scope, None, None)
    assert scope["client"] == ("203.0.113.7", 0) and scope["scheme"] == "wss"
    assert coroutine.cr_code is app.__code__  # the app's own: no frame of the layer's
    assert _run(coroutine) is scope


def test_an_untrusted_peers_forwarded_headers_change_nothing():
    layer = ProxyHeaders(app, trusted_hosts="127.0.0.1")
    scope = _websocket_scope("198.51.100.2", [(b"x-forwarded-for", b"203.0.113.7")])
    _run(layer(scope, None, None))
    assert scope["client"] == ("198.51.100.2", 50000) and scope["scheme"] == "ws"


def test_both_are_asgi_3_applications_to_uvicorn_and_asgiref(monkeypatch):
    router = ByScopeType({"websocket": app})
    assert not is_double_callable(router)
    assert not is_double_callable(ProxyHeaders(router))
    # What config.serve does: uvicorn's --proxy-headers then wraps the app in this layer.
    monkeypatch.setattr(uvicorn_config, "ProxyHeadersMiddleware", ProxyHeaders)
    config = uvicorn.Config(router, proxy_headers=True, forwarded_allow_ips="127.0.0.1")
    config.load()
    assert config.interface == "asgi3"
    assert isinstance(config.loaded_app, ProxyHeaders) and config.loaded_app.inner is router
