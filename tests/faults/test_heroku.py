"""The Procfile, run as Heroku runs it (docs/deploy.md, Heroku).

The build's collectstatic (what heroku/python runs once the dependencies are in, with the
app's config vars), then the `release:` line on an empty PostgreSQL database, then the
`web:` line in two dynos, each through `bash -c` with only what a dyno has: the config
vars app.json declares (DEBUG=false, a generated SECRET_KEY, PUBLIC_URL,
REDIS_SSL_CERT_REQS), the add-ons' DATABASE_URL and REDIS_URL (a bare rediss:// URL, to a
Redis of the test's own that speaks only TLS with a certificate no authority signed), PORT,
and the WEB_CONCURRENCY=2 the buildpack gives a Basic dyno (two uvicorn processes each).

The test then stands where Heroku's router stands: TLS ends at the router, which opens
plain HTTP to a dyno, from an address of its own, with the public Host and
X-Forwarded-Proto/-For/-Port. So the requests say `https` in X-Forwarded-Proto, as the
router does for every https:// request; the cookies Parley sets are Secure, and a request
that came in over http is redirected. Two people register, open a direct conversation, and
chat over WebSockets on different dynos: a message from one reaches the other only
through Redis over TLS.
"""

import asyncio
import http.client
import json
import os
import re
import secrets
import subprocess
import sys
import time
import uuid
from contextlib import AsyncExitStack, ExitStack
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import quote, urlencode

import psycopg
import pytest
import redis
from django.db import connection
from psycopg import sql
from websockets.asyncio.client import connect

