"""Fault tests: lost events, concurrent writers, several server processes.

Each CI run tests the database it is given. Tests in this folder marked
`postgres` are deselected (not skipped) when the default database is not
PostgreSQL, and tests marked `sqlite` are deselected when it is not SQLite, so
the SQLite run of `make test` shows no skip for them and the PostgreSQL run
runs them for real. The hook only touches items under this folder.
"""

from contextlib import ExitStack
from pathlib import Path

import channels.db
import django.db
import pytest

from tests.cluster import require_nginx
from tests.faults.cluster import Cluster
from tests.support import private_redis

FAULTS_DIR = Path(__file__).resolve().parent
REDIS_DB = 14  # the real servers' own; each test's keys under a prefix of its own
ENGINE_MARKERS = {
    "postgres": "django.db.backends.postgresql",
    "sqlite": "config.sqlite",
}


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "sqlite: runs only when the default database is SQLite (tests/faults)"
    )


def pytest_collection_modifyitems(config, items):
    from django.conf import settings

    engine = settings.DATABASES["default"]["ENGINE"]
    deselected = [
        item
        for item in items
        if FAULTS_DIR in Path(item.path).resolve().parents
        and any(
            item.get_closest_marker(marker) is not None and engine != wanted
            for marker, wanted in ENGINE_MARKERS.items()
        )
    ]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        dropped = {id(item) for item in deselected}
        items[:] = [item for item in items if id(item) not in dropped]


@pytest.fixture(autouse=True)
def unlimited_send_rate(settings):
    """These tests send bursts on purpose; flood control is tested elsewhere."""
    settings.PARLEY_SEND_RATE = (100_000, 10)


@pytest.fixture(autouse=True)
def connections_still_get_closed():
    """channels.testing patches channels.db.close_old_connections while it waits for
    output; overlapping waits can leave the no-op in place for the whole session."""
    yield
    if channels.db.close_old_connections is not django.db.close_old_connections:
        channels.db.close_old_connections = django.db.close_old_connections
        pytest.fail("channels.db.close_old_connections was left patched to a no-op")


@pytest.fixture
def redis_url():
    """A Redis database and key prefix for real servers' pub/sub and presence: (url,
    prefix). The prefix's keys are removed afterwards."""
    with private_redis(REDIS_DB) as found:
        yield found


@pytest.fixture
def nginx() -> str:
    return require_nginx()


@pytest.fixture
def cluster(transactional_db, redis_url, nginx, tmp_path):
    """Two workers behind nginx (tests/faults/cluster.py) on the test database and a
    private Redis prefix. Depends on transactional_db so that it is torn down first: the
    workers' database sessions must be gone before the test database is flushed."""
    with ExitStack() as stack:
        cluster = Cluster(nginx, tmp_path, redis_url)
        stack.callback(cluster.stop)
        cluster.start()
        yield cluster
