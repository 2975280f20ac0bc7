"""`make cluster`: Parley's workers behind nginx on one machine (docs/deploy.md).

    python -m config.cluster [--workers N] [--host HOST] [--port PORT]
        [--certificate FILE --certificate-key FILE [--http-port PORT]]
    python -m config.cluster proxy-config --listen 443 --worker-ports 8001-8004 \\
        --run-dir /run/parley-proxy [--certificate FILE --certificate-key FILE
        [--http-listen 80 [--acme-webroot DIR]]]

The first migrates, starts N workers (`config.serve`; WORKERS, default one per core) on
127.0.0.1:PORT+1…PORT+N, each trusting X-Forwarded-For/Proto from 127.0.0.1 only, waits
until each answers /healthz, then runs nginx on HOST:PORT (default 127.0.0.1:8000) with
deploy/nginx.conf.template filled in, from a temporary run directory (its config, pid
and buffers). Given a certificate (CERTIFICATE, CERTIFICATE_KEY), nginx serves https on
HOST:PORT, and plain http on HTTP_PORT, if given, redirects every request there; the
workers then run as on a real host, DEBUG=false with PUBLIC_URL https://HOST:PORT (a
secret key of this run's, the static files collected into the run directory, unless
the environment names its own). Ctrl-C (SIGINT, or SIGTERM) stops the workers (each
closes its sockets with 1012, service restart), then nginx, each by its pid, and removes
the directory; if any of them exits meanwhile, the others are stopped too. It needs
PostgreSQL and Redis: DATABASE_URL and REDIS_URL from the environment or .env, else
`make services`' own.

The second prints (or writes, --output) that nginx config for a real host
(deploy/systemd/parley-proxy.service).
"""

import argparse
import ctypes
import grp
import os
import pwd
import re
import resource
import secrets
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import NamedTuple

from config.origins import DEFAULT_PORTS

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "deploy" / "nginx.conf.template"
WORKER_HOST = "127.0.0.1"
# The workers trust X-Forwarded-For/Proto from this address only: the proxy's.
WORKER_ENV = {"FORWARDED_ALLOW_IPS": WORKER_HOST}
# What `make services` runs, used when neither the environment nor .env names others.
SERVICE_DEFAULTS = {
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/parley",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
}
BODY_SLACK = 1024 * 1024  # nginx's body cap: the largest attachment plus this
MAX_CONNECTIONS = 65536  # nginx's worker_connections, at most
START_SECONDS = 30.0
STOP_SECONDS = 15.0  # config.serve waits up to 10 s for what is in flight
PR_SET_PDEATHSIG = 1

_prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None


def die_with_parent() -> None:
    """In a child, between fork and exec: SIGTERM when the parent dies, so a parent that
    is killed outright never leaves a server behind. (prctl is looked up beforehand:
    between fork and exec, the less Python the better.)"""
    if _prctl is not None:
        _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


# The proxy's configuration.


def worker_ports(spec: str) -> list[int]:
    """'8001-8004' or '8001,8002' → the ports."""
    ports: list[int] = []
    for part in spec.split(","):
        first, _, last = part.strip().partition("-")
        ports.extend(range(int(first), int(last or first) + 1))
    return ports


def proxy_config(
    *,
    listen: str,
    ports: list[int],
    run_dir: Path,
    body_max: int,
    certificate: str | None = None,
    certificate_key: str | None = None,
    http_listen: str | None = None,
    acme_webroot: str | None = None,
    as_this_user: bool = False,
    connections: int | None = None,
) -> str:
    """deploy/nginx.conf.template filled in: nginx on `listen` (https when given a
    certificate, and then on `http_listen`, if given, plain http that redirects to it,
    serving Let's Encrypt's challenges from `acme_webroot` if given) in front of workers
    on 127.0.0.1:`ports`, writing under `run_dir`.
    `as_this_user`: its worker processes stay this user's even when it is root (else
    nginx started as root hands them to `nobody`); for `make cluster`, never for a host.
    `connections` per nginx process: by default as many as this process may open files."""
    if bool(certificate) != bool(certificate_key):
        raise ValueError("a certificate and its key go together")
    if http_listen and not certificate:
        raise ValueError("a plain http listener redirects to https: it needs a certificate")
    if acme_webroot and not http_listen:
        raise ValueError("Let's Encrypt's challenges come over plain http: give http_listen")
    if connections is None:
        soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        connections = MAX_CONNECTIONS if soft == resource.RLIM_INFINITY else soft
    https_port = int(listen.rsplit(":", 1)[-1])
    values = {
        "@RUN_DIR@": str(run_dir),
        "@USER@": f"user {_user_and_group()};\n" if as_this_user and os.geteuid() == 0 else "",
        "@CONNECTIONS@": str(min(connections, MAX_CONNECTIONS)),
        "@SERVERS@": "\n".join(
            f"        server {WORKER_HOST}:{port} max_fails=0;" for port in ports
        ),
        "@LISTEN@": f"{listen} ssl" if certificate else listen,
        "@CERTIFICATE@": certificate or "",
        "@CERTIFICATE_KEY@": certificate_key or "",
        "@HTTP_LISTEN@": http_listen or "",
        "@HTTPS_PORT@": "" if https_port == DEFAULT_PORTS["https"] else f":{https_port}",
        "@ACME_WEBROOT@": acme_webroot or "",
        "@BODY_MAX@": f"{-(-body_max // 1024)}k",
    }
    text = TEMPLATE.read_text()
    for section, wanted in (
        ("TLS", certificate),
        ("REDIRECT", http_listen),
        ("ACME", acme_webroot),
    ):
        text = _section(text, section, keep=bool(wanted))
    for name, value in values.items():
        text = text.replace(name, value)
    return text


