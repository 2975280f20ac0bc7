"""Browser tests: real Chromium (Debian's package) against the real ASGI server.

The server runs as a subprocess on a free port with its own file-backed SQLite
database, exactly as `make run` starts it. These tests run in their own pytest
invocation (sync Playwright and pytest-asyncio do not share an event loop well).

Tests here marked `postgres` (a cluster on PostgreSQL and Redis, test_tls.py) are
deselected, not skipped, unless the default database is PostgreSQL: they run in the
PostgreSQL pass of `make test`, as tests/faults' do.
"""

import contextlib
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from tests.support import ROOT, ServerProcess, free_port, parley_env, require_service, serving

BROWSER_DIR = Path(__file__).resolve().parent
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "a-long-browser-test-passphrase"


class LiveServer:
    """Parley served on a private port, SQLite file, media and upload folders."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = parley_env(
            self.port,
            drop=("REDIS_URL",),
            DATABASE_URL=f"sqlite:///{workdir / 'browser.sqlite3'}",
            MEDIA_ROOT=str(workdir / "media"),
            UPLOAD_ROOT=str(workdir / "uploads"),
            PARLEY_HEADS_INTERVAL="2",
            PARLEY_SEND_RATE="1000,10",
            # Every browser test registers and logs in from 127.0.0.1.
            PARLEY_LIMIT_REGISTER_ADDRESS="0,1",
            PARLEY_LIMIT_LOGIN_ADDRESS="0,1",
        )

    def manage(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return result.stdout

    @contextlib.contextmanager
    def running(self) -> Iterator[ServerProcess]:
        """Migrate, then serve until the block ends."""
        self.manage("migrate", "--noinput")
        with serving(
            name="browser", port=self.port, env=self.env, log=self.workdir / "server.log"
        ) as server:
            yield server


@pytest.fixture(scope="session")
def parley_server(tmp_path_factory):
    server = LiveServer(tmp_path_factory.mktemp("live"))
    with server.running():
        yield server


def pytest_collection_modifyitems(config, items):
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        return
    deselected = [
        item
        for item in items
        if BROWSER_DIR in Path(item.path).resolve().parents
        and item.get_closest_marker("postgres") is not None
    ]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        dropped = {id(item) for item in deselected}
        items[:] = [item for item in items if id(item) not in dropped]


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    """One Playwright for the session: a second sync one cannot run beside it."""
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        require_service(
            "Chromium", f"{CHROMIUM} (apt-get install -y --no-install-recommends chromium)"
        )
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright: Playwright):
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


class Person:
    """A user with their own browser context (cookies), like a separate person."""

    def __init__(self, context: BrowserContext, server: LiveServer, username: str):
        self.context = context
        self.server = server
        self.username = username
        self.errors: list[str] = []

    def new_page(self) -> Page:
        page = self.context.new_page()
        page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))
        page.on(
            "console",
            lambda message: (
                self.errors.append(f"console: {message.text}") if message.type == "error" else None
            ),
        )
        return page

    def register(self) -> Page:
        page = self.new_page()
        page.goto(f"{self.server.url}/accounts/register/")
        page.fill("input[name=username]", self.username)
        page.fill("input[name=password1]", PASSWORD)
        page.fill("input[name=password2]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{self.server.url}/")
        return page


@pytest.fixture
def people(browser: Browser, parley_server: LiveServer):
    """Make people on demand: people("alice") → a registered Person with a fresh context."""
    made: list[Person] = []

    def make(name: str) -> Person:
        person = Person(browser.new_context(), parley_server, f"{name}-{uuid.uuid4().hex[:6]}")
        person.register().close()
        made.append(person)
        return person

    yield make
    for person in made:
        person.context.close()


# The server process has its own settings; the unit tests' settings tweaks do not apply here
# (and touching Django settings inside Playwright's event loop is not allowed).
@pytest.fixture
def fast_password_hashing():
    return None


@pytest.fixture
def generous_send_rate():
    return None


@pytest.fixture
def upload_root():
    return None  # the server process stores uploads under its own UPLOAD_ROOT
