"""The settings module read in a fresh interpreter with a given environment."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from config.settings import local_hostnames, local_origins, with_cert_reqs

ROOT = Path(__file__).resolve().parents[2]
STRONG_KEY = "k" * 50
PROBE = (
    "import json, django; from django.conf import settings; django.setup(); "
    "print(json.dumps({name: getattr(settings, name, None) for name in %r}, default=str))"
)
SERVICE_VARS = (
    "DATABASE_URL",
    "REDIS_URL",
    "REDIS_SSL_CERT_REQS",
    "HOST",
    "PORT",
    "PUBLIC_URL",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "PARLEY_ORIGINS",
)


def load_settings(env: dict[str, str], names: list[str]) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in SERVICE_VARS and k != "DEBUG"}
    base.pop("SECRET_KEY", None)
    return subprocess.run(
        [sys.executable, "-c", PROBE % (names,)],
        cwd=ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_nothing_set_runs_in_debug_on_sqlite_in_one_process():
    result = load_settings({}, ["DEBUG", "DATABASES", "REDIS_URL", "PARLEY_ORIGINS"])
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["DEBUG"] is True
    db = values["DATABASES"]["default"]
    assert db["ENGINE"] == "config.sqlite"  # Django's, placeholders rewritten once
    assert db["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in db["OPTIONS"]["init_command"]
    assert values["REDIS_URL"] == ""  # events on the process-local bus
    assert values["PARLEY_ORIGINS"] == ["http://127.0.0.1:8000", "http://localhost:8000"]


SQLITE_PROBE = (
    "import django; django.setup(); from django.db import connection; "
    "cursor = connection.cursor(); "
    "print([cursor.execute(f'PRAGMA {p}').fetchone()[0] for p in %r])"
)


def test_a_sqlite_database_is_opened_as_the_settings_say(tmp_path):
    """Whatever database the tests run on: a SQLite file opened with the settings."""
    base = {k: v for k, v in os.environ.items() if k not in SERVICE_VARS}
    pragmas = ["journal_mode", "synchronous", "foreign_keys", "busy_timeout", "cache_size"]
    result = subprocess.run(
        [sys.executable, "-c", SQLITE_PROBE % (pragmas,)],
        cwd=ROOT,
        env={
            **base,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'parley.sqlite3'}",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['wal', 1, 1, 20000, -65536]"


def test_redis_url_and_prefix_are_read_and_no_channels_layer_is_configured():
    result = load_settings(
        {"REDIS_URL": "redis://127.0.0.1:6379/3", "CHANNEL_PREFIX": "site-b"},
        ["REDIS_URL", "REDIS_PREFIX", "CHANNEL_LAYERS"],
    )
    values = json.loads(result.stdout)
    assert (values["REDIS_URL"], values["REDIS_PREFIX"]) == ("redis://127.0.0.1:6379/3", "site-b")
    # Events go over Redis pub/sub (chat/realtime/bus/); no consumer uses a Channels layer.
    assert values["CHANNEL_LAYERS"] is None


def test_database_url_selects_postgresql():
    result = load_settings(
        {"DATABASE_URL": "postgres://parley@127.0.0.1:5432/parley"}, ["DATABASES"]
    )
    db = json.loads(result.stdout)["DATABASES"]["default"]
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["NAME"], db["HOST"], db["PORT"]) == ("parley", "127.0.0.1", 5432)


@pytest.mark.parametrize(
    "secret",
    [
        None,
        "",
        "parley-insecure-development-key-do-not-use-in-production",
        "short",
        "change-me-to-50-random-characters",
    ],
    ids=["unset", "empty", "default", "short", "example"],
)
def test_production_refuses_to_start_without_a_real_secret_key(secret):
    env = {"DEBUG": "false", "ALLOWED_HOSTS": "chat.example.com"}
    if secret is not None:
        env["SECRET_KEY"] = secret
    result = load_settings(env, ["DEBUG"])
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY" in result.stderr


def test_production_refuses_to_start_without_allowed_hosts():
    result = load_settings({"DEBUG": "false", "SECRET_KEY": STRONG_KEY}, ["DEBUG"])
    assert result.returncode != 0
    assert "ALLOWED_HOSTS" in result.stderr


def test_production_refuses_to_start_without_websocket_origins():
    env = {"DEBUG": "false", "SECRET_KEY": STRONG_KEY, "ALLOWED_HOSTS": "chat.example.com"}
    result = load_settings(env, ["DEBUG"])
    assert result.returncode != 0
    assert "PARLEY_ORIGINS" in result.stderr


def test_production_with_a_safe_config_starts_with_secure_transport_settings():
    env = {
        "DEBUG": "false",
        "SECRET_KEY": STRONG_KEY,
        "ALLOWED_HOSTS": "chat.example.com",
        "CSRF_TRUSTED_ORIGINS": "https://chat.example.com",
    }
    names = [
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SECURE_SSL_REDIRECT",
        "SECURE_HSTS_SECONDS",
        "SECURE_PROXY_SSL_HEADER",
        "PARLEY_ORIGINS",
        "SECURE_REDIRECT_EXEMPT",
        "MAILERS",
    ]
    result = load_settings(env, names)
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["SESSION_COOKIE_SECURE"] is True
    assert values["CSRF_COOKIE_SECURE"] is True
    assert values["SECURE_SSL_REDIRECT"] is True
    # Without EMAIL_URL no mail leaves, rather than reset links printed to the log.
    assert values["MAILERS"]["default"]["BACKEND"] == "django.core.mail.backends.dummy.EmailBackend"
    assert values["SECURE_HSTS_SECONDS"] >= 31536000
    assert values["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert values["PARLEY_ORIGINS"] == ["https://chat.example.com"]
    # SecurityMiddleware matches these against the path without its leading slash.
    assert any(re.search(p, "healthz") for p in values["SECURE_REDIRECT_EXEMPT"])


@pytest.mark.parametrize("interval", ["0", "30", "45"])
def test_a_heads_interval_of_30_seconds_or_more_is_refused(interval):
    result = load_settings({"PARLEY_HEADS_INTERVAL": interval}, ["DEBUG"])
    assert result.returncode != 0
    assert "PARLEY_HEADS_INTERVAL" in result.stderr


@pytest.mark.parametrize("milliseconds", ["-1", "101"])
def test_a_fanout_coalescing_window_outside_0_to_100_ms_is_refused(milliseconds):
    result = load_settings({"PARLEY_FANOUT_COALESCE_MS": milliseconds}, ["DEBUG"])
    assert result.returncode != 0
    assert "PARLEY_FANOUT_COALESCE_MS" in result.stderr


@pytest.mark.parametrize(("env", "expected"), [({}, 5), ({"PARLEY_FANOUT_COALESCE_MS": "0"}, 0)])
def test_fanout_coalescing_is_5_ms_unless_set_and_0_turns_it_off(env, expected):
    result = load_settings(env, ["PARLEY_FANOUT_COALESCE_MS"])
    assert json.loads(result.stdout)["PARLEY_FANOUT_COALESCE_MS"] == expected


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        ("127.0.0.1", 8000, ["http://127.0.0.1:8000", "http://localhost:8000"]),
        ("0.0.0.0", 9000, ["http://127.0.0.1:9000", "http://localhost:9000"]),  # noqa: S104
        ("::1", 8000, ["http://[::1]:8000", "http://localhost:8000"]),
        ("chat.lan", 8080, ["http://chat.lan:8080"]),
    ],
)
def test_local_origins_are_exactly_what_the_local_server_answers_on(host, port, expected):
    assert local_origins(host, port) == expected


def test_port_and_host_from_make_run_reach_the_origin_allow_list():
    result = load_settings(
        {"HOST": "localhost", "PORT": "9000"}, ["PARLEY_ORIGINS", "ALLOWED_HOSTS"]
    )
    values = json.loads(result.stdout)
    assert values["PARLEY_ORIGINS"] == ["http://localhost:9000"]
    assert "localhost" in values["ALLOWED_HOSTS"]
    assert local_hostnames("localhost") == ["localhost"]


def test_email_url_becomes_the_default_mailer():
    unset = json.loads(load_settings({}, ["MAILERS"]).stdout)["MAILERS"]["default"]
    assert unset == {"BACKEND": "config.mail.ConsoleBackend", "OPTIONS": {}}
    smtp = load_settings(
        {"EMAIL_URL": "smtp+tls://parley:s%40cret@mail.example.com:587?timeout=10"}, ["MAILERS"]
    )
    assert smtp.returncode == 0, smtp.stderr
    assert "deprecated" not in smtp.stderr
    assert json.loads(smtp.stdout)["MAILERS"]["default"] == {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {
            "host": "mail.example.com",
            "port": 587,
            "username": "parley",
            "password": "s@cret",
            "use_tls": True,
            "timeout": 10,
        },
    }


# PUBLIC_URL: the one address a platform such as Heroku needs (docs/deploy.md, Heroku).

ORIGIN_SETTINGS = ["ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS", "PARLEY_ORIGINS", "SECURE_CSP"]
PRODUCTION = {"DEBUG": "false", "SECRET_KEY": STRONG_KEY}


def test_public_url_alone_gives_hosts_csrf_and_socket_origins_in_production():
    env = {**PRODUCTION, "PUBLIC_URL": "https://parley-demo.herokuapp.com"}
    result = load_settings(env, ORIGIN_SETTINGS)
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["ALLOWED_HOSTS"] == ["parley-demo.herokuapp.com"]
    assert values["CSRF_TRUSTED_ORIGINS"] == ["https://parley-demo.herokuapp.com"]
    assert values["PARLEY_ORIGINS"] == ["https://parley-demo.herokuapp.com"]
    assert "wss://parley-demo.herokuapp.com" in values["SECURE_CSP"]["connect-src"]


def test_settings_given_explicitly_win_over_public_url():
    env = {
        **PRODUCTION,
        "PUBLIC_URL": "https://parley-demo.herokuapp.com",
        "ALLOWED_HOSTS": "chat.example.com,parley-demo.herokuapp.com",
        "CSRF_TRUSTED_ORIGINS": "https://chat.example.com",
        "PARLEY_ORIGINS": "https://chat.example.com,https://parley-demo.herokuapp.com",
    }
    values = json.loads(load_settings(env, ORIGIN_SETTINGS).stdout)
    assert values["ALLOWED_HOSTS"] == ["chat.example.com", "parley-demo.herokuapp.com"]
    assert values["CSRF_TRUSTED_ORIGINS"] == ["https://chat.example.com"]
    assert values["PARLEY_ORIGINS"] == [
        "https://chat.example.com",
        "https://parley-demo.herokuapp.com",
    ]


def test_public_url_in_debug_replaces_the_local_defaults():
    result = load_settings({"PUBLIC_URL": "http://192.168.1.20:8000"}, ORIGIN_SETTINGS)
    values = json.loads(result.stdout)
    assert values["ALLOWED_HOSTS"] == ["192.168.1.20"]
    assert values["PARLEY_ORIGINS"] == ["http://192.168.1.20:8000"]


def test_a_public_url_that_is_not_an_absolute_http_address_is_refused():
    result = load_settings({"PUBLIC_URL": "parley-demo.herokuapp.com"}, ["DEBUG"])
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "PUBLIC_URL must be the site's address" in result.stderr


def test_production_refuses_a_plain_http_public_url():
    result = load_settings({**PRODUCTION, "PUBLIC_URL": "http://chat.example.com"}, ["DEBUG"])
    assert result.returncode != 0
    assert "PUBLIC_URL must be https://" in result.stderr


# REDIS_SSL_CERT_REQS: hosted Redis hands out a bare rediss:// URL (tests/config/test_redis_tls.py
# opens every connection with it against a Redis that speaks only TLS).


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("rediss://:pw@redis.example:6380", "rediss://:pw@redis.example:6380?ssl_cert_reqs=none"),
        ("rediss://h:6380/2?x=1", "rediss://h:6380/2?x=1&ssl_cert_reqs=none"),
        ("rediss://h/0?ssl_cert_reqs=required", "rediss://h/0?ssl_cert_reqs=required"),
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
    ],
    ids=["bare", "with-query", "url-says-otherwise", "no-tls"],
)
def test_redis_ssl_cert_reqs_is_added_to_a_rediss_url_that_does_not_say(url, expected):
    assert with_cert_reqs(url, "none") == expected


def test_redis_ssl_cert_reqs_reaches_the_redis_url_and_the_cache():
    bare = "rediss://:pw@redis.example:6380"
    env = {"REDIS_URL": bare, "REDIS_SSL_CERT_REQS": "none"}
    values = json.loads(load_settings(env, ["REDIS_URL", "CACHES"]).stdout)
    assert (
        values["REDIS_URL"]
        == values["CACHES"]["default"]["LOCATION"]
        == (f"{bare}?ssl_cert_reqs=none")
    )


def test_an_unknown_redis_ssl_cert_reqs_is_refused():
    result = load_settings(
        {"REDIS_URL": "rediss://h:6380", "REDIS_SSL_CERT_REQS": "off"}, ["DEBUG"]
    )
    assert result.returncode != 0
    assert "REDIS_SSL_CERT_REQS" in result.stderr
