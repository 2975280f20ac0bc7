"""What tests share beyond fixtures (those are in conftest.py): records and assertions,
waiting for a condition, a clock a test moves by hand, and real server processes.

The socket client for the ASGI application in-process is tests/wsclient.py; `Peer` is a
socket on a real server.
"""

import asyncio
import base64
import contextlib
import hashlib
import http.client
import inspect
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple
from urllib.parse import quote, urlsplit

import pytest
import redis
import uvicorn
from django.conf import settings
from django.db import connection
from websockets.asyncio.client import connect as connect_websocket
from websockets.exceptions import ConnectionClosed

from chat.errors import ChatError
from chat.protocol.schema import check_frame
from config.cluster import die_with_parent
from config.serve import OPTIONS

ROOT = Path(__file__).resolve().parents[1]


IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
# Redis-backed tests run against the configured Redis, else the local default one,
# so they run in both of CI's passes, not only the one with REDIS_URL set.
TEST_REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"


def require_service(name: str, reason: str) -> None:
    """Skip (locally) or fail (in CI) because a required service is missing."""
    message = f"{name} is required: {reason}"
    if IN_CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


CLIENT_MODULES = ROOT / "chat" / "static" / "chat"


def run_in_node(imports: dict[str, str], script: str):
    """Evaluate `script` as an ES module in Node after `imports` (a module of the web
    client, by file name, → the names to import from it); what it printed, as JSON. The
    client's modules without a DOM are tested so, without a browser."""
    node = shutil.which("node")
    if node is None:
        require_service("Node.js", "the web client's modules without a DOM run in it")
    head = "".join(
        f"import {{ {names} }} from {json.dumps((CLIENT_MODULES / module).as_uri())};\n"
        for module, names in imports.items()
    )
    done = subprocess.run(
        [node, "--input-type=module", "-e", head + script],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return json.loads(done.stdout)


class Published(NamedTuple):
    """One publish a service made after commit: to a `room`'s or a `user`'s sockets,
    or a `grant`/`revoke` of `room` to a user's sockets (`target` is the room or user id)."""

    to: str
    target: int
    frame: dict
    room: int | None = None

    @property
    def brief(self) -> tuple[str, int, str]:
        return (self.to, self.target, self.frame["type"])


def refused(code: str, call, *args, **kwargs) -> ChatError:
    """Call, expecting a ChatError with this code; the error."""
    with pytest.raises(ChatError) as caught:
        call(*args, **kwargs)
    assert caught.value.code == code
    return caught.value


# Peak memory of one piece of work, measured in a fresh process.


MEASURE = """
import resource, sys
import django
django.setup()
{imports}
data = open(sys.argv[1], "rb").read()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
{judge}
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024, result)
"""


def peak_memory_of(imports: str, judge: str, path) -> tuple[int, str]:
    """(MiB the peak memory of a fresh process grew by running `judge` on the bytes of the
    file at `path` (`data`), the `result` it set); `imports` run before measuring."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "PYTHONPATH": os.getcwd()}
    done = subprocess.run(
        [sys.executable, "-c", MEASURE.format(imports=imports, judge=judge), str(path)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=60,
    )
    grown, result = done.stdout.split()
    return int(grown), result


# Waiting: for a condition, never for a guessed time.

POLL_SECONDS = 0.005


async def until(
    condition: Callable[[], object],
    what: str | Callable[[], str] = "the condition",
    timeout: float = 3.0,
) -> None:
    """Return as soon as `condition()` (a plain or an async function) is true; fail with
    `what` (a text, or a function giving one) if it is not within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        held = condition()
        if inspect.isawaitable(held):
            held = await held
        if held:
            return
        if time.monotonic() > deadline:
            said = what() if callable(what) else what
            raise AssertionError(f"not within {timeout} s: {said}")
        await asyncio.sleep(POLL_SECONDS)


class ManualClock:
    """A clock (chat.realtime.clock.Clock) that moves only when the test calls
    `advance`: a `sleep` returns once the clock has passed its end."""

    def __init__(self, now: float = 1000.0):
        self.now = now
        self._sleepers: list[tuple[float, asyncio.Future]] = []

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        wake = asyncio.get_running_loop().create_future()
        entry = (self.now + seconds, wake)
        self._sleepers.append(entry)
        try:
            await wake
        finally:
            self._sleepers.remove(entry)

    @property
    def sleeping(self) -> bool:
        """Someone is waiting for this clock to move."""
        return any(not wake.done() for _end, wake in self._sleepers)

    def advance(self, seconds: float) -> None:
        self.now += seconds
        for end, wake in self._sleepers:
            if end <= self.now + 1e-9 and not wake.done():  # 1e-9: float sums
                wake.set_result(None)


class HeldCall:
    """A call for the database thread that keeps it busy until `release()`, so that
    the calls made meanwhile queue (chat.realtime.dbcalls)."""

    def __init__(self, ran: list | None = None):
        self.ran = ran if ran is not None else []
        self.entered = threading.Event()
        self._released = threading.Event()

    def __call__(self) -> str:
        self.entered.set()
        self._released.wait(5)
        self.ran.append("held")
        return "held"

    async def occupy(self, calls) -> asyncio.Future:
        """Give this call to the batcher `calls`; once it holds the thread, its future."""
        outcome = asyncio.ensure_future(calls.call(self))
        await until(self.entered.is_set, "the held call to be in the database thread")
        return outcome

    def release(self) -> None:
        self._released.set()


class FakeSocket:
    """What the hub needs of a connected tab (chat.realtime.hub.Socket), recording what
    it is given: each frame, and how many events came in each write."""

    def __init__(self, user, room_ids=()):
        self.user = user
        self.user_id = user.pk
        self.presence_id = uuid.uuid4().hex
        self.room_ids: set[int] = set()
        self.frames: list[str] = []
        self.writes: list[int] = []  # events per deliver call
        self.initial = set(room_ids)

    def deliver(self, *events) -> None:
        self.frames.extend(event.text for event in events)
        self.writes.append(len(events))

    def granted(self, room_id: int) -> None:
        self.room_ids.add(room_id)

    def revoked(self, room_id: int) -> None:
        self.room_ids.discard(room_id)


class UnreachablePresence:
    """A presence store (chat.realtime.presence) whose Redis is away: every call fails."""

    async def _away(self, *args, **kwargs):
        raise ConnectionError("Redis is away")

    check_in = check_out = sweep = refresh = statuses = live_sockets = _away

    async def close(self) -> None:
        """Nothing to let go of."""


async def connect(hub, socket: FakeSocket) -> None:
    """Attach the socket to the hub with its initial rooms, as a consumer does."""
    await hub.attach(socket)
    await hub.subscribe(socket, socket.initial)


# Real server processes: the browser tests, the two-process tests and bench/.

HOST = "127.0.0.1"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


def free_port() -> int:
    """A loopback port free now (the OS picks it; the server binds it right after)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def parley_command(port: int) -> list[str]:
    """Parley's server exactly as `make run` starts it."""
    return [sys.executable, "-m", "config.serve", "--host", HOST, "--port", str(port)]


def parley_env(port: int, *, drop: tuple[str, ...] = (), **values: str) -> dict[str, str]:
    """This process's environment without `drop`, serving on `port`, with `values`."""
    env = {key: value for key, value in os.environ.items() if key not in drop}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        PYTHONUNBUFFERED="1",
        HOST=HOST,
        PORT=str(port),
        **values,
    )
    return env


