"""`make cluster`'s nginx config (config/cluster.py, deploy/nginx.conf.template): what it
must say, and that nginx itself accepts it."""

import re
import subprocess
from pathlib import Path

import pytest

from config.cluster import BODY_SLACK, https_environment, nginx_binary, proxy_config, worker_ports
from tests.support import make_certificates, require_service

UPLOAD_MAX = 10 * 1024 * 1024
PING_EVERY = 20  # chat/static/chat/connection.js: PING_EVERY_MS


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


TLS = {"certificate": "/etc/tls/chain.pem", "certificate_key": "/etc/tls/key"}
# Mozilla's "intermediate" TLS 1.2 suites, less the DHE ones (no DH parameters file).
INTERMEDIATE_TLS12 = {
    f"ECDHE-{key}-{cipher}"
    for key in ("ECDSA", "RSA")
    for cipher in ("AES128-GCM-SHA256", "AES256-GCM-SHA384", "CHACHA20-POLY1305")
}


def directives(config: str, name: str) -> list[str]:
    return re.findall(rf"^\s*{name} ([^;]*);", config, flags=re.MULTILINE)


def test_with_a_certificate_nginx_serves_https(tmp_path):
    config = rendered(tmp_path, **TLS)
    assert "listen 127.0.0.1:8000 ssl;" in config
    assert "ssl_certificate /etc/tls/chain.pem;" in config
    assert "ssl_certificate_key /etc/tls/key;" in config
    assert "@" not in re.sub(r"#.*", "", config), "a placeholder was left unfilled"


def test_tls_is_mozillas_intermediate_profile(tmp_path):
    config = rendered(tmp_path, **TLS)
    assert directives(config, "ssl_protocols") == ["TLSv1.2 TLSv1.3"]
    [ciphers] = directives(config, "ssl_ciphers")
    assert set(ciphers.split(":")) == INTERMEDIATE_TLS12
    assert directives(config, "ssl_prefer_server_ciphers") == ["off"]
    assert directives(config, "ssl_session_tickets") == ["off"]
    assert directives(config, "ssl_ecdh_curve") == ["X25519:prime256v1:secp384r1"]


def test_without_a_certificate_there_is_no_tls_and_no_redirect(tmp_path):
    config = re.sub(r"#.*", "", rendered(tmp_path))
    assert "ssl" not in config
    assert "return 301" not in config
    assert len(directives(config, "listen")) == 1


def test_plain_http_redirects_every_request_to_the_same_host_and_path_over_https(tmp_path):
    config = rendered(tmp_path, **TLS, http_listen="127.0.0.1:8080")
    assert directives(config, "listen") == ["127.0.0.1:8000 ssl", "127.0.0.1:8080"]
    redirect = config[config.index("listen 127.0.0.1:8080;") :]
    assert directives(redirect, "return") == ["301 https://$host:8000$request_uri"]
    assert "proxy_pass" not in redirect, "nothing goes to a worker in the clear"
    assert "acme-challenge" not in re.sub(r"#.*", "", redirect)


def test_on_the_default_port_the_redirect_names_no_port(tmp_path):
    config = proxy_config(
        listen="443",
        ports=[8001],
        run_dir=tmp_path,
        body_max=UPLOAD_MAX + BODY_SLACK,
        http_listen="80",
        **TLS,
    )
    assert directives(config, "return") == ["301 https://$host$request_uri"]


def test_lets_encrypts_challenges_are_answered_over_http_when_asked(tmp_path):
    config = rendered(
        tmp_path, **TLS, http_listen="0.0.0.0:80", acme_webroot="/var/www/letsencrypt"
    )
    challenges = config[config.index("location /.well-known/acme-challenge/ {") :]
    assert directives(challenges, "root")[0] == "/var/www/letsencrypt"


def test_a_redirect_needs_tls_and_challenges_need_the_redirect(tmp_path):
    with pytest.raises(ValueError, match="certificate"):
        rendered(tmp_path, http_listen="80")
    with pytest.raises(ValueError, match="http_listen"):
        rendered(tmp_path, **TLS, acme_webroot="/var/www/letsencrypt")
    with pytest.raises(ValueError, match="go together"):
        rendered(tmp_path, certificate="/etc/tls/chain.pem")


def test_over_https_the_workers_run_as_on_a_real_host(tmp_path):
    env = https_environment("https://127.0.0.1:8443", tmp_path / "static", {})
    assert env["DEBUG"] == "false"
    assert env["PUBLIC_URL"] == "https://127.0.0.1:8443"
    assert env["STATIC_ROOT"] == str(tmp_path / "static")
    assert len(env["SECRET_KEY"]) >= 50
    assert env["SECRET_KEY"] != https_environment("https://x", tmp_path, {})["SECRET_KEY"]
    own = {"PUBLIC_URL": "https://chat.example.com", "SECRET_KEY": "k" * 60, "STATIC_ROOT": "/s"}
    assert https_environment("https://127.0.0.1:8443", tmp_path, own) == {"DEBUG": "false", **own}


def test_worker_ports_are_a_range_or_a_list():
    assert worker_ports("8001-8004") == [8001, 8002, 8003, 8004]
    assert worker_ports("8001,8003, 8005-8006") == [8001, 8003, 8005, 8006]


@pytest.mark.parametrize("https", [False, True], ids=["http", "https"])
def test_nginx_accepts_the_config(tmp_path, https):
    nginx = nginx_binary()
    if nginx is None:
        require_service("nginx", "not installed (make services installs Debian's)")
    tls = {}
    if https:  # nginx -t reads the certificate and its key
        made = make_certificates(tmp_path)
        tls = {
            "certificate": str(made.certificate),
            "certificate_key": str(made.key),
            "http_listen": "127.0.0.1:8080",
            "acme_webroot": str(tmp_path / "acme"),
        }
    (tmp_path / "nginx.conf").write_text(rendered(tmp_path, as_this_user=True, **tls))
    checked = subprocess.run(
        [nginx, "-t", "-p", f"{tmp_path}/", "-e", "stderr", "-c", str(tmp_path / "nginx.conf")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert checked.returncode == 0, checked.stderr
    assert "[warn]" not in checked.stderr, checked.stderr
