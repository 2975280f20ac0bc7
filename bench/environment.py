"""The environment every Parley process of one bench run shares: server, migrate, fixtures.

One place, because they must agree: the fixtures sign session cookies with the
SECRET_KEY the server checks them with, and write to the database it reads.
"""

import os
import secrets
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # this checkout, where the bench lives


class _ServerRoot:
    """The Parley checkout whose server is measured: this one, or another revision's tree
    (`--server-root`), so two revisions can be compared with one bench."""

    path: Path = ROOT


server_root = _ServerRoot()
PYTHON = sys.executable
HOST = "127.0.0.1"
REDIS_URL = "redis://127.0.0.1:6379/13"
# Flood control allows 100,000 sends per second per user, so it never interferes.
SEND_RATE = "100000,1"
# Every bench socket comes from 127.0.0.1: the cap per address (200 by default) would
# refuse all but the first 200 of a room of 1,000.
SOCKETS_PER_ADDRESS = "100000"

# Parley settings a developer's shell (or .env) might hold; the bench sets each one
# explicitly (an empty value still stops .env from filling it in).
PARLEY_VARIABLES = (
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "PARLEY_ORIGINS",
    "DATABASE_URL",
    "CONN_MAX_AGE",
    "REDIS_URL",
    "CHANNEL_PREFIX",
    "HOST",
    "PORT",
    "PARLEY_SEND_RATE",
    "PARLEY_MAX_SOCKETS_PER_ADDRESS",
    "PARLEY_HEADS_INTERVAL",
    "LOG_LEVEL",
    "SECURE_SSL_REDIRECT",
)

_SECRET_KEY = "bench-" + secrets.token_urlsafe(48)


def parley_env(
    database_url: str,
    *,
    port: int = 0,
    redis_prefix: str | None = None,
    conn_max_age: int | None = None,
    debug: bool = False,
    redis_url: str = REDIS_URL,
) -> dict[str, str]:
    """Environment for a Parley process: production settings (DEBUG off) unless `debug`.

    `redis_prefix` selects Redis (pub/sub, presence, cache; at `redis_url`) under that key
    prefix; without it everything stays in the process. `port` sets HOST/PORT and the Origin
    allow-list to this server's own origin, as `make run` does.
    """
    env = {k: v for k, v in os.environ.items() if k not in PARLEY_VARIABLES}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        # The server's code first; bench's own modules (tutorial, fixtures) from here.
        PYTHONPATH=os.pathsep.join(dict.fromkeys([str(server_root.path), str(ROOT)])),
        DEBUG="true" if debug else "false",
        SECRET_KEY=_SECRET_KEY,
        ALLOWED_HOSTS=f"{HOST},localhost",
        CSRF_TRUSTED_ORIGINS="",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url if redis_prefix else "",
        CHANNEL_PREFIX=redis_prefix or "parley",
        HOST=HOST,
        PORT=str(port or 8000),
        PARLEY_ORIGINS=f"http://{HOST}:{port or 8000}",
        PARLEY_SEND_RATE=SEND_RATE,
        PARLEY_MAX_SOCKETS_PER_ADDRESS=SOCKETS_PER_ADDRESS,
        LOG_LEVEL="INFO",
    )
    if conn_max_age is not None:
        env["CONN_MAX_AGE"] = str(conn_max_age)
    return env
