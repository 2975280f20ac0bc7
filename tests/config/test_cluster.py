"""`make cluster`'s nginx config (config/cluster.py, deploy/nginx.conf.template): what it
must say, and that nginx itself accepts it."""

import re
import subprocess
from pathlib import Path

from config.cluster import BODY_SLACK, nginx_binary, proxy_config, worker_ports
from tests.support import require_service

UPLOAD_MAX = 10 * 1024 * 1024
PING_EVERY = 20  # chat/static/chat/socket.js: PING_EVERY_MS


def rendered(tmp_path: Path, **extra) -> str:
    return proxy_config(
        listen="127.0.0.1:8000",
        ports=[8001, 8002, 8003],
        run_dir=tmp_path,
        body_max=UPLOAD_MAX + BODY_SLACK,
        **extra,
    )


def test_the_config_balances_least_connections_over_every_worker_on_loopback(tmp_path):
    config = rendered(tmp_path)
    assert "least_conn;" in config
    assert re.findall(r"server (\S+) max_fails=0;", config) == [
        "127.0.0.1:8001",
        "127.0.0.1:8002",
        "127.0.0.1:8003",
    ]
    assert "listen 127.0.0.1:8000;" in config
    assert "@" not in re.sub(r"#.*", "", config), "a placeholder was left unfilled"


def test_the_config_passes_websockets_and_the_clients_scheme_and_address(tmp_path):
    config = rendered(tmp_path)
    for header in (
        "Upgrade $http_upgrade",
        "Connection $connection_upgrade",
        "Host $http_host",
        "X-Forwarded-For $remote_addr",
        "X-Forwarded-Proto $scheme",
    ):
        assert f"proxy_set_header {header};" in config


def test_idle_sockets_outlive_the_ping_interval_and_bodies_are_capped_a_little_over_uploads(
    tmp_path,
):
    config = rendered(tmp_path)
    for timeout in re.findall(r"proxy_(?:read|send)_timeout (\d+)s;", config):
        assert int(timeout) >= 3 * PING_EVERY
    [cap] = re.findall(r"client_max_body_size (\d+)k;", config)
    assert UPLOAD_MAX < int(cap) * 1024 <= UPLOAD_MAX + 2 * 1024 * 1024


def test_with_a_certificate_nginx_serves_https(tmp_path):
    config = rendered(tmp_path, certificate="/etc/tls/chain.pem", certificate_key="/etc/tls/key")
    assert "listen 127.0.0.1:8000 ssl;" in config
    assert "ssl_certificate /etc/tls/chain.pem;" in config
    assert "ssl_certificate_key /etc/tls/key;" in config


def test_worker_ports_are_a_range_or_a_list():
    assert worker_ports("8001-8004") == [8001, 8002, 8003, 8004]
    assert worker_ports("8001,8003, 8005-8006") == [8001, 8003, 8005, 8006]


def test_nginx_accepts_the_config(tmp_path):
    nginx = nginx_binary()
    if nginx is None:
        require_service("nginx", "not installed (make services installs Debian's)")
    (tmp_path / "nginx.conf").write_text(rendered(tmp_path, as_this_user=True))
    checked = subprocess.run(
        [nginx, "-t", "-p", f"{tmp_path}/", "-e", "stderr", "-c", str(tmp_path / "nginx.conf")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert checked.returncode == 0, checked.stderr
    assert "[warn]" not in checked.stderr, checked.stderr