def shared_database_url() -> str:
    """The database pytest-django created for this session, as a DATABASE_URL for servers
    that must see what the test commits."""
    db = connection.settings_dict
    user = quote(db["USER"] or "", safe="")
    password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    host = db["HOST"] or "127.0.0.1"
    port = db["PORT"] or 5432
    return f"postgres://{user}{password}@{host}:{port}/{quote(db['NAME'], safe='')}"


def shared_env(port: int, redis_url: tuple[str, str], **values: str) -> dict[str, str]:
    """A server's environment on `port` (its origins and host names: a proxy's port, for a
    worker behind one) that sees what the test commits and uses a private Redis prefix
    (`redis_url`: the fixture's (url, prefix)); no production settings from this process."""
    url, prefix = redis_url
    return parley_env(
        port,
        drop=("DEBUG", "PARLEY_ORIGINS", "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS", "WORKERS"),
        DATABASE_URL=shared_database_url(),
        REDIS_URL=url,
        CHANNEL_PREFIX=prefix,
        **values,
    )


def answers_200(status: int, body: bytes) -> bool:
    return status == 200


@dataclass
class ServerProcess:
    """A server process from `start_server` (or `serving`): its process, port and log."""

    name: str
    port: int
    process: subprocess.Popen
    log: Path
    tls: ssl.SSLContext | None = None  # it speaks https, checked with this context

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def origin(self) -> str:
        return f"{'https' if self.tls else 'http'}://{HOST}:{self.port}"

    def log_tail(self, limit: int = 4000) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return f"--- {self.name} (port {self.port}) output ---\n{text[-limit:]}"

    def healthz(self, headers: dict[str, str] | None = None) -> tuple[int, bytes] | None:
        """GET /healthz once (with `headers`, such as a Host): (status, body), or None while
        nothing answers."""
        if self.tls:
            connection = http.client.HTTPSConnection(HOST, self.port, timeout=1.0, context=self.tls)
        else:
            connection = http.client.HTTPConnection(HOST, self.port, timeout=1.0)
        try:
            connection.request("GET", "/healthz", headers=headers or {})
            response = connection.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException):  # ssl.SSLError is an OSError
            return None
        finally:
            connection.close()

    def wait_ready(
        self,
        healthy=answers_200,
        timeout: float = START_TIMEOUT,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Return once GET /healthz (with `headers`) answers as `healthy(status, body)` says
        a ready server does; fail if the process exits first, or after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while (answer := self.healthz(headers)) is None or not healthy(*answer):
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode}\n{self.log_tail()}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name}: no /healthz in {timeout} s\n{self.log_tail()}")
            time.sleep(0.1)

    def stop(self) -> None:
        """Terminate the process (by its pid), killing it if it does not exit in time."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT)


def start_server(
    command: list[str],
    *,
    name: str,
    port: int,
    env: dict[str, str],
    log: Path,
    cwd: Path = ROOT,
    tls: ssl.SSLContext | None = None,
) -> ServerProcess:
    """Start a server process writing its output to `log`; `wait_ready` it before use
    (over https, checking its certificate with `tls`, when given)."""
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,  # a crash never orphans a server
        )
    return ServerProcess(name, port, process, log, tls)


@contextlib.contextmanager
def serving(
    command: list[str] | None = None,
    *,
    name: str = "parley",
    port: int | None = None,
    env: dict[str, str] | None = None,
    log: Path | None = None,
    cwd: Path = ROOT,
    healthy=answers_200,
    timeout: float = START_TIMEOUT,
) -> Iterator[ServerProcess]:
    """A server (Parley as `make run` starts it, unless `command` says otherwise) on
    `port` (a free one if none), ready once /healthz answers; always stopped after, and
    a failure if it died meanwhile. Without `log` its output goes to a temporary file,
    removed afterwards."""
    port = port or free_port()
    command = command or parley_command(port)
    env = env if env is not None else parley_env(port)
    with contextlib.ExitStack() as cleanup:
        if log is None:
            log = Path(cleanup.enter_context(tempfile.TemporaryDirectory())) / f"{name}.log"
        server = start_server(command, name=name, port=port, env=env, log=log, cwd=cwd)
        try:
            server.wait_ready(healthy, timeout)
            yield server
            if server.process.poll() is not None:
                raise RuntimeError(f"{name} died while in use\n{server.log_tail()}")
        finally:
            server.stop()


class EchoApp:
    """An ASGI app that accepts every socket, records its scope's headers as it saw them
    (`seen`), and echoes its text frames."""

    def __init__(self) -> None:
        self.seen: list[list] = []

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            return
        self.seen.append(list(scope["headers"]))
        await receive()
        await send({"type": "websocket.accept"})
        while (message := await receive())["type"] != "websocket.disconnect":
            await send({"type": "websocket.send", "text": message["text"]})


@contextlib.asynccontextmanager
async def in_process_uvicorn(app, **options):
    """A uvicorn serving `app` in this event loop with config.serve's protocol classes:
    yields (the server, a ws:// URL on it)."""
    port = free_port()
    config = uvicorn.Config(
        app,
        host=HOST,
        port=port,
        http=OPTIONS[OPTIONS.index("--http") + 1],
        ws=OPTIONS[OPTIONS.index("--ws") + 1],
        ws_per_message_deflate=False,
        lifespan="off",
        log_level="warning",
        **options,
    )
    server = uvicorn.Server(config)
    task = asyncio.ensure_future(server.serve())
    try:
        # Until it serves, or stops before it does: then its error, not a wait to the end.
        await until(lambda: server.started or task.done(), "uvicorn started serving", 10)
        if not server.started:
            await task
            raise RuntimeError("uvicorn stopped before it started serving")
        yield server, f"ws://{HOST}:{port}/ws/"
    finally:
        server.should_exit = True
        await task


@contextlib.contextmanager
def private_redis(db: int) -> Iterator[tuple[str, str]]:
    """Database `db` of the configured Redis (else the local default one) and a key prefix
    of its own, for real servers' pub/sub and presence: (url, prefix), as `shared_env`
    takes them. The prefix's keys are removed afterwards. Without a Redis that answers,
    the caller is skipped, or failed under CI=true."""
    base = urlsplit(settings.REDIS_URL or "redis://127.0.0.1:6379/0")
    url = f"redis://{base.hostname or '127.0.0.1'}:{base.port or 6379}/{db}"
    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        require_service("Redis", f"{url} does not answer PING ({exc})")
    prefix = f"parley-test-{uuid.uuid4().hex[:12]}"
    try:
        yield url, prefix
    finally:
        try:
            for key in client.scan_iter(match=f"{prefix}*"):
                client.delete(key)
        finally:
            client.close()


# Sockets on real servers, as a browser's: websockets clients.

FRAME_TIMEOUT = 5


class Peer:
    """A websockets client with every frame it receives kept in order."""

    def __init__(self, name: str, socket):
        self.name = name
        self.socket = socket
        self.frames: list[dict] = []
        self.closed: str | None = None
        self.close_code: int | None = None  # the server's, once the socket is closed
        self.arrived = asyncio.Event()
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for text in self.socket:
                self.frames.append(check_frame(json.loads(text)))  # schema: or the reader ends
                self.arrived.set()
        except ConnectionClosed as exc:
            self.closed = repr(exc)
            self.close_code = exc.rcvd.code if exc.rcvd is not None else None
        else:
            self.closed = "closed normally"

    async def send(self, frame: dict) -> None:
        await self.socket.send(json.dumps(frame))

    async def wait_for(self, predicate, what: str, timeout: float = FRAME_TIMEOUT) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            for frame in self.frames:
                if predicate(frame):
                    return frame
            if self.reader.done():
                raise AssertionError(
                    f"{self.name}'s socket ended ({self.closed or self.reader.exception()!r}) "
                    f"while waiting for {what}"
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{self.name} got no {what} in {timeout} s")
            self.arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), remaining)

    def of_type(self, kind: str) -> list[dict]:
        return [frame for frame in self.frames if frame["type"] == kind]


