"""The websockets library's "connection open", logged for each accepted WebSocket beside
uvicorn's own line, is dropped; uvicorn's line (the client's address), refusals and
everything else still reach the log."""

import logging
from pathlib import Path

import websockets.server

from config.logfilters import CONNECTION_OPEN


def test_the_library_still_logs_the_line_the_filter_knows():
    # An upgrade that changed the line would quietly bring it back: fail instead.
    assert f'.info("{CONNECTION_OPEN}")' in Path(websockets.server.__file__).read_text()


def test_connection_open_is_dropped_and_the_rest_kept(caplog):
    uvicorn = logging.getLogger("uvicorn.error")
    with caplog.at_level(logging.INFO):
        uvicorn.info('%s - "WebSocket %s" [accepted]', "127.0.0.1:50000", "/ws/")
        uvicorn.info(CONNECTION_OPEN)
        uvicorn.info('%s - "WebSocket %s" 403', "127.0.0.1:50001", "/ws/")
        uvicorn.info("connection rejected (%d %s)", 403, "Forbidden")
        uvicorn.info("Application startup complete.")
    assert caplog.messages == [
        '127.0.0.1:50000 - "WebSocket /ws/" [accepted]',
        '127.0.0.1:50001 - "WebSocket /ws/" 403',
        "connection rejected (403 Forbidden)",
        "Application startup complete.",
    ]
