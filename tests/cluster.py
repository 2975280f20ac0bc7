"""Workers behind nginx on private loopback ports, as `make cluster` runs them
(config/cluster.py, deploy/nginx.conf.template): tests/faults/test_cluster.py's, and the
browser's over https (tests/browser/test_tls.py).

Each process is started by tests/support's starter and stopped by its pid; a worker can
be stopped and started again on its port (each start's log in a file of its own).
"""

import os
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from websockets.asyncio.client import connect

from config.cluster import nginx_binary, proxy_command, proxy_config, worker_command
from tests.support import (
    HOST,
    Certificates,
    Peer,
    ServerProcess,
    free_port,
    require_service,
    start_server,
    stop_reader,
)

ACCEPTED = '"WebSocket /ws/" [accepted]'  # what uvicorn logs for each socket it takes
# A worker's start (Python, Django, the app) can take half a minute on a loaded machine.
WORKER_START_SECONDS = 90.0
# A browser waits for a handshake as long as TCP does; a client that gave up sooner would
# only come back and add to the queue.
OPEN_TIMEOUT = 30.0


def require_nginx() -> str:
    """Debian's nginx, else skip (or fail under CI=true)."""
    binary = nginx_binary()
    if binary is None:
        require_service("nginx", "not installed (make services installs Debian's)")
    return binary


class Https(NamedTuple):
    """nginx over TLS: the certificate it serves, and a plain http port that redirects."""

    certificates: Certificates
    http_port: int


class Cluster:
    """`len(ports)` workers on their own loopback ports behind nginx on `port` (https with
    `https`), the workers with `env` (whose origins and host names must be the proxy's)."""

    def __init__(
        self,
        nginx: str,
        tmp_path: Path,
        *,
        port: int,
        workers: int,
        env: dict[str, str],
        body_max: int,
        https: Https | None = None,
    ):
        self.nginx = nginx
        self.tmp_path = tmp_path
        self.port = port
        self.env = env
        self.body_max = body_max
        self.https = https
        self.ports = [free_port() for _ in range(workers)]
        self.started = Counter()
        self.workers: list[ServerProcess] = []
        self.proxy: ServerProcess | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.https else 'http'}://{HOST}:{self.port}"

    def start(self) -> None:
        """The workers, once ready the proxy; `stop` stops whatever did start."""
        for index in range(len(self.ports)):
            self.workers.append(self._start_worker(index))
        for worker in self.workers:
            worker.wait_ready(timeout=WORKER_START_SECONDS)
        run_dir = self.tmp_path / "proxy"
        run_dir.mkdir()
        certificates = self.https.certificates if self.https else None
        (run_dir / "nginx.conf").write_text(
            proxy_config(
                listen=f"{HOST}:{self.port}",
                ports=self.ports,
                run_dir=run_dir,
                body_max=self.body_max,
                certificate=str(certificates.certificate) if certificates else None,
                certificate_key=str(certificates.key) if certificates else None,
                http_listen=f"{HOST}:{self.https.http_port}" if self.https else None,
                as_this_user=True,
            )
        )
        self.proxy = start_server(
            proxy_command(self.nginx, run_dir),
            name="nginx",
            port=self.port,
            env=dict(os.environ),
            log=self.tmp_path / "nginx.log",
            tls=certificates.client_context() if certificates else None,
        )
        self.proxy.wait_ready()

    def _start_worker(self, index: int) -> ServerProcess:
        name = f"worker-{'abcdefgh'[index]}"
        self.started[name] += 1
        port = self.ports[index]
        return start_server(
            worker_command(port),
            name=name,
            port=port,
            env=self.env,
            log=self.tmp_path / f"{name}-{self.started[name]}.log",
        )

    def stop_worker(self, index: int) -> None:
        """SIGTERM the worker and wait for it to exit."""
        self.workers[index].stop()

    def start_worker(self, index: int) -> None:
        """Start the stopped worker again on its port, and wait until it answers."""
        self.workers[index] = self._start_worker(index)
        self.workers[index].wait_ready(timeout=WORKER_START_SECONDS)

    def restart(self, index: int) -> str:
        """SIGTERM the worker, wait for it to exit, start it again on its port; how long
        each took."""
        began = time.monotonic()
        self.stop_worker(index)
        stopped = time.monotonic()
        self.start_worker(index)
        return (
            f"stopped in {stopped - began:.1f} s, up again {time.monotonic() - stopped:.1f} s later"
        )

    def kill(self, index: int) -> None:
        """kill -9 of the worker, by its pid; returns once it is gone."""
        process = self.workers[index].process
        process.kill()
        process.wait()

    async def open_peer(self, stack, name: str, cookie: str, *, worker: int) -> Peer:
        """A socket straight to one worker (`cookie`: the Cookie header), as the proxy
        would forward it: the origin is the proxy's."""
        socket = await stack.enter_async_context(
            connect(
                f"ws://{HOST}:{self.ports[worker]}/ws/",
                origin=self.url,
                additional_headers={"Cookie": cookie},
                open_timeout=OPEN_TIMEOUT,
            )
        )
        peer = Peer(name, socket)
        stack.push_async_callback(stop_reader, peer)
        return peer

    def stop(self) -> None:
        for process in [self.proxy, *self.workers]:
            if process is not None:
                process.stop()

    def worker_logs(self) -> dict[str, str]:
        return {
            path.name: path.read_text(errors="replace")
            for path in sorted(self.tmp_path.glob("worker-*.log"))
        }

    def holding(self) -> list[str]:
        """Which running workers took a socket, one name per socket taken."""
        return [w.name for w in self.workers for _ in range(w.log.read_text().count(ACCEPTED))]

    def tails(self) -> str:
        proxy = [self.proxy.log_tail()] if self.proxy is not None else []
        return "\n".join([*(w.log_tail() for w in self.workers), *proxy])

    def no_tracebacks(self) -> None:
        for name, text in self.worker_logs().items():
            assert "Traceback" not in text and " ERROR " not in text, f"{name}:\n{text[-4000:]}"


@contextmanager
def running_cluster(nginx: str, tmp_path: Path, **options):
    """A started `Cluster(nginx, tmp_path, **options)`, stopped on the way out however
    far its start got."""
    cluster = Cluster(nginx, tmp_path, **options)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
