"""uvicorn's httptools HTTP protocol, let go of as soon as it hands a socket over.

`config.serve` runs uvicorn with this class (`--http config.httpprotocol:HttpProtocol`).
Every WebSocket starts as an HTTP request: uvicorn's `HttpToolsProtocol` parses it and,
on the upgrade, hands the transport to the WebSocket protocol. Its parser holds the
protocol and the protocol its parser, and uvicorn breaks that cycle when a connection is
lost but not when it is handed over, so every upgraded socket left its HTTP protocol
(≈ 2.8 KiB: the parser, the request's headers, the flow control) for the cycle
collector. In a reconnect storm hundreds waited for it at once, and the memory they
held stayed with the process (docs/performance.md, "What a connecting socket holds").
Here the cycle is broken at the handover, so the protocol is freed there when the
upgrade is the connection's first request, as a browser's is (after a kept-alive
request, that request's cycle object still points back at it until collected).

tests/config/test_httpprotocol.py runs a real uvicorn with it and checks that.
"""

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, freed when its socket is upgraded."""

    def handle_websocket_upgrade(self) -> None:
        super().handle_websocket_upgrade()
        self.parser = None  # type: ignore[assignment]  # as uvicorn's connection_lost does