from tests.faults.test_two_processes import Peer, is_ack, is_live
from tests.instances import running_tls_redis
from tests.support import (
    HOST,
    ROOT,
    ServerProcess,
    free_port,
    require_service,
    start_server,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

# The router connects from an address of its own; uvicorn trusts X-Forwarded-* from
# 127.0.0.1 unless told otherwise, so the test's "router" connects from 127.0.0.2.
ROUTER_ADDRESS = "127.0.0.2"
PUBLIC_HOST = "parley-procfile.herokuapp.com"
PUBLIC_URL = f"https://{PUBLIC_HOST}"
BROWSERS = ("203.0.113.7", "198.51.100.9")  # the two people's addresses (documentation ranges)
BUDGET = 55.0  # seconds for the whole test: build, release, dynos, chat (about 6 s here)
FRAME_TIMEOUT = 5


def procfile() -> dict[str, str]:
    """The Procfile's process types and their commands."""
    lines = (ROOT / "Procfile").read_text().splitlines()
    entries = [line.split(":", 1) for line in lines if line.strip()]
    return {name.strip(): command.strip() for name, command in entries}


ADDON_CONFIG_VARS = {"heroku-postgresql": "DATABASE_URL", "heroku-redis": "REDIS_URL"}


def app_config_vars(required: dict[str, str], addons: dict[str, str]) -> dict[str, str]:
    """The config vars an app set up from app.json has: each env var's value, a generated
    secret, or what its creator typed in for a required one; and each add-on's URL."""
    app = json.loads((ROOT / "app.json").read_text())
    assert set(app["addons"]) == set(ADDON_CONFIG_VARS) == set(addons)
    config_vars = {ADDON_CONFIG_VARS[addon]: url for addon, url in addons.items()}
    for name, spec in app["env"].items():
        if "value" in spec:
            config_vars[name] = spec["value"]
        elif spec.get("generator") == "secret":
            config_vars[name] = secrets.token_hex(32)
        else:
            assert spec["required"], name
            config_vars[name] = required[name]
    return config_vars


class Deadline:
    def __init__(self, seconds: float):
        self.at = time.monotonic() + seconds

    @property
    def left(self) -> float:
        left = self.at - time.monotonic()
        assert left > 0, "over the test's time budget"
        return left


def run(command: str, env: dict[str, str], what: str, timeout: float) -> str:
    """Run `command` through bash as Heroku runs a Procfile line; its output, or a failure."""
    done = subprocess.run(
        ["bash", "-c", command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{what} exited with {done.returncode}:\n{output[-4000:]}"
    return output


@pytest.fixture
def empty_database():
    """A new PostgreSQL database with nothing in it, as the add-on provisions one (on the
    server the tests use); its DATABASE_URL. Dropped afterwards."""
    db = connection.settings_dict
    server = {
        "host": db["HOST"] or "127.0.0.1",
        "port": db["PORT"] or 5432,
        "user": db["USER"] or "",
        "password": db["PASSWORD"] or "",
    }
    name = f"{db['NAME'].removeprefix('test_')}_procfile"
    try:
        admin = psycopg.connect(dbname="postgres", autocommit=True, connect_timeout=5, **server)
    except psycopg.Error as exc:
        require_service("PostgreSQL", f"cannot create a database ({exc})")
    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    with admin:
        admin.execute(drop)
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        password = f":{quote(server['password'], safe='')}" if server["password"] else ""
        yield (
            f"postgres://{quote(server['user'], safe='')}{password}"
            f"@{server['host']}:{server['port']}/{name}"
        )
        admin.execute(drop)


@pytest.fixture
def tls_redis(tmp_path_factory):
    with running_tls_redis(tmp_path_factory.mktemp("tls-redis")) as server:
        yield server


def tables(database_url: str) -> set[str]:
    with psycopg.connect(database_url, connect_timeout=5) as db:
        rows = db.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {name for (name,) in rows}


class RoutedBrowser:
    """A browser on https://PUBLIC_HOST, reaching a dyno the way Heroku's router does.

    Each request goes over plain HTTP to the dyno's port with the public Host header,
    X-Forwarded-Proto (https unless `scheme` says the browser used http), X-Forwarded-For
    (the browser's address) and X-Forwarded-Port. Cookies are kept as a browser keeps them.
    """

    def __init__(self, dyno: ServerProcess, address: str):
        self.dyno = dyno
        self.address = address
        self.cookies = SimpleCookie()

    def router_headers(self, scheme: str = "https") -> dict[str, str]:
        return {
            "X-Forwarded-Proto": scheme,
            "X-Forwarded-For": self.address,
            "X-Forwarded-Port": "443" if scheme == "https" else "80",
        }

    @property
    def cookie_header(self) -> str:
        return "; ".join(f"{name}={morsel.value}" for name, morsel in self.cookies.items())

    def request(
        self, method: str, path: str, body: bytes | None = None, *, scheme="https", **headers
    ):
        sent = {"Host": PUBLIC_HOST, **self.router_headers(scheme), **headers}
        if self.cookies:
            sent["Cookie"] = self.cookie_header
        if method != "GET":
            sent["Origin"] = PUBLIC_URL
        connection = http.client.HTTPConnection(
            HOST, self.dyno.port, timeout=FRAME_TIMEOUT, source_address=(ROUTER_ADDRESS, 0)
        )
        try:
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            answer = response.status, response.headers, response.read()
        finally:
            connection.close()
        for line in answer[1].get_all("Set-Cookie") or []:
            self.cookies.load(line)
        return answer

    def register(self, username: str, password: str) -> None:
        status, _headers, page = self.request("GET", "/accounts/register/")
        assert status == 200, page[:500]
        [token] = re.findall(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        form = {
            "csrfmiddlewaretoken": token.decode(),
            "username": username,
            "password1": password,
            "password2": password,
        }
        status, headers, page = self.request(
            "POST",
            "/accounts/register/",
            urlencode(form).encode(),
            **{"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert (status, headers["Location"]) == (302, "/"), page[:500]

    def api(self, method: str, path: str, data: dict) -> tuple[int, dict]:
        status, _headers, body = self.request(
            method,
            path,
            json.dumps(data).encode(),
            **{
                "Content-Type": "application/json",
                "X-CSRFToken": self.cookies["csrftoken"].value,
            },
        )
        return status, json.loads(body)

    async def socket(self, stack: AsyncExitStack, name: str) -> Peer:
        """The chat's WebSocket, opened as the page on PUBLIC_URL opens wss://PUBLIC_HOST/ws/;
        the router forwards it to the dyno as plain ws:// with the same headers."""
        socket = await stack.enter_async_context(
            connect(
                f"ws://{PUBLIC_HOST}/ws/",
                host=HOST,
                port=self.dyno.port,
                local_addr=(ROUTER_ADDRESS, 0),
                origin=PUBLIC_URL,
                additional_headers={"Cookie": self.cookie_header, **self.router_headers()},
                open_timeout=FRAME_TIMEOUT,
                proxy=None,
            )
        )
        peer = Peer(name, socket)

        async def stop_reading() -> None:
            peer.reader.cancel()
            await asyncio.gather(peer.reader, return_exceptions=True)

        stack.push_async_callback(stop_reading)
        return peer


async def test_the_procfile_builds_releases_and_serves_a_chat_as_heroku_runs_it(
    tmp_path, empty_database, tls_redis
):
    deadline = Deadline(BUDGET)
    processes = procfile()
    assert set(processes) == {"release", "web"}
    dyno_path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    config_vars = app_config_vars(
        required={"PUBLIC_URL": PUBLIC_URL},
        addons={"heroku-postgresql": empty_database, "heroku-redis": tls_redis.bare_url},
    )
    assert config_vars["DEBUG"] == "false"
    dyno = {  # what a dyno has besides the config vars: the buildpack's python on PATH,
        "PATH": dyno_path,  # and the uvicorn processes its .profile.d gives a Basic dyno
        "WEB_CONCURRENCY": "2",
        "HOME": str(tmp_path),
        "STATIC_ROOT": str(tmp_path / "staticfiles"),  # the slug's, here the test's own
    }

    # The build: collectstatic needs neither the database nor Redis (none answers here).
    nowhere = free_port()
    run(
        "python manage.py collectstatic --noinput",
        {
            **dyno,
            **config_vars,
            "DATABASE_URL": f"postgres://nobody@127.0.0.1:{nowhere}/none",
            "REDIS_URL": f"rediss://127.0.0.1:{nowhere}/0",
        },
        "collectstatic",
        deadline.left,
    )
    assert (tmp_path / "staticfiles" / "staticfiles.json").is_file()

    # The release phase: every migration, on the empty database.
    assert tables(empty_database) == set()
    run(processes["release"], {**dyno, **config_vars}, "the release command", deadline.left)
    assert {"django_migrations", "chat_message", "accounts_user"} <= tables(empty_database)

    with ExitStack() as stack:
        dynos = []
        for name in ("web.1", "web.2"):  # both start, then both are waited for
            port = free_port()
            env = {**dyno, **config_vars, "PORT": str(port), "DYNO": name}
            server = start_server(
                ["bash", "-c", processes["web"]],
                name=name,
                port=port,
                env=env,
                log=tmp_path / f"{name}.log",
            )
            stack.callback(server.stop)
            dynos.append(server)
        for server in dynos:
            server.wait_ready(timeout=deadline.left, headers={"Host": PUBLIC_HOST})
        failure = None
        try:
            async with asyncio.timeout(deadline.left):
                await chat_through_the_router(*dynos, tls_redis)
        except Exception as exc:
            failure = f"{type(exc).__name__}: {exc}"
        if failure is not None:  # with the dynos' logs, and no traceback through websockets
            raise AssertionError("\n".join([failure, *(d.log_tail() for d in dynos)]))
        for server, browser in zip(dynos, BROWSERS, strict=True):
            log = server.log.read_text(errors="replace")
            assert server.process.poll() is None, server.log_tail()
            assert "Traceback" not in log, server.log_tail()
            # The socket's client is the browser from X-Forwarded-For, not the router: per
            # address limits count people, not Heroku's routers.
            assert f'{browser}:0 - "WebSocket /ws/" [accepted]' in log, server.log_tail()
            assert ROUTER_ADDRESS not in log, server.log_tail()


async def chat_through_the_router(web1: ServerProcess, web2: ServerProcess, tls_redis) -> None:
    ada = RoutedBrowser(web1, BROWSERS[0])
    bob = RoutedBrowser(web2, BROWSERS[1])

    # A browser that typed http:// is sent to https://, as SECURE_SSL_REDIRECT says.
    status, headers, _ = ada.request("GET", "/accounts/login/", scheme="http")
    assert (status, headers["Location"]) == (301, f"{PUBLIC_URL}/accounts/login/")

    password = secrets.token_urlsafe(16)
    ada.register("ada", password)
    bob.register("bob", password)
    for browser in (ada, bob):
        for name in ("sessionid", "csrftoken"):
            assert browser.cookies[name]["secure"], f"{name} is not a Secure cookie"
    assert ada.cookies["sessionid"]["httponly"]

    # The page, and its script from what the build collected.
    status, headers, page = ada.request("GET", "/")
    assert status == 200
    assert headers["Strict-Transport-Security"].startswith("max-age=")
    assert f"wss://{PUBLIC_HOST}" in headers["Content-Security-Policy"]
    [script] = re.findall(
        rb'<script type="module" src="(/static/chat/app\.[0-9a-f]{12}\.js)"', page
    )
    status, _headers, _body = ada.request("GET", script.decode())
    assert status == 200

    status, room = ada.api("POST", "/api/rooms/direct/", {"username": "bob"})
    assert status == 201, room
    async with AsyncExitStack() as stack:
        on_web1 = await ada.socket(stack, "ada@web.1")
        on_web2 = await bob.socket(stack, "bob@web.2")
        hellos = [
            await peer.wait_for(lambda f: f["type"] == "hello", "hello")
            for peer in (on_web1, on_web2)
        ]
        # The DM is Ada's until its first message reaches Bob (docs/protocol.md, Direct rooms).
        assert room["id"] in [r["id"] for r in hellos[0]["rooms"]]
        assert room["id"] not in [r["id"] for r in hellos[1]["rooms"]]
        first = str(uuid.uuid4())
        await on_web1.send(
            {"type": "send", "room": room["id"], "body": "hello from web.1", "client_msg_id": first}
        )
        await on_web1.wait_for(is_ack(first), "the ack of the first message")
        await on_web2.wait_for(
            lambda f: f["type"] == "room" and f["room"]["id"] == room["id"], "the DM, on web.2"
        )
        for sender, receiver, body in [
            (on_web2, on_web1, "and back from web.2"),
            (on_web1, on_web2, "and once more from web.1"),
        ]:
            client_msg_id = str(uuid.uuid4())
            await sender.send(
                {"type": "send", "room": room["id"], "body": body, "client_msg_id": client_msg_id}
            )
            await sender.wait_for(is_ack(client_msg_id), f"the ack of {body!r}")
            live = await receiver.wait_for(is_live(client_msg_id), f"{body!r}, live")
            assert live["message"]["body"] == body

        # Both dynos listen for the conversation on the Redis that speaks only TLS.
        client = redis.Redis.from_url(tls_redis.verified_url, socket_timeout=2)
        try:
            [channel] = [
                c for c in client.pubsub_channels() if c.endswith(f"room.{room['id']}".encode())
            ]
            assert client.pubsub_numsub(channel) == [(channel, 2)]
        finally:
            client.close()
