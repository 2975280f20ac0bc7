"""Start the servers under test as subprocesses, wait until they serve, stop them, read their logs.

Parley runs under exactly the production command (`make run`: `python -m config.serve`,
uvicorn with uvloop, httptools and the websockets-sansio protocol (config.serve's lighter
subclasses of both) and no permessage-deflate, one process); the tutorial baseline under
uvicorn's own classes of the same options. The
ceiling is its own small program (bench/ceiling.py). Each server's output goes to a
log file that is scanned afterwards for tracebacks and errors.
"""

import compileall
import contextlib
import re
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from tests.support import serving

from .environment import HOST, PYTHON, server_root

type ServerKind = Literal["parley", "tutorial", "ceiling"]

STARTUP_TIMEOUT = 60.0
# What a checkout holds besides the server's code: not compiled.
NOT_SERVED = re.compile(r"[/\\](\.git|\.venv|\.tools|node_modules|staticfiles)([/\\]|$)")
_compiled: set[Path] = set()
ASGI_APPS = {"parley": "config.asgi:application", "tutorial": "bench.tutorial:application"}


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


def compile_bytecode(tree: Path) -> None:
    """Write the bytecode caches of the served tree and of the packages it imports, as a
    deployment has them (Heroku's Python buildpack and `uv sync --compile-bytecode` write
    them at build). A server that compiles its imports from source frees the compiler's
    memory into its heap, and the first sockets fill that before the RSS grows: idle
    memory per tab then reads 3–4 KiB less than a deployed server's (docs/performance.md,
    "Why the heap sometimes had room"). Once per tree and process; later calls find them
    current."""
    if tree in _compiled:
        return
    compileall.compile_dir(sysconfig.get_paths()["purelib"], quiet=1, workers=0)
    compileall.compile_dir(tree, quiet=1, workers=0, rx=NOT_SERVED)
    _compiled.add(tree)


@contextlib.contextmanager
def running_server(
    name: str, kind: ServerKind, env: dict[str, str], log_dir: Path, port: int
) -> Iterator[RunningServer]:
    """Start a server on `port`, wait until healthy, yield it, and always stop it.

    Healthy is any /healthz status below 500, so a tree measured with --server-root
    that still redirects plain-HTTP /healthz to https passes too. The tree's bytecode
    is compiled first, as a deployment's is (`compile_bytecode`).
    """
    compile_bytecode(server_root.path)
    with serving(
        server_command(kind, port),
        name=name,
        port=port,
        env=env,
        log=log_dir / f"{name}.log",
        cwd=server_root.path,
        healthy=lambda status, body: status < 500,
        timeout=STARTUP_TIMEOUT,
    ) as server:
        yield RunningServer(name, server.pid, port, server.log)
