"""Start the servers under test as subprocesses, wait until they serve, stop them, read their logs.

Parley runs under exactly the production command (`make run`: `python -m config.serve`,
uvicorn with uvloop, httptools, the websockets-sansio protocol and no permessage-deflate,
one process); the tutorial baseline under the same uvicorn options. The
ceiling is its own small program (bench/ceiling.py). Each server's output goes to a
log file that is scanned afterwards for tracebacks and errors.
"""

import contextlib
import http.client
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from .environment import HOST, PYTHON, server_root

type ServerKind = Literal["parley", "tutorial", "ceiling"]

STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
ASGI_APPS = {"parley": "config.asgi:application", "tutorial": "bench.tutorial:application"}


def free_port() -> int:
    """A currently unused loopback port (the OS picks it; the server binds it right after)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def server_command(kind: ServerKind, port: int) -> list[str]:
    if kind == "ceiling":
        return [PYTHON, "-m", "bench.ceiling", "--host", HOST, "--port", str(port)]
    if kind == "parley" and (server_root.path / "config" / "serve.py").exists():
        return [PYTHON, "-m", "config.serve", "--host", HOST, "--port", str(port)]
    return [
        PYTHON, "-m", "uvicorn", ASGI_APPS[kind], "--host", HOST, "--port", str(port),
        "--loop", "uvloop", "--http", "httptools", "--ws", "websockets-sansio",
        "--lifespan", "off", "--no-access-log",
    ]  # fmt: skip


@dataclass
class LogReport:
    """What a server wrote that a clean run should not contain."""

    tracebacks: int = 0
    errors: int = 0
    overload_closes: int = 0
    samples: list[str] = field(default_factory=list)

    @classmethod
    def scan(cls, text: str) -> "LogReport":
        report = cls()
        for line in text.splitlines():
            if line.startswith("Traceback"):
                report.tracebacks += 1
            elif re.search(r"\b(ERROR|CRITICAL)\b", line):
                report.errors += 1
            elif "frames waiting for a slow client" in line:
                report.overload_closes += 1
                continue
            else:
                continue
            if len(report.samples) < 5:
                report.samples.append(line.strip()[:200])
        return report

    @property
    def clean(self) -> bool:
        return not (self.tracebacks or self.errors)


@dataclass(frozen=True)
class RunningServer:
    name: str
    pid: int
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"ws://{HOST}:{self.port}/ws/"

    @property
    def origin(self) -> str:
        return f"http://{HOST}:{self.port}"

    def log(self) -> LogReport:
        return LogReport.scan(self.log_path.read_text(errors="replace"))


def _log_tail(path: Path, limit: int = 3000) -> str:
    return path.read_text(errors="replace")[-limit:]


def _wait_healthy(proc: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
    """Poll GET /healthz until it answers, so measuring never starts on a booting server.

    Any status below 500 counts, so a tree measured with --server-root that still
    redirects plain-HTTP /healthz to https passes too.
    """
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{_log_tail(log_path)}")
        conn = http.client.HTTPConnection(HOST, port, timeout=1.0)
        try:
            conn.request("GET", "/healthz")
            if conn.getresponse().status < 500:
                return
        except (OSError, http.client.HTTPException):
            pass
        finally:
            conn.close()
        time.sleep(0.1)
    raise RuntimeError(f"/healthz not ready after {STARTUP_TIMEOUT:.0f}s:\n{_log_tail(log_path)}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(STOP_TIMEOUT)


@contextlib.contextmanager
def running_server(
    name: str, kind: ServerKind, env: dict[str, str], log_dir: Path, port: int
) -> Iterator[RunningServer]:
    """Start a server on `port`, wait until healthy, yield it, and always stop it."""
    log_path = log_dir / f"{name}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            server_command(kind, port),
            cwd=server_root.path,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_healthy(proc, port, log_path)
            yield RunningServer(name, proc.pid, port, log_path)
            if proc.poll() is not None:
                raise RuntimeError(f"{name} died during the run:\n{_log_tail(log_path)}")
        finally:
            _stop(proc)