async def open_peer(
    stack: contextlib.AsyncExitStack,
    name: str,
    server: ServerProcess,
    user,
    *,
    cookie: str | None = None,
    token: str | None = None,
) -> Peer:
    """A socket of `user` on `server`, in a new session unless given the `cookie` header;
    or, given an API `token` (user None), a program's: that token, no Origin, no cookie."""
    if token is not None:
        options = {"additional_headers": {"Authorization": f"Bearer {token}"}}
    else:
        from tests.wsclient import session_cookie  # loads the ASGI application: only when used

        cookie = cookie or f"{settings.SESSION_COOKIE_NAME}={await session_cookie(user)}"
        options = {"origin": server.origin, "additional_headers": {"Cookie": cookie}}
    socket = await stack.enter_async_context(
        connect_websocket(
            f"ws://127.0.0.1:{server.port}/ws/", open_timeout=FRAME_TIMEOUT, **options
        )
    )
    peer = Peer(name, socket)
    stack.push_async_callback(stop_reader, peer)
    return peer


async def stop_reader(peer: Peer) -> None:
    peer.reader.cancel()
    await asyncio.gather(peer.reader, return_exceptions=True)


def is_live(client_msg_id: str):
    return lambda f: f["type"] == "message" and f["message"]["client_msg_id"] == client_msg_id


