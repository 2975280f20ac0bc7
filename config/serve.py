"""The server command: uvicorn with the options Parley is built and measured for.

    python -m config.serve --host 127.0.0.1 --port 8000 [any other uvicorn option]

uvloop and httptools (config/httpprotocol.py: freed when a socket upgrades); uvicorn's
sans-I/O websockets protocol (config/wsprotocol.py: lighter per socket), which lets the hub
write each event's frame straight to every connection (chat/realtime/framewriter.py); no
permessage-deflate, so that frame is the same bytes for every socket (chat
frames are small, and compressing each one once per recipient costs more CPU
than it saves bytes); no access log; uvicorn's `--proxy-headers` middleware as a
layer that keeps no frame per socket (config/layers.py).

Stopping (SIGTERM, or Ctrl-C): uvicorn stops accepting, closes every socket with
1012 (service restart: clients reconnect at once), waits up to 10 s for HTTP
requests and frames in flight, then runs the lifespan shutdown
(chat/realtime/lifespan.py): queued events are published and Redis let go.
"""

import sys

from uvicorn import config as uvicorn_config
from uvicorn.main import main as uvicorn

from config.layers import ProxyHeaders

OPTIONS = [
    "config.asgi:application",
    "--loop", "uvloop",
    "--http", "config.httpprotocol:HttpProtocol",
    "--ws", "config.wsprotocol:WebSocketProtocol",
    "--ws-per-message-deflate", "false",
    "--lifespan", "on",
    "--timeout-graceful-shutdown", "10",
    "--no-access-log",
]  # fmt: skip

if __name__ == "__main__":
    # --proxy-headers wraps the app in this subclass of uvicorn's middleware, which keeps
    # no frame for each socket's life (config/layers.py). uvicorn's own --workers start
    # fresh interpreters that use uvicorn's class: the same rewrite, a frame more a socket
    # (make cluster runs a config.serve per worker instead).
    uvicorn_config.ProxyHeadersMiddleware = ProxyHeaders
    uvicorn(args=OPTIONS + sys.argv[1:], prog_name="python -m config.serve")
