"""A two-process test: two real uvicorn servers share PostgreSQL and Redis.

Each server holds its own sockets; only Redis pub/sub carries a message sent
on one process to a socket on the other. Both servers use the test
database that pytest-django created (so they see the users and sessions the
test commits) and a private Redis channel prefix.

Runs in the PostgreSQL CI run only (deselected otherwise, see conftest.py): an
in-memory SQLite database cannot be shared between processes.
"""

import asyncio
import urllib.error
import urllib.request
import uuid
from contextlib import AsyncExitStack, ExitStack
from urllib.parse import quote

import pytest
from channels.db import database_sync_to_async
from django.conf import settings

from chat.models import Message, Room
from tests.factories import RoomFactory, UserFactory
from tests.support import (
    FRAME_TIMEOUT,
    Peer,
    ServerProcess,
    free_port,
    is_ack,
    is_live,
    open_peer,
    parley_command,
    shared_env,
    start_server,
)
from tests.wsclient import session_cookie

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]

IDLE_SECONDS = 7  # longer than redis-py 8's default 5 s socket timeout
PROMPT = 1.0  # how soon a live message must arrive after the pause


@pytest.fixture
def servers(transactional_db, redis_url, tmp_path):
    """Two uvicorn processes on free loopback ports; always terminated afterwards.

    Depends on transactional_db so that it is torn down first: the servers'
    database sessions must be gone before the test database is flushed.
    """
    with ExitStack() as stack:
        started = []
        for name in ("server-a", "server-b"):  # both start, then both are waited for
            port = free_port()
            server = start_server(
                parley_command(port),
                name=name,
                port=port,
                env=shared_env(port, redis_url),
                log=tmp_path / f"{name}.log",
            )
            stack.callback(server.stop)
            started.append(server)
        for server in started:
            server.wait_ready()
        yield started


@database_sync_to_async
def stored(room_id: int) -> tuple[list[tuple[int, str]], int]:
    rows = list(
        Message.objects.filter(room_id=room_id).order_by("seq").values_list("seq", "client_msg_id")
    )
    return [(seq, str(cid)) for seq, cid in rows], Room.objects.get(pk=room_id).last_seq


class Conversation:
    """alice on server A and bob on server B, both members of one room."""

    def __init__(self, room_id: int, on_a: Peer, on_b: Peer):
        self.room_id = room_id
        self.on_a = on_a
        self.on_b = on_b
        self.sent: list[str] = []  # client_msg_ids, in the order sent

    async def send(
        self, sender: Peer, receiver: Peer, body: str, within: float = FRAME_TIMEOUT
    ) -> dict:
        """Send; the sender gets the ack (its message), the other side the message live
        `within` s."""
        client_msg_id = str(uuid.uuid4())
        self.sent.append(client_msg_id)
        await sender.send(
            {"type": "send", "room": self.room_id, "body": body, "client_msg_id": client_msg_id}
        )
        ack = await sender.wait_for(is_ack(client_msg_id), f"ack of {body!r}")
        live = await receiver.wait_for(is_live(client_msg_id), f"live {body!r}", within)
        assert live["message"] == ack["message"]
        return ack["message"]

    async def check_seqs(self) -> None:
        count = len(self.sent)
        for peer in (self.on_a, self.on_b):
            # Each seq once: its own sends in their acks, the other side's live.
            held = peer.of_type("message") + peer.of_type("ack")
            seqs = sorted(f["message"]["seq"] for f in held)
            assert seqs == list(range(1, count + 1)), f"{peer.name} heard seqs {seqs}"
            assert peer.of_type("error") == [], peer.of_type("error")
        rows, last_seq = await stored(self.room_id)
        assert [seq for seq, _ in rows] == list(range(1, count + 1))
        assert {cid for _, cid in rows} == set(self.sent)
        assert last_seq == count


async def converse(servers, scenario) -> None:
    """Run scenario(conversation) with alice on server A and bob on server B.

    Any failure is re-raised as a fresh AssertionError carrying the servers'
    stderr and no chained traceback: on Python 3.13.0 pytest can segfault
    formatting a traceback that runs through finished generator frames
    (websockets' parser).
    """
    server_a, server_b = servers
    alice = await database_sync_to_async(UserFactory)(username="alice")
    bob = await database_sync_to_async(UserFactory)(username="bob")
    room = await database_sync_to_async(RoomFactory)(name="across", members=[alice, bob])
    failure = None
    try:
        async with AsyncExitStack() as stack:
            on_a = await open_peer(stack, "alice@a", server_a, alice)
            on_b = await open_peer(stack, "bob@b", server_b, bob)
            for peer in (on_a, on_b):
                hello = await peer.wait_for(lambda f: f["type"] == "hello", "hello")
                assert [r["id"] for r in hello["rooms"]] == [room.pk]
            await scenario(Conversation(room.pk, on_a, on_b))
    except Exception as exc:
        failure = f"{type(exc).__name__}: {exc}"
    if failure is not None:
        raise AssertionError("\n".join([failure, *(s.log_tail() for s in servers)]))


async def test_a_message_sent_on_one_process_reaches_a_socket_on_the_other_live(servers):
    async def scenario(talk: Conversation) -> None:
        for turn in range(3):  # turn by turn, both directions
            await talk.send(talk.on_a, talk.on_b, f"a to b {turn}")
            await talk.send(talk.on_b, talk.on_a, f"b to a {turn}")
        await asyncio.gather(  # both at once
            *(talk.send(talk.on_a, talk.on_b, f"a burst {i}") for i in range(4)),
            *(talk.send(talk.on_b, talk.on_a, f"b burst {i}") for i in range(4)),
        )
        await talk.check_seqs()

    await converse(servers, scenario)


