"""The server command: uvicorn with the options Parley is built and measured for.

    python -m config.serve --host 127.0.0.1 --port 8000 [any other uvicorn option]

uvloop and httptools; uvicorn's sans-I/O websockets protocol, which lets the hub
write each event's frame straight to every connection (chat/realtime/framewriter.py); no
permessage-deflate, so that frame is the same bytes for every socket (chat
frames are small, and compressing each one once per recipient costs more CPU
than it saves bytes); no lifespan events (Django has none), no access log.
"""

import sys

from uvicorn.main import main as uvicorn

OPTIONS = [
    "config.asgi:application",
    "--loop", "uvloop",
    "--http", "httptools",
    "--ws", "websockets-sansio",
    "--ws-per-message-deflate", "false",
    "--lifespan", "off",
    "--no-access-log",
]  # fmt: skip

if __name__ == "__main__":
    uvicorn(args=OPTIONS + sys.argv[1:], prog_name="python -m config.serve")
