"""The ceiling: a bare broadcaster speaking Parley's frames, to rate everything else against.

No framework, no database, no channel layer, no auth: the websockets library's server on
uvloop, one room holding every connection, one JSON encode per message and websockets'
broadcast() to write it. Whatever a real chat server adds costs something on top of this,
so `x / ceiling` measured in the same run is a fair, machine-independent figure.

    python -m bench.ceiling --port 8765

It answers `send` with `ack` to the sender and `message` to everyone (sender included),
`ping` with `pong`, and sends a `hello` first, like Parley. GET /healthz answers "ok".
"""

import argparse
import asyncio
import itertools
import json
from datetime import UTC, datetime
from http import HTTPStatus

import uvloop
from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

ROOM_ID = 1


def encode(frame: dict) -> str:
    """Parley's encoding (chat.protocol.frames.encode), so frames are byte-for-byte alike."""
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))


class Room:
    """Every open connection, and the per-room message counter."""

    def __init__(self) -> None:
        self.members: set[ServerConnection] = set()
        self.ids = itertools.count(1)

    async def handler(self, ws: ServerConnection) -> None:
        user = {"id": id(ws) % 10**9, "username": "bench", "display_name": "bench"}
        await ws.send(encode({"type": "hello", "user": user, "rooms": []}))
        self.members.add(ws)
        try:
            async for text in ws:
                await self.receive(ws, user, text)
        except ConnectionClosed:
            pass  # a client that drops without a closing handshake is normal here
        finally:
            self.members.discard(ws)

    async def receive(self, ws: ServerConnection, user: dict, text: str | bytes) -> None:
        frame = json.loads(text)
        if frame.get("type") == "ping":
            await ws.send('{"type":"pong"}')
            return
        seq = next(self.ids)
        message = {
            "id": seq,
            "room": ROOM_ID,
            "seq": seq,
            "author": user,
            "body": frame["body"],
            "created_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "client_msg_id": frame["client_msg_id"],
        }
        broadcast(self.members, encode({"type": "message", "message": message}))
        await ws.send(
            encode({"type": "ack", "client_msg_id": frame["client_msg_id"], "message": message})
        )


def healthz(connection: ServerConnection, request: Request) -> Response | None:
    if request.path == "/healthz":
        return connection.respond(HTTPStatus.OK, "ok")
    return None


async def main(host: str, port: int) -> None:
    room = Room()
    async with serve(
        room.handler, host, port, compression=None, process_request=healthz, max_queue=None
    ) as server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    asyncio.run(main(args.host, args.port), loop_factory=uvloop.new_event_loop)
