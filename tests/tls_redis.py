"""A Redis of a test's own that speaks only TLS, as hosted Redis does.

`running_tls_redis(directory)` makes a throwaway certificate authority and a server
certificate for 127.0.0.1 in `directory` (the `openssl` command), starts `redis-server`
there on a free TLS port and no plain one, and stops it by its pid on the way out. It
yields a `TLSRedis` with two URLs: `url` skips verification, as hosted Redis often
needs (`ssl_cert_reqs=none`), and `verified_url` checks the server against the
authority (`ssl_ca_certs=`). Without redis-server or openssl the caller is skipped,
or failed under CI=true (tests/conftest.py require_service). Use it as
`with running_tls_redis(tmp_path) as redis:` from a fixture of any scope.
"""

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import redis

from .conftest import require_service

START_TIMEOUT = 10.0


@dataclass(frozen=True)
class TLSRedis:
    port: int
    ca_file: Path

    @property
    def url(self) -> str:
        return f"rediss://127.0.0.1:{self.port}/0?ssl_cert_reqs=none"

    @property
    def verified_url(self) -> str:
        return f"rediss://127.0.0.1:{self.port}/0?ssl_ca_certs={self.ca_file}"


def _make_certificates(directory: Path) -> None:
    """A certificate authority, and a certificate for 127.0.0.1 and localhost it signed."""
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    steps = [
        ["req", "-x509", *key, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
         "-subj", "/CN=parley-test-ca", "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        ["req", "-new", *key, "-keyout", "redis.key", "-out", "redis.csr", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        ["x509", "-req", "-in", "redis.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
         "-out", "redis.crt", "-days", "2", "-copy_extensions", "copy"],
    ]  # fmt: skip
    for step in steps:
        subprocess.run(["openssl", *step], cwd=directory, check=True, capture_output=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_ready(server: subprocess.Popen, tls: TLSRedis, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if server.poll() is not None:
            raise RuntimeError(f"redis-server exited ({server.returncode}): {log.read_text()}")
        client = redis.Redis.from_url(tls.url, socket_timeout=1)
        try:
            client.ping()
            return
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
        finally:
            client.close()


@contextlib.contextmanager
def running_tls_redis(directory: Path) -> Iterator[TLSRedis]:
    for command in ("redis-server", "openssl"):
        if shutil.which(command) is None:
            require_service(command, "a Redis of the test's own that speaks only TLS")
    _make_certificates(directory)
    tls = TLSRedis(_free_port(), directory / "ca.crt")
    log = directory / "redis.log"
    # A free port can be taken between the probe and the start: then redis-server exits,
    # and the start fails with its log, which says so.
    server = subprocess.Popen(
        ["redis-server", "--bind", "127.0.0.1", "--port", "0", "--tls-port", str(tls.port),
         "--tls-cert-file", str(directory / "redis.crt"),
         "--tls-key-file", str(directory / "redis.key"),
         "--tls-ca-cert-file", str(tls.ca_file), "--tls-auth-clients", "no",
         "--save", "", "--appendonly", "no", "--dir", str(directory), "--logfile", str(log)],
        cwd=directory,
    )  # fmt: skip
    try:
        _wait_until_ready(server, tls, log)
        yield tls
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