async def test_a_socket_idle_longer_than_the_redis_poll_keeps_hearing_the_other_process(
    servers,
):
    """Sockets that hear nothing for a while stay open, hear the next message at
    once, and the idle servers log no error.

    A pub/sub subscriber waits on its connection with no timeout of its own; a
    socket timeout on that connection (redis-py 8 gives each connection 5 s by
    default) would fail an idle read with redis.exceptions.TimeoutError, and the
    hub would delay and log before it heard the next message.
    """

    async def scenario(talk: Conversation) -> None:
        await talk.send(talk.on_a, talk.on_b, "before the pause")
        await asyncio.sleep(IDLE_SECONDS)
        for peer in (talk.on_a, talk.on_b):
            assert not peer.reader.done(), f"{peer.name}'s socket ended: {peer.closed}"
        await talk.send(talk.on_a, talk.on_b, "after the pause", within=PROMPT)
        await talk.send(talk.on_b, talk.on_a, "and back", within=PROMPT)
        await talk.check_seqs()

    await converse(servers, scenario)
    for server in servers:
        assert "Traceback" not in server.log.read_text(errors="replace"), (
            f"{server.name} logged an error while idle\n{server.log_tail()}"
        )


def log_out_over_http(server: ServerProcess, cookie: str) -> int:
    """POST the logout form on `server` as the browser holding `cookie` would."""
    opener = urllib.request.build_opener()
    opener.addheaders = [("Cookie", cookie)]
    with opener.open(f"http://127.0.0.1:{server.port}/accounts/login/", timeout=5) as page:
        token = page.headers.get_all("Set-Cookie")
    csrf = next(c.split(";")[0].split("=", 1)[1] for c in token if c.startswith("csrftoken="))
    request = urllib.request.Request(
        f"http://127.0.0.1:{server.port}/accounts/logout/",
        data=f"csrfmiddlewaretoken={quote(csrf)}".encode(),
        headers={
            "Cookie": f"{cookie}; csrftoken={csrf}",
            "Content-Type": "application/x-www-form-urlencoded",
            "Origin": server.origin,
        },
    )
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=5) as answer:
            return answer.status
    except urllib.error.HTTPError as answer:
        return answer.code


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


async def test_logging_out_on_one_process_closes_the_sessions_socket_on_the_other(servers):
    """Within 2 s, with 4401 ("log in again"); the user's other session stays open."""
    server_a, server_b = servers
    ada = await database_sync_to_async(UserFactory)(username="ada")
    failure = None
    try:
        async with AsyncExitStack() as stack:
            cookie = f"{settings.SESSION_COOKIE_NAME}={await session_cookie(ada)}"
            leaving = await open_peer(stack, "ada@b", server_b, ada, cookie=cookie)
            staying = await open_peer(stack, "ada-elsewhere@b", server_b, ada)
            for peer in (leaving, staying):
                await peer.wait_for(lambda f: f["type"] == "hello", "hello")
            status = await asyncio.to_thread(log_out_over_http, server_a, cookie)
            assert status == 302, f"logout answered {status}"
            await asyncio.wait_for(asyncio.shield(leaving.reader), 2)
            assert "4401" in (leaving.closed or ""), leaving.closed
            await staying.send({"type": "ping"})
            await staying.wait_for(lambda f: f["type"] == "pong", "pong")
    except Exception as exc:
        failure = f"{type(exc).__name__}: {exc}"
    if failure is not None:
        raise AssertionError("\n".join([failure, *(s.log_tail() for s in servers)]))


def revoke_over_http(server: ServerProcess, token_id: int, secret: str) -> int:
    """DELETE /api/tokens/<id> on `server`, authenticated by the token `secret`."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{server.port}/api/tokens/{token_id}",
        headers={"Authorization": f"Bearer {secret}"},
        method="DELETE",
    )
    with urllib.request.build_opener().open(request, timeout=5) as answer:
        return answer.status


async def test_revoking_a_token_on_one_process_closes_its_socket_on_the_other(servers):
    """Within 5 s, with 4401; a socket of the user's other token stays open."""
    from accounts import tokens

    server_a, server_b = servers
    ada = await database_sync_to_async(UserFactory)(username="ada")
    revoked, revoked_secret = await database_sync_to_async(tokens.make_token)(ada, name="a")
    _kept, kept_secret = await database_sync_to_async(tokens.make_token)(ada, name="b")
    failure = None
    try:
        async with AsyncExitStack() as stack:
            doomed = await open_peer(stack, "ada-token@b", server_b, None, token=revoked_secret)
            kept = await open_peer(stack, "ada-other-token@b", server_b, None, token=kept_secret)
            for peer in (doomed, kept):
                await peer.wait_for(lambda f: f["type"] == "hello", "hello")
            status = await asyncio.to_thread(revoke_over_http, server_a, revoked.pk, kept_secret)
            assert status == 200, f"revoking answered {status}"
            await asyncio.wait_for(asyncio.shield(doomed.reader), 5)
            assert doomed.close_code == 4401, doomed.closed
            await kept.send({"type": "ping"})
            await kept.wait_for(lambda f: f["type"] == "pong", "pong")
    except Exception as exc:
        failure = f"{type(exc).__name__}: {exc}"
    if failure is not None:
        raise AssertionError("\n".join([failure, *(s.log_tail() for s in servers)]))
