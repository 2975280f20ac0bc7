"""A Parley bot that answers `@<its name> ping` with `pong`, in every room it is in.

Make the bot on the Bots page (or `POST /api/bots/`), add it to rooms as you would a
person, then run, with the token the page showed you:

    PARLEY_URL=http://127.0.0.1:8000 PARLEY_TOKEN=parley_... python examples/pingbot.py

It hears messages on its own WebSocket (`/ws/`, the token in an `Authorization: Bearer`
header) and answers through the JSON API with the same token. It needs only Python and
the `websockets` package; docs/protocol.md describes the frames and endpoints.
"""

import asyncio
import json
import os
import re
import urllib.request
import uuid

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

RETRY_SECONDS = 3
LOGGED_OUT = 4401  # the token was revoked: trying again is of no use
UNAUTHORIZED = 401


def post(base: str, token: str, path: str, data: dict) -> dict:
    """One JSON API call as the bot."""
    request = urllib.request.Request(  # noqa: S310 (main() admits http and https only)
        base + path,
        data=json.dumps(data).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return json.load(response)


async def answer_pings(base: str, token: str) -> None:
    """Listen on the bot's socket and answer each ping in its room, as a reply to it."""
    ws_url = re.sub(r"^http", "ws", base) + "/ws/"
    headers = {"Authorization": f"Bearer {token}"}
    async with connect(ws_url, additional_headers=headers) as socket:
        me = None
        async for text in socket:
            frame = json.loads(text)
            if frame["type"] == "hello":
                me = frame["user"]
                ping = re.compile(rf"@{re.escape(me['username'])}\s+ping\b", re.IGNORECASE)
                print(f"listening as @{me['username']}", flush=True)
            elif frame["type"] == "message" and me is not None:
                message = frame["message"]
                if message["author"]["id"] != me["id"] and ping.search(message["body"]):
                    reply = {
                        "body": "pong",
                        "reply_to": message["id"],
                        "thread_root": message["thread_root"],  # in its thread, if in one
                        "client_msg_id": str(uuid.uuid4()),
                    }
                    path = f"/api/rooms/{message['room']}/messages"
                    await asyncio.to_thread(post, base, token, path, reply)


async def main() -> None:
    base = os.environ.get("PARLEY_URL", "http://127.0.0.1:8000").rstrip("/")
    token = os.environ["PARLEY_TOKEN"]
    if not base.startswith(("http://", "https://")):
        raise SystemExit("PARLEY_URL must start with http:// or https://")
    while True:
        try:
            await answer_pings(base, token)
        except ConnectionClosed as closed:
            if closed.rcvd is not None and closed.rcvd.code == LOGGED_OUT:
                raise SystemExit("the token was revoked") from None
        except InvalidStatus as refused:
            if refused.response.status_code == UNAUTHORIZED:
                raise SystemExit("the token is not valid (revoked?)") from None
            print(f"the server refused the socket: {refused}", flush=True)
        except OSError as error:
            print(f"cannot reach {base}: {error}", flush=True)
        await asyncio.sleep(RETRY_SECONDS)


if __name__ == "__main__":
    asyncio.run(main())
