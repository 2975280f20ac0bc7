"""Several workers behind nginx on one port, as `make cluster` runs them (config/cluster.py,
deploy/nginx.conf.template), on PostgreSQL and Redis.

The workers and the proxy (the harness in tests/cluster.py) are started by tests/support's
starter on private loopback ports, each stopped by its pid afterwards; the workers use
the test database pytest-django created and a private Redis prefix (the `redis_url`
fixture). nginx must be installed (`make services`): without it these tests skip on a
developer machine and fail under CI=true. Runs in the PostgreSQL CI run only (deselected otherwise).
"""

import asyncio
import http.client
import json
import re
import signal
import socket
import sys
import time
import uuid
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
from channels.db import database_sync_to_async
from django.conf import settings

from tests.factories import RoomFactory, UserFactory
from tests.faults.cluster import (
    UPLOAD_MAX,
    Member,
    counts,
    live_sockets,
    people_in_rooms,
    request,
    settled,
    stored_messages,
    traffic_flowed,
)
from tests.support import (
    HOST,
    Peer,
    free_port,
    is_ack,
    is_live,
    make_certificates,
    open_peer,
    shared_env,
    start_server,
)
from tests.wsclient import session_cookie

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]

CLIENTS = 20
ROOMS = 4
SETTLE_SECONDS = 20.0