def is_ack(client_msg_id: str):
    return lambda f: f["type"] == "ack" and f["client_msg_id"] == client_msg_id


# An HTTP request straight to the ASGI application, as a server would make it.


class AsgiAnswer(NamedTuple):
    status: int
    body: bytes
    read: int  # body bytes the application took from the client

    def json(self) -> dict:
        return json.loads(self.body)


async def asgi_request(
    app,
    path: str,
    *,
    method: str = "POST",
    headers: list[tuple[bytes, bytes]] = (),
    chunks: list[bytes] = (b"",),
) -> AsgiAnswer:
    """Call an ASGI application with an HTTP request as a server would, the body in
    `chunks` (no content-length header: chunked, unless `headers` declares one)."""
    pending = list(chunks)
    read = 0
    sent: list[dict] = []

    answered = asyncio.Event()

    async def receive():
        nonlocal read
        if not pending:
            await answered.wait()  # a client stays until it has its answer
            return {"type": "http.disconnect"}
        chunk = pending.pop(0)
        read += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

    async def send(message):
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            answered.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1:8000"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    await app(scope, receive, send)
    [start] = [m for m in sent if m["type"] == "http.response.start"]
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return AsgiAnswer(start["status"], body, read)


# Certificates a test makes: `make_certificates(directory)` writes a throwaway
# certificate authority and a certificate for 127.0.0.1 and localhost it signed (the
# `openssl` command; without it the caller is skipped, or failed under CI=true).


