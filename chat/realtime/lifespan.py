"""The server's lifespan (ASGI): at shutdown, what the sockets left behind is let go.

On SIGTERM uvicorn stops accepting, closes every socket with 1012 (service restart:
the client reconnects at once, to another worker behind the proxy), lets each
socket's consumer finish the frame it was answering (a send in flight commits;
its client's resend with the same client_msg_id then gets the stored message) and
check out of presence, and waits for HTTP requests in flight. Then this runs:
events those last commits queued are published, so other workers' sockets hear
them live, and the hub's Redis connections are closed.
"""

import logging

from .hub import Hub

logger = logging.getLogger(__name__)


async def lifespan(scope, receive, send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            try:
                await Hub.shut_down()
            except Exception:
                logger.exception("the hub did not shut down cleanly")
            await send({"type": "lifespan.shutdown.complete"})
            return