def _section(text: str, name: str, *, keep: bool) -> str:
    """The template's lines between `# @IF_<name>@` and `# @END_<name>@`: kept (the two
    marker lines dropped) or dropped with them."""
    markers = rf"^[ \t]*# @IF_{name}@\n((?:.*\n)*?)[ \t]*# @END_{name}@\n"
    return re.sub(markers, r"\1" if keep else "", text, flags=re.MULTILINE)


def _user_and_group() -> str:
    return f"{pwd.getpwuid(os.geteuid()).pw_name} {grp.getgrgid(os.getegid()).gr_name}"


def nginx_binary() -> str | None:
    """Debian's nginx (`make services` installs it); /usr/sbin is not on every PATH."""
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")


def proxy_command(nginx: str, run_dir: Path) -> list[str]:
    """nginx with the config in `run_dir`, logging to stderr from the first line."""
    return [nginx, "-p", f"{run_dir}/", "-e", "stderr", "-c", str(run_dir / "nginx.conf")]


def worker_command(port: int) -> list[str]:
    """One worker as the cluster runs it: loopback only, behind the proxy."""
    return [
        sys.executable, "-m", "config.serve",
        "--host", WORKER_HOST, "--port", str(port), "--proxy-headers",
    ]  # fmt: skip


# `make cluster`.


def upload_body_max() -> int:
    from django.conf import settings

    return settings.PARLEY_UPLOAD_MAX_BYTES + BODY_SLACK


def healthy(url: str) -> bool:
    # Our own nginx on this machine, maybe with a certificate made for another name (or
    # by no authority): whether it answers, not who it is, so its certificate is not checked.
    unverified = ssl._create_unverified_context()  # noqa: S323
    try:
        with urllib.request.urlopen(url, timeout=1, context=unverified) as answer:  # noqa: S310
            return answer.status == 200
    except OSError:
        return False


def https_environment(public_url: str, static_root: Path, env: dict[str, str]) -> dict[str, str]:
    """What the workers behind nginx's https run with: DEBUG off, so Parley's cookies are
    Secure, its responses carry HSTS and a request that came in plain is redirected; the
    site's address, which ALLOWED_HOSTS, CSRF and the WebSocket origins are made of; a
    secret key; the static files collectstatic writes. `env` may set the last three (a
    real host's PUBLIC_URL, SECRET_KEY, STATIC_ROOT); else this run has its own."""
    return {
        "DEBUG": "false",
        "PUBLIC_URL": env.get("PUBLIC_URL") or public_url,
        "SECRET_KEY": env.get("SECRET_KEY") or secrets.token_urlsafe(50),
        "STATIC_ROOT": env.get("STATIC_ROOT") or str(static_root),
    }