async def post_message(port: int, cookie: str, room_id: int, body: str) -> str:
    client_msg_id = str(uuid.uuid4())
    status, _headers, answer = await asyncio.to_thread(
        request,
        port,
        "POST",
        f"/api/rooms/{room_id}/messages",
        cookie=cookie,
        body=json.dumps({"body": body, "client_msg_id": client_msg_id}).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert status == 201, (status, answer)
    return client_msg_id


async def send_and_hear(sender: Peer, listeners: list[Peer], room_id: int, body: str) -> None:
    """The sender has its message in its ack; every listener hears it live."""
    client_msg_id = str(uuid.uuid4())
    await sender.send(
        {"type": "send", "room": room_id, "body": body, "client_msg_id": client_msg_id}
    )
    await sender.wait_for(is_ack(client_msg_id), f"the ack of {body!r}")
    for peer in listeners:
        await peer.wait_for(is_live(client_msg_id), f"{body!r} live")


async def test_two_users_on_two_workers_chat_through_the_proxys_one_port(cluster):
    """Over HTTP and WebSocket; least connections puts the second socket on the other
    worker; a worker stopping closes its socket with 1012, which reconnects through the
    same port to the worker still up and goes on chatting."""
    alice = await database_sync_to_async(UserFactory)(username="alice")
    bob = await database_sync_to_async(UserFactory)(username="bob")
    room = await database_sync_to_async(RoomFactory)(name="across", members=[alice, bob])
    cookies = {
        user.username: f"{settings.SESSION_COOKIE_NAME}={await session_cookie(user)}"
        for user in (alice, bob)
    }
    failure = None
    try:
        async with AsyncExitStack() as stack:
            status, _headers, page = await asyncio.to_thread(
                request, cluster.port, "GET", f"/rooms/{room.pk}/", cookie=cookies["alice"]
            )
            assert status == 200 and b"across" in page, status
            on_one = await open_peer(stack, "alice", cluster.proxy, alice)
            await on_one.wait_for(lambda f: f["type"] == "hello", "hello")
            on_other = await open_peer(stack, "bob", cluster.proxy, bob)
            await on_other.wait_for(lambda f: f["type"] == "hello", "hello")
            holding = cluster.holding()
            assert sorted(holding) == ["worker-a", "worker-b"], holding

            await send_and_hear(on_one, [on_other], room.pk, "from one worker")
            await send_and_hear(on_other, [on_one], room.pk, "from the other")
            over_http = await post_message(cluster.port, cookies["bob"], room.pk, "over HTTP")
            for peer in (on_one, on_other):
                await peer.wait_for(is_live(over_http), "the HTTP message live")

            # Bodies: over Parley's limit, its JSON answer; over the proxy's, nginx's.
            uploads = f"/api/rooms/{room.pk}/uploads"
            for size, answered_by in (
                (UPLOAD_MAX * 3 // 2, "parley"),
                (UPLOAD_MAX * 5 // 2, "nginx"),
            ):
                status, headers, _answer = await asyncio.to_thread(
                    request, cluster.port, "POST", uploads, cookie=cookies["alice"],
                    body=b"x" * size, headers={"Content-Type": "application/octet-stream"},
                )  # fmt: skip
                by = "parley" if headers["content-type"] == "application/json" else "nginx"
                assert (status, by) == (413, answered_by), (size, status, headers)

            [first] = [w for w in cluster.workers if w.name == holding[0]]
            await asyncio.to_thread(first.stop)
            assert first.process.returncode == -signal.SIGTERM, first.log_tail()
            await asyncio.wait_for(asyncio.shield(on_one.reader), 5)
            assert on_one.close_code == 1012, on_one.closed
            assert not on_other.reader.done(), on_other.closed
            back = await open_peer(stack, "alice again", cluster.proxy, alice)
            await back.wait_for(lambda f: f["type"] == "hello", "hello after 1012")
            await send_and_hear(back, [on_other], room.pk, "after the restart")
    except Exception as exc:  # no chained traceback through websockets' frames
        failure = f"{type(exc).__name__}: {exc}"
    if failure is not None:
        raise AssertionError(f"{failure}\n{cluster.tails()}")
    cluster.no_tracebacks()


async def test_a_rolling_restart_under_traffic_loses_and_doubles_nothing(
    cluster, redis_url, capsys
):
    """20 clients in 4 rooms send all along while each worker in turn gets SIGTERM and is
    started again. Every acked message is stored exactly once, every send is acked in the
    end, every client holds exactly what the database holds, and no worker logs a
    traceback or leaves a socket checked in to presence."""
    rooms_of = await database_sync_to_async(people_in_rooms)(CLIENTS, ROOMS)
    users = list(rooms_of)
    members = [
        Member(
            user.username,
            f"{settings.SESSION_COOKIE_NAME}={await session_cookie(user)}",
            rooms_of[user],
            cluster.port,
        )
        for user in users
    ]
    done, quiet = asyncio.Event(), asyncio.Event()
    timings: list[str] = []
    running = [asyncio.create_task(member.run(done)) for member in members]
    failure = None
    try:
        connected = await settled(lambda: all(m.socket is not None for m in members), 10)
        assert connected, "not every client connected"
        talking = [asyncio.create_task(member.talk(quiet)) for member in members]
        await traffic_flowed(members)  # through both workers
        for index in range(len(cluster.workers)):
            timings.append(
                f"{cluster.workers[index].name} {await asyncio.to_thread(cluster.restart, index)}"
            )
            await traffic_flowed(members)  # through the restarted worker too
        quiet.set()
        await asyncio.gather(*talking)
        began = time.monotonic()

        def everything_acked() -> bool:
            return all(not m.unacked and m.socket is not None for m in members)

        await settled(everything_acked, SETTLE_SECONDS)
        for member in members:
            await member.catch_up()
        stored = await stored_messages()

        def everyone_holds_it() -> bool:
            return all(m.held[room] == stored.get(room, {}) for m in members for room in m.rooms)

        await settled(everyone_holds_it, SETTLE_SECONDS)
        timings.append(f"settled in {time.monotonic() - began:.1f} s")
        # Each client's one socket now, and none of those the stopped workers held.
        checked_in = await asyncio.to_thread(live_sockets, *redis_url, [u.pk for u in users])
    except Exception as exc:
        failure = f"{type(exc).__name__}: {exc}"
    finally:
        done.set()
        await asyncio.gather(*running, return_exceptions=True)
    if failure is not None:
        raise AssertionError(f"{failure}\n{cluster.tails()}")

    figures = counts(members, stored)
    with capsys.disabled():
        print(
            f"\nrolling restart of {len(cluster.workers)} workers under traffic: {CLIENTS} "
            f"clients in {ROOMS} rooms; {figures}; "
            f"{sum(m.heard_again for m in members)} delivered live twice; {', '.join(timings)}"
        )
    assert (figures["lost"], figures["doubled"], figures["doubled in a view"]) == (0, 0, 0)
    assert [m.name for m in members if m.unacked] == [], "sends never acked"
    assert figures["acked"] == figures["sent"] == figures["stored"]
    assert [c for m in members for c in m.conflicts] == []
    assert [e for m in members for e in m.errors] == []
    for member in members:
        for room in member.rooms:
            assert member.held[room] == stored[room], f"{member.name} in room {room}"
    assert figures["closes"][1012] >= CLIENTS, "each client was on a worker that restarted"
    assert set(checked_in.values()) == {1}, checked_in  # the closed ones checked out
    cluster.no_tracebacks()


# `make cluster` itself.


def ports_in_a_row(count: int) -> int:
    """A port p with p … p+count-1 all free now (the cluster's proxy, then its workers)."""
    for _ in range(50):
        first = free_port()
        try:
            for port in range(first, first + count):
                with socket.socket() as probe:
                    probe.bind((HOST, port))
        except OSError:
            continue
        return first
    raise AssertionError(f"no {count} free ports in a row")


def family(pid: int) -> set[int]:
    """The process and every process under it, now."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        found.add(current := todo.pop())
        todo.extend(children.get(current, []))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_make_cluster_serves_on_one_port_and_ctrl_c_stops_every_process_it_started(
    transactional_db, redis_url, nginx, tmp_path
):
    port = ports_in_a_row(3)
    env = shared_env(port, redis_url)
    command = [sys.executable, "-m", "config.cluster", "--workers", "2", "--port", str(port)]
    script = start_server(command, name="make cluster", port=port, env=env, log=tmp_path / "out")
    try:
        script.wait_ready()  # nginx answers: the banner follows
        deadline = time.monotonic() + 10
        while "Ctrl-C stops them all" not in script.log.read_text():
            assert time.monotonic() < deadline, script.log_tail()
            time.sleep(0.05)
        started = family(script.pid) - {script.pid}
        names = {Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0] for pid in started}
        assert len(started) >= 4, names  # two workers, nginx and its worker processes
        status, _headers, _page = request(port, "GET", "/accounts/login/")
        assert status == 200
        script.process.send_signal(signal.SIGINT)
        assert script.process.wait(20) == 0, script.log_tail()
    finally:
        script.stop()
    assert [pid for pid in started if alive(pid)] == [], script.log_tail()
    output = script.log.read_text()
    run_dir = re.search(r"run directory (\S+)\.", output).group(1)
    assert not Path(run_dir).exists()
    assert "stopping the cluster" in output
    assert "Traceback" not in output, output[-4000:]


def test_make_cluster_over_https_redirects_plain_http_and_its_workers_run_with_debug_off(
    transactional_db, redis_url, nginx, tmp_path
):
    """`make cluster CERTIFICATE=… CERTIFICATE_KEY=… HTTP_PORT=…` (docs/deploy.md, "TLS")."""
    certificates = make_certificates(tmp_path)
    port, http_port = ports_in_a_row(3), free_port()
    env = shared_env(
        port,
        redis_url,
        CERTIFICATE=str(certificates.certificate),
        CERTIFICATE_KEY=str(certificates.key),
        HTTP_PORT=str(http_port),
        PUBLIC_URL="",  # none from this process: the cluster's own
        SECRET_KEY="",
        STATIC_ROOT="",
    )
    command = [sys.executable, "-m", "config.cluster", "--workers", "2", "--port", str(port)]
    script = start_server(
        command,
        name="make cluster",
        port=port,
        env=env,
        log=tmp_path / "out",
        tls=certificates.client_context(),
    )
    try:
        script.wait_ready(timeout=120)  # migrate and collectstatic first
        deadline = time.monotonic() + 10
        while "Ctrl-C stops them all" not in script.log.read_text():
            assert time.monotonic() < deadline, script.log_tail()
            time.sleep(0.05)
        secure = http.client.HTTPSConnection(
            HOST, port, timeout=10, context=certificates.client_context()
        )
        try:
            secure.request("GET", "/accounts/login/")
            answer = secure.getresponse()
            page = answer.read()
        finally:
            secure.close()
        assert answer.status == 200, page[:2000]
        assert (
            answer.getheader("Strict-Transport-Security") == "max-age=31536000; includeSubDomains"
        )
        assert "; Secure" in answer.getheader("Set-Cookie")
        assert re.search(rb'/static/[\w/]+\.[0-9a-f]{12}\.css"', page), "collected static files"
        status, headers, _body = request(http_port, "GET", "/some/path?x=1")
        assert (status, headers["location"]) == (301, f"https://{HOST}:{port}/some/path?x=1")
        script.process.send_signal(signal.SIGINT)
        assert script.process.wait(20) == 0, script.log_tail()
    finally:
        script.stop()
    output = script.log.read_text()
    assert f"Parley on https://{HOST}:{port}/ (http on port {http_port} redirects" in output
    assert not Path(re.search(r"run directory (\S+)\.", output).group(1)).exists()
    assert "Traceback" not in output, output[-4000:]
