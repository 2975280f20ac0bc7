"""What tests share beyond fixtures (those are in conftest.py): records and assertions,
and real server processes.

The socket client for the ASGI application in-process is tests/wsclient.py.
"""

import contextlib
import ctypes
import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import pytest

from chat.errors import ChatError

ROOT = Path(__file__).resolve().parents[1]


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


# Real server processes: the browser tests, the two-process tests and bench/.

HOST = "127.0.0.1"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
PR_SET_PDEATHSIG = 1


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


_prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None


def _die_with_parent() -> None:
    """In the child: SIGTERM when the parent dies, so a crash never orphans a server.
    (prctl is looked up beforehand: between fork and exec, the less Python the better.)"""
    if _prctl is not None:
        _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def answers_200(status: int, body: bytes) -> bool:
    return status == 200


@dataclass
class ServerProcess:
    """A server process from `start_server` (or `serving`): its process, port and log."""

    name: str
    port: int
    process: subprocess.Popen
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def origin(self) -> str:
        return f"http://{HOST}:{self.port}"

    def log_tail(self, limit: int = 4000) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return f"--- {self.name} (port {self.port}) output ---\n{text[-limit:]}"

    def healthz(self) -> tuple[int, bytes] | None:
        """GET /healthz once: (status, body), or None while nothing answers."""
        connection = http.client.HTTPConnection(HOST, self.port, timeout=1.0)
        try:
            connection.request("GET", "/healthz")
            response = connection.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException):
            return None
        finally:
            connection.close()

    def wait_ready(self, healthy=answers_200, timeout: float = START_TIMEOUT) -> None:
        """Return once GET /healthz answers as `healthy(status, body)` says a ready server
        does; fail if the process exits first, or after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while (answer := self.healthz()) is None or not healthy(*answer):
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
    command: list[str], *, name: str, port: int, env: dict[str, str], log: Path, cwd: Path = ROOT
) -> ServerProcess:
    """Start a server process writing its output to `log`; `wait_ready` it before use."""
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
    return ServerProcess(name, port, process, log)


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
