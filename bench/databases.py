"""Private databases for one bench run, migrated like `make migrate`, and removed afterwards.

SQLite is a file in the run's temporary directory; PostgreSQL is a database of its own
on the local server (user postgres, trust auth), dropped at the end whatever happens.
"""

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
from psycopg import sql

from .environment import PYTHON, parley_env, server_root

PG_SERVER = "postgres://postgres@127.0.0.1:5432"


def sqlite_url(directory: Path) -> str:
    return f"sqlite:///{directory / 'bench.sqlite3'}"


@contextlib.contextmanager
def postgres_database(name: str = f"parley_bench_{os.getpid()}") -> Iterator[str]:
    """Create database `name`, yield its URL, and drop it at the end."""
    admin = f"{PG_SERVER}/postgres"
    ident = sql.Identifier(name)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(ident))
    try:
        yield f"{PG_SERVER}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))


def migrate(database_url: str) -> None:
    """`manage.py migrate` against the database, as `make migrate` does."""
    result = subprocess.run(
        [PYTHON, "manage.py", "migrate", "--noinput"],
        cwd=server_root.path,
        env=parley_env(database_url),
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:
        raise RuntimeError(f"migrate failed:\n{result.stdout[-2000:]}{result.stderr[-3000:]}")
