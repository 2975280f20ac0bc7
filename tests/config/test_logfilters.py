"""The lines logged for each accepted WebSocket are dropped (a storm of tabs would log two
each); refusals and everything else uvicorn says still reach the log."""

import logging
from pathlib import Path

import websockets.server
from uvicorn.protocols.websockets import websockets_sansio_impl

from config.logfilters import ACCEPTED_SOCKET, CONNECTION_OPEN


def test_the_libraries_still_log_the_lines_the_filter_knows():
    # An upgrade that changed a line would quietly bring it back: fail instead.
    assert repr(ACCEPTED_SOCKET) in Path(websockets_sansio_impl.__file__).read_text()
    assert f'.info("{CONNECTION_OPEN}")' in Path(websockets.server.__file__).read_text()


def test_accepted_sockets_are_dropped_and_refusals_kept(caplog):
    uvicorn = logging.getLogger("uvicorn.error")
    with caplog.at_level(logging.INFO):
        uvicorn.info(ACCEPTED_SOCKET, "127.0.0.1:50000", "/ws/")
        uvicorn.info(CONNECTION_OPEN)
        uvicorn.info('%s - "WebSocket %s" 403', "127.0.0.1:50001", "/ws/")
        uvicorn.info("connection rejected (%d %s)", 403, "Forbidden")
        uvicorn.info("Application startup complete.")
    assert caplog.messages == [
        '127.0.0.1:50001 - "WebSocket /ws/" 403',
        "connection rejected (403 Forbidden)",
        "Application startup complete.",
    ]