class Certificates(NamedTuple):
    ca_file: Path
    certificate: Path
    key: Path

    def client_context(self) -> ssl.SSLContext:
        """A client's TLS context that trusts this authority and no other."""
        return ssl.create_default_context(cafile=self.ca_file)

    def key_pin(self) -> str:
        """The base64 SHA-256 of the certificate's public key (its SubjectPublicKeyInfo),
        as Chromium's --ignore-certificate-errors-spki-list takes it."""
        public = _openssl("x509", "-in", str(self.certificate), "-pubkey", "-noout")
        der = _openssl("pkey", "-pubin", "-outform", "der", stdin=public)
        return base64.b64encode(hashlib.sha256(der).digest()).decode()


def _openssl(*args: str, stdin: bytes | None = None, cwd: Path | None = None) -> bytes:
    done = subprocess.run(
        ["openssl", *args], input=stdin, cwd=cwd, check=True, capture_output=True, timeout=30
    )
    return done.stdout


def make_certificates(directory: Path, name: str = "server") -> Certificates:
    """A certificate authority (`ca.crt`), and `<name>.crt` for 127.0.0.1 and localhost it
    signed, with its key `<name>.key`, in `directory`."""
    if shutil.which("openssl") is None:
        require_service("openssl", "a certificate of the test's own")
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    steps = [
        ["req", "-x509", *key, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
         "-subj", "/CN=parley-test-ca", "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        ["req", "-new", *key, "-keyout", f"{name}.key", "-out", f"{name}.csr",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        ["x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
         "-out", f"{name}.crt", "-days", "2", "-copy_extensions", "copy"],
    ]  # fmt: skip
    for step in steps:
        _openssl(*step, cwd=directory)
    return Certificates(directory / "ca.crt", directory / f"{name}.crt", directory / f"{name}.key")
