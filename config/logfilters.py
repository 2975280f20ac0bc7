"""Log lines that say nothing an operator acts on, at a cost the busy moments pay.

Each accepted WebSocket is logged twice at INFO: uvicorn's line, with the client's
address (what an operator follows a socket by, behind a proxy too), and the websockets
library's "connection open" on uvicorn's logger, with nothing in it. After a deploy a
thousand tabs come back at once; the second line is dropped (docs/performance.md, "The
reconnect storm"). Refused handshakes are logged as before.
"""

import logging

# The websockets library's line, as it is logged: compared before any formatting.
CONNECTION_OPEN = "connection open"


class WithoutConnectionOpen(logging.Filter):
    """Drops the websockets library's "connection open"; passes every other record."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.msg != CONNECTION_OPEN
