"""Log lines that say nothing an operator acts on, at a cost the busy moments pay.

uvicorn logs every accepted WebSocket at INFO, twice (its own line, and the websockets
library's "connection open" on uvicorn's logger): after a deploy a thousand tabs come
back at once and that is two thousand lines, about a twentieth of the server's CPU for
the storm (docs/performance.md, "The reconnect storm"). Refused handshakes (403 and
other statuses) are still logged: they are what an operator looks for.
"""

import logging

# The format strings of the two lines (uvicorn's websockets-sansio protocol; websockets'
# ServerProtocol), as they are logged: the filter compares them before formatting.
ACCEPTED_SOCKET = '%s - "WebSocket %s" [accepted]'
CONNECTION_OPEN = "connection open"


class WithoutAcceptedSockets(logging.Filter):
    """Drops the lines for each accepted WebSocket; passes every other record."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.msg not in (ACCEPTED_SOCKET, CONNECTION_OPEN)
