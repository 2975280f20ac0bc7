"""Services of a test's own, on private loopback ports, each started and stopped (or
killed) by its pid, never by name: a Redis that speaks only TLS, as hosted Redis does; a
plain Redis a test kills (-9) and starts again on its port; a PostgreSQL cluster of its
own (initdb) that a test stops and starts. Without the binaries the caller is skipped, or
failed under CI=true (tests.support.require_service). Each dies with the test process
(PR_SET_PDEATHSIG), so a crashed run leaves none behind.
"""

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import redis

from config.cluster import die_with_parent
from tests.support import HOST, free_port, make_certificates, require_service

START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0


def _stop(process: subprocess.Popen | None, *, kill: bool = False) -> None:
    """End a process started here, by its pid: SIGTERM (SIGKILL with `kill`, or if it
    does not exit in time)."""
    if process is None or process.poll() is not None:
        return
    if kill:
        process.kill()
    else:
        process.terminate()
    try:
        process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(STOP_TIMEOUT)


def _wait_for_redis(server: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if server.poll() is not None:
            raise RuntimeError(f"redis-server exited ({server.returncode}): {log.read_text()}")
        client = redis.Redis.from_url(url, socket_timeout=1)
        try:
            client.ping()
            return
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
        finally:
            client.close()


# A plain Redis, no persistence: `running_redis(directory)` yields an `OwnRedis`, whose
# `kill()` is kill -9 by its pid (every key is gone, as after a crash) and whose
# `start()` starts it again on the same port.


class OwnRedis:
    def __init__(self, directory: Path):
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def start(self) -> None:
        self.starts += 1
        log = self.directory / f"redis-{self.starts}.log"
        self.process = subprocess.Popen(
            ["redis-server", "--bind", HOST, "--port", str(self.port), "--save", "",
             "--appendonly", "no", "--dir", str(self.directory), "--logfile", str(log)],
            cwd=self.directory,
            preexec_fn=die_with_parent,
        )  # fmt: skip
        _wait_for_redis(self.process, self.url, log)

    def kill(self) -> None:
        """kill -9, by pid; returns once it has exited."""
        _stop(self.process, kill=True)

    def stop(self) -> None:
        _stop(self.process)


@contextlib.contextmanager
def running_redis(directory: Path) -> Iterator[OwnRedis]:
    if shutil.which("redis-server") is None:
        require_service("redis-server", "a Redis of the test's own, to kill")
    server = OwnRedis(directory)
    try:
        server.start()
        yield server
    finally:
        server.stop()


# A PostgreSQL cluster of the test's own: `running_postgres()` runs initdb in a new
# temporary directory (owned by the `postgres` user when the test runs as root: initdb
# and the server refuse root) and starts the server on a free port, trusting local
# connections, without fsync (a test's data need not survive a power cut). `stop()` is
# a fast shutdown (SIGINT to the postmaster, what `pg_ctl stop -m fast` sends): sessions
# are ended and the port closes. `start()` starts it again on the same port.


def postgres_bin() -> Path | None:
    """The newest installed PostgreSQL's binaries (Debian: /usr/lib/postgresql/<v>/bin)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    return found[-1].parent if found else None


class OwnPostgres:
    def __init__(self, binaries: Path, directory: Path):
        self.binaries = binaries
        self.directory = directory
        self.data = directory / "data"
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.starts = 0
        self.as_user = {"user": "postgres", "group": "postgres"} if os.geteuid() == 0 else {}

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@{HOST}:{self.port}/{database}"

    def init(self) -> None:
        subprocess.run(
            [self.binaries / "initdb", "-D", self.data, "-U", "postgres", "--auth=trust",
             "--no-sync", "-E", "UTF8", "--locale=C.UTF-8"],
            check=True, capture_output=True, **self.as_user,
        )  # fmt: skip

    def start(self) -> None:
        self.starts += 1
        log = self.directory / f"postgres-{self.starts}.log"
        with log.open("wb") as output:
            self.process = subprocess.Popen(
                [self.binaries / "postgres", "-D", self.data, "-p", str(self.port),
                 "-h", HOST, "-k", self.directory, "-c", "fsync=off",
                 "-c", "synchronous_commit=off", "-c", "full_page_writes=off"],
                stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent, **self.as_user,
            )  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"postgres exited ({self.process.returncode}): {log.read_text()}"
                )
            try:
                psycopg.connect(self.url(), connect_timeout=1).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        """Fast shutdown, by pid; returns once the server has exited."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(2)  # SIGINT: fast shutdown
        try:
            self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            _stop(self.process, kill=True)

    def create_database(self, name: str, *, copy_of: str | None = None) -> str:
        """A new database, holding what the database at the URL `copy_of` holds (its
        schema and rows, through pg_dump and psql); its URL."""
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        if copy_of is not None:
            dump = subprocess.run(
                [self.binaries / "pg_dump", "--no-owner", "--no-privileges", "-d", copy_of],
                check=True, capture_output=True,
            )  # fmt: skip
            subprocess.run(
                [self.binaries / "psql", "-q", "-v", "ON_ERROR_STOP=1", "-d", self.url(name)],
                input=dump.stdout, check=True, capture_output=True,
            )  # fmt: skip
        return self.url(name)


@contextlib.contextmanager
def running_postgres() -> Iterator[OwnPostgres]:
    binaries = postgres_bin()
    if binaries is None:
        require_service("PostgreSQL's initdb", "a PostgreSQL of the test's own, to stop")
    directory = Path(tempfile.mkdtemp(prefix="parley-pg-"))
    server = OwnPostgres(binaries, directory)
    try:
        if server.as_user:
            shutil.chown(directory, "postgres", "postgres")
        server.init()
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


# A Redis of a test's own that speaks only TLS, as hosted Redis does:
# `running_tls_redis(directory)` makes a throwaway certificate authority and a server
# certificate for 127.0.0.1 in `directory` (tests/support's `make_certificates`), starts
# `redis-server` there on a free TLS port and no plain one, and stops it by its pid on the
# way out. It yields a `TLSRedis` with three URLs: `url` skips verification, as hosted Redis often
# needs (`ssl_cert_reqs=none`), `verified_url` checks the server against the
# authority (`ssl_ca_certs=`), and `bare_url` says neither, as hosted Redis hands it
# out. Without redis-server or openssl the caller is skipped, or failed under CI=true
# (require_service). Use it as
# `with running_tls_redis(tmp_path) as redis:` from a fixture of any scope.


@dataclass(frozen=True)
class TLSRedis:
    port: int
    ca_file: Path

    @property
    def bare_url(self) -> str:
        """As hosted Redis hands it out: verified against the system's authorities."""
        return f"rediss://127.0.0.1:{self.port}/0"

    @property
    def url(self) -> str:
        return f"{self.bare_url}?ssl_cert_reqs=none"

    @property
    def verified_url(self) -> str:
        return f"{self.bare_url}?ssl_ca_certs={self.ca_file}"


@contextlib.contextmanager
def running_tls_redis(directory: Path) -> Iterator[TLSRedis]:
    if shutil.which("redis-server") is None:
        require_service("redis-server", "a Redis of the test's own that speaks only TLS")
    made = make_certificates(directory, "redis")
    tls = TLSRedis(free_port(), made.ca_file)
    log = directory / "redis.log"
    # A free port can be taken between the probe and the start: then redis-server exits,
    # and the start fails with its log, which says so.
    server = subprocess.Popen(
        ["redis-server", "--bind", "127.0.0.1", "--port", "0", "--tls-port", str(tls.port),
         "--tls-cert-file", str(made.certificate), "--tls-key-file", str(made.key),
         "--tls-ca-cert-file", str(tls.ca_file), "--tls-auth-clients", "no",
         "--save", "", "--appendonly", "no", "--dir", str(directory), "--logfile", str(log)],
        cwd=directory,
        preexec_fn=die_with_parent,
    )  # fmt: skip
    try:
        _wait_for_redis(server, tls.url, log)
        yield tls
    finally:
        _stop(server)