class Cluster:
    """The processes `make cluster` started, stopped by their pids."""

    def __init__(self, env: dict[str, str]):
        self.env = env
        self.workers: list[tuple[str, subprocess.Popen]] = []
        self.proxy: list[tuple[str, subprocess.Popen]] = []

    def start(self, command: list[str]) -> subprocess.Popen:
        # A session of its own: Ctrl-C reaches this script alone, which stops the rest in order.
        return subprocess.Popen(  # noqa: S603 (our own commands)
            command,
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )

    def wait_ready(self, name: str, process: subprocess.Popen, url: str) -> None:
        deadline = time.monotonic() + START_SECONDS
        while not healthy(url):
            if process.poll() is not None:
                raise SystemExit(f"{name} exited with {process.returncode} while starting")
            if time.monotonic() > deadline:
                raise SystemExit(f"{name}: no answer from {url} in {START_SECONDS:.0f} s")
            time.sleep(0.1)

    def exited(self) -> str | None:
        for name, process in [*self.workers, *self.proxy]:
            if process.poll() is not None:
                return f"{name} exited with {process.returncode}"
        return None

    def stop(self) -> None:
        """The workers first (their sockets close with 1012 through the proxy), then nginx."""
        for group in (self.workers, self.proxy):
            running = [(name, p) for name, p in group if p.poll() is None]
            for _name, process in running:
                process.terminate()
            deadline = time.monotonic() + STOP_SECONDS
            for name, process in running:
                try:
                    process.wait(max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    print(f"{name} did not stop in {STOP_SECONDS:.0f} s: killing it", flush=True)
                    process.kill()
                    process.wait()


def _interrupted(signum, frame) -> None:
    raise KeyboardInterrupt


def cluster_environment(host: str, port: int) -> dict[str, str]:
    """The workers' environment: PostgreSQL and Redis (else refuse), and the proxy's
    address as HOST and PORT, which the local origins and host names are made of."""
    import environ

    if (ROOT / ".env").is_file():
        environ.Env.read_env(ROOT / ".env")  # as settings would: the environment wins
    for name, value in SERVICE_DEFAULTS.items():
        os.environ.setdefault(name, value)
    if not os.environ["DATABASE_URL"].startswith(("postgres://", "postgresql://")):
        raise SystemExit("make cluster needs PostgreSQL: DATABASE_URL=postgres://… (make services)")
    if not os.environ["REDIS_URL"]:
        raise SystemExit("make cluster needs Redis: REDIS_URL=redis://… (make services)")
    os.environ.update(HOST=host, PORT=str(port), **WORKER_ENV)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    return dict(os.environ)


class Tls(NamedTuple):
    """`make cluster` over https: nginx's certificate and key, and the port of the plain
    http listener that redirects to https (none: no such listener)."""

    certificate: str
    certificate_key: str
    http_port: int | None = None


def run(workers: int, host: str, port: int, tls: Tls | None = None) -> int:
    nginx = nginx_binary()
    if nginx is None:
        raise SystemExit("nginx is not installed: `make services` installs Debian's")
    env = cluster_environment(host, port)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = MAX_CONNECTIONS if hard == resource.RLIM_INFINITY else min(hard, MAX_CONNECTIONS)
    if soft != resource.RLIM_INFINITY and soft < wanted:  # each socket is a file, here and below
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    from config.settings import WILDCARD_HOSTS

    ports = [port + n for n in range(1, workers + 1)]
    local = WILDCARD_HOSTS.get(host, host)
    address = f"[{local}]:{port}" if ":" in local else f"{local}:{port}"
    scheme = "https" if tls else "http"
    run_dir = Path(tempfile.mkdtemp(prefix="parley-cluster-"))
    if tls:
        env.update(https_environment(f"https://{address}", run_dir / "static", env))
    cluster = Cluster(env)
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # even if started ignoring them
        signal.signal(signum, _interrupted)
    try:
        migrate = [sys.executable, "manage.py", "migrate", "--noinput"]
        if subprocess.run(migrate, cwd=ROOT, env=env, check=False).returncode != 0:  # noqa: S603
            raise SystemExit("migrate failed: is PostgreSQL up (make services)?")
        if tls:  # with DEBUG off, pages name the collected, hashed static files
            collect = [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"]
            if subprocess.run(collect, cwd=ROOT, env=env, check=False).returncode != 0:  # noqa: S603
                raise SystemExit("collectstatic failed")
        for worker_port in ports:
            name = f"worker {WORKER_HOST}:{worker_port}"
            cluster.workers.append((name, cluster.start(worker_command(worker_port))))
        for (name, process), worker_port in zip(cluster.workers, ports, strict=True):
            cluster.wait_ready(name, process, f"http://{WORKER_HOST}:{worker_port}/healthz")
        bind = f"[{host}]" if ":" in host else host
        http_port = tls.http_port if tls else None
        (run_dir / "nginx.conf").write_text(
            proxy_config(
                listen=f"{bind}:{port}",
                ports=ports,
                run_dir=run_dir,
                body_max=upload_body_max(),
                certificate=tls.certificate if tls else None,
                certificate_key=tls.certificate_key if tls else None,
                http_listen=f"{bind}:{http_port}" if http_port else None,
                as_this_user=True,  # the run directory is this user's alone
            )
        )
        cluster.proxy.append(("nginx", cluster.start(proxy_command(nginx, run_dir))))
        cluster.wait_ready("nginx", cluster.proxy[0][1], f"{scheme}://{address}/healthz")
        redirect = f" (http on port {http_port} redirects there)" if http_port else ""
        print(
            f"Parley on {scheme}://{address}/{redirect}: nginx (pid "
            f"{cluster.proxy[0][1].pid}) in front of {workers} workers on "
            f"{WORKER_HOST}:{ports[0]}-{ports[-1]} (pids "
            f"{', '.join(str(p.pid) for _name, p in cluster.workers)}); run directory "
            f"{run_dir}. Ctrl-C stops them all.",
            flush=True,
        )
        while (gone := cluster.exited()) is None:
            time.sleep(0.2)
        print(f"{gone}: stopping the cluster", flush=True)
        return 1
    except KeyboardInterrupt:
        print("stopping the cluster", flush=True)
        return 0
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)  # the stop is bounded: let it finish
        cluster.stop()
        shutil.rmtree(run_dir, ignore_errors=True)


def print_proxy_config(args: argparse.Namespace) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    text = proxy_config(
        listen=args.listen,
        ports=worker_ports(args.worker_ports),
        run_dir=Path(args.run_dir),
        body_max=upload_body_max(),
        certificate=args.certificate,
        certificate_key=args.certificate_key,
        http_listen=args.http_listen,
        acme_webroot=args.acme_webroot,
        connections=MAX_CONNECTIONS,  # parley-proxy.service's LimitNOFILE
    )
    if args.output:
        Path(args.output).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m config.cluster", description=__doc__)
    parser.add_argument(
        "--workers", type=int, default=int(os.environ.get("WORKERS") or os.cpu_count() or 1)
    )
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument(
        "--certificate",
        default=os.environ.get("CERTIFICATE") or None,
        help="TLS certificate (chain) file: nginx serves https on PORT, the workers DEBUG=false",
    )
    parser.add_argument(
        "--certificate-key", default=os.environ.get("CERTIFICATE_KEY") or None, help="its key"
    )
    parser.add_argument(
        "--http-port",
        type=int,
        default=int(os.environ.get("HTTP_PORT") or 0) or None,
        help="with a certificate: plain http on this port, redirecting to https",
    )
    commands = parser.add_subparsers(dest="command")
    config = commands.add_parser("proxy-config", help="print the nginx config for a real host")
    config.add_argument("--listen", required=True, help="nginx's listen: 443, 0.0.0.0:8080…")
    config.add_argument("--worker-ports", required=True, help="the workers' ports: 8001-8004")
    config.add_argument("--run-dir", required=True, help="nginx's pid and buffers: /run/…")
    config.add_argument("--certificate", help="TLS certificate (chain) file: nginx serves https")
    config.add_argument("--certificate-key", help="its private key file")
    config.add_argument(
        "--http-listen", help="with a certificate: plain http here (80…), redirecting to https"
    )
    config.add_argument(
        "--acme-webroot",
        help="with --http-listen: serve /.well-known/acme-challenge/ from here (certbot --webroot)",
    )
    config.add_argument("--output", help="write the config here instead of printing it")
    args = parser.parse_args(argv)
    if bool(args.certificate) != bool(args.certificate_key):
        parser.error("--certificate and --certificate-key go together")
    if args.command == "proxy-config":
        if args.http_listen and not args.certificate:
            parser.error("--http-listen redirects to https: it needs --certificate")
        if args.acme_webroot and not args.http_listen:
            parser.error("--acme-webroot needs --http-listen: the challenges come over http")
        return print_proxy_config(args)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    if args.http_port and not args.certificate:
        parser.error("--http-port redirects to https: it needs --certificate")
    tls = None
    if args.certificate:
        # nginx reads a relative path from its run directory: give it the one meant here.
        files = [Path(args.certificate).resolve(), Path(args.certificate_key).resolve()]
        for missing in (path for path in files if not path.is_file()):
            parser.error(f"no such file: {missing}")
        tls = Tls(str(files[0]), str(files[1]), args.http_port)
    return run(args.workers, args.host, args.port, tls)


if __name__ == "__main__":
    sys.exit(main())
