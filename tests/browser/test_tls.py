"""Parley over https and wss://, as on a real host: two workers with DEBUG=false behind
nginx serving a certificate the test makes (deploy/nginx.conf.template's TLS variant),
with plain http on another port redirecting to it, on PostgreSQL and Redis.

Chromium trusts nothing extra but that certificate's key (--ignore-certificate-errors-
spki-list: without it the page is refused as signed by an unknown authority), so it
treats the site as it would a real one: a secure context, Secure cookies kept.

The workers use a PostgreSQL database of their own (made and dropped here: a browser
test has no pytest-django test database) and a private Redis prefix. nginx must be
installed (`make services`): without it this skips on a developer machine and fails
under CI=true; without PostgreSQL as the default database it is deselected (conftest).
"""

import http.client
import re
import socket
import ssl
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

import psycopg
import pytest
from django.conf import settings
from playwright.sync_api import Browser, Page, Playwright, Response, expect

from config.cluster import BODY_SLACK, WORKER_ENV, https_environment
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, Person
from tests.browser.test_chat_client import MESSAGES, join_room, send_from_composer, sockets_of
from tests.cluster import Cluster, Https, require_nginx, running_cluster
from tests.support import (
    HOST,
    ROOT,
    free_port,
    make_certificates,
    parley_env,
    private_redis,
    require_service,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

REDIS_DB = 13  # the cluster's own; its keys under a prefix of its own
UPLOAD_MAX = 1024 * 1024
# What config/settings.py sends with DEBUG off and nothing else said: a year, subdomains.
HSTS = "max-age=31536000; includeSubDomains"
WAIT_MS = 10_000  # every Playwright wait


@contextmanager
def own_database() -> Iterator[str]:
    """A fresh PostgreSQL database beside the configured one, dropped afterwards: its URL."""
    db = settings.DATABASES["default"]
    name = f"test_{db['NAME']}_https"
    server = {
        "host": db["HOST"] or "127.0.0.1",
        "port": db["PORT"] or 5432,
        "user": db["USER"],
        "password": db["PASSWORD"] or None,
    }
    try:
        admin = psycopg.connect(dbname="postgres", autocommit=True, connect_timeout=5, **server)
    except psycopg.OperationalError as exc:
        require_service("PostgreSQL", f"it does not answer ({exc})")
    with admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # a crashed run's
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            password = f":{quote(server['password'], safe='')}" if server["password"] else ""
            yield (
                f"postgres://{quote(server['user'] or '', safe='')}{password}"
                f"@{server['host']}:{server['port']}/{name}"
            )
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        check=True,
        timeout=180,
    )


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[Cluster]:
    nginx = require_nginx()
    workdir = tmp_path_factory.mktemp("https")
    certificates = make_certificates(workdir)
    port, http_port = free_port(), free_port()
    with own_database() as database_url, private_redis(REDIS_DB) as (redis_url, prefix):
        env = parley_env(
            port,
            drop=("PARLEY_ORIGINS", "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS", "WORKERS"),
            DATABASE_URL=database_url,
            REDIS_URL=redis_url,
            CHANNEL_PREFIX=prefix,
            MEDIA_ROOT=str(workdir / "media"),
            UPLOAD_ROOT=str(workdir / "uploads"),
            PARLEY_UPLOAD_MAX_BYTES=str(UPLOAD_MAX),
            PARLEY_HEADS_INTERVAL="2",
            # Every person registers from 127.0.0.1.
            PARLEY_LIMIT_REGISTER_ADDRESS="0,1",
            PARLEY_LIMIT_LOGIN_ADDRESS="0,1",
            **WORKER_ENV,
            # As `make cluster` runs them over https: DEBUG off, PUBLIC_URL the proxy's.
            **https_environment(f"https://{HOST}:{port}", workdir / "static", {}),
        )
        manage(env, "migrate", "--noinput")
        manage(env, "collectstatic", "--noinput")
        with running_cluster(
            nginx,
            workdir,
            port=port,
            workers=2,
            env=env,
            body_max=UPLOAD_MAX + BODY_SLACK,
            https=Https(certificates, http_port),
        ) as cluster:
            yield cluster


@pytest.fixture(scope="module")
def pinned_browser(playwright: Playwright, cluster: Cluster) -> Iterator[Browser]:
    """Chromium that accepts the test's certificate, by its key, and nothing else new."""
    pin = cluster.https.certificates.key_pin()
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=[*CHROMIUM_ARGS, f"--ignore-certificate-errors-spki-list={pin}"],
    )
    yield browser
    browser.close()


class Visitor(Person):
    """A person in a context of their own who keeps every response the site sent them."""

    def __init__(self, browser: Browser, cluster: Cluster, name: str):
        context = browser.new_context()
        context.set_default_timeout(WAIT_MS)
        super().__init__(context, cluster, f"{name}-{uuid.uuid4().hex[:6]}")
        self.responses: list[Response] = []
        context.on("response", lambda response: self.responses.append(response))


@pytest.fixture
def visitors(pinned_browser: Browser, cluster: Cluster):
    made: list[Visitor] = []

    def make(name: str) -> Visitor:
        made.append(Visitor(pinned_browser, cluster, name))
        return made[-1]

    yield make
    for visitor in made:
        visitor.context.close()


def connected(page: Page) -> None:
    expect(page.locator("#connection")).to_have_attribute("data-state", "connected")


def test_two_people_register_and_chat_over_https_and_wss_through_a_rolling_restart(
    visitors, cluster
):
    alice, bob = visitors("alice"), visitors("bob")
    room = f"tls {uuid.uuid4().hex[:6]}"
    pages, sockets = {}, {}
    for person in (alice, bob):
        pages[person] = person.register()
        assert pages[person].url == f"{cluster.url}/"
        sockets[person] = sockets_of(pages[person])
    room_id = join_room(pages[alice], room)
    assert join_room(pages[bob], room) == room_id

    # The cookies as the browser keeps them: the session and CSRF cookies Secure, the
    # session one out of scripts' reach, both only on same-site requests and top-level
    # navigations (SameSite=Lax).
    for person in (alice, bob):
        cookies = {c["name"]: c for c in person.context.cookies(cluster.url)}
        session = cookies[settings.SESSION_COOKIE_NAME]
        csrf = cookies[settings.CSRF_COOKIE_NAME]
        assert (session["secure"], session["httpOnly"], session["sameSite"]) == (
            True,
            True,
            "Lax",
        ), session
        assert (csrf["secure"], csrf["sameSite"]) == (True, "Lax"), csrf

    sent: list[str] = []

    def chat(person: Visitor, text: str) -> None:
        send_from_composer(pages[person], text)
        sent.append(text)

    chat(alice, "hello bob, over wss")
    expect(pages[bob].locator(MESSAGES)).to_have_text(sent)
    chat(bob, "hi alice")
    expect(pages[alice].locator(MESSAGES)).to_have_text(sent)

    # Each worker in turn: SIGTERM (its sockets close with 1012 and reconnect through
    # nginx to the other), both people send meanwhile, then it starts again. Every
    # socket was on one of them, so each page reconnects at least once.
    for index in range(len(cluster.workers)):
        cluster.stop_worker(index)
        chat(alice, f"alice while worker {index} is down")
        chat(bob, f"bob while worker {index} is down")
        cluster.start_worker(index)
        for person in (alice, bob):
            expect(pages[person].locator(MESSAGES)).to_have_count(len(sent))
            connected(pages[person])
    reconnected = {person: len(sockets[person]) - 1 for person in (alice, bob)}
    chat(alice, "after both restarts")
    chat(bob, "still here")

    # The same messages, once each, in the same order (their seq) on both pages; and the
    # server stored exactly those: a reload draws the room from its history.
    shown = {}
    for person in (alice, bob):
        messages = pages[person].locator(MESSAGES)
        expect(messages).to_have_count(len(sent))
        shown[person] = messages.all_inner_texts()
    assert shown[alice] == shown[bob]
    assert sorted(shown[alice]) == sorted(sent)
    pages[bob].reload()
    connected(pages[bob])
    expect(pages[bob].locator(MESSAGES)).to_have_text(shown[alice])
    expect(pages[alice].locator(MESSAGES)).to_have_text(shown[alice])  # nothing came twice

    for person in (alice, bob):
        assert reconnected[person] >= 1, f"{person.username}'s socket never reconnected"
        opened = sockets[person]
        assert all(s.url == f"wss://{HOST}:{cluster.port}/ws/" for s in opened), opened
        # Every page and API answer from the site carries HSTS. (Not checked on static
        # files: Chromium's cache keeps no Strict-Transport-Security, so one it serves
        # from there shows none, though Parley sent it.)
        answers = [
            r
            for r in person.responses
            if r.url.startswith(cluster.url) and r.request.resource_type in ("document", "fetch")
        ]
        assert {r.request.resource_type for r in answers} == {"document", "fetch"}
        for answer in answers:
            assert answer.headers.get("strict-transport-security") == HSTS, answer.url
        assert person.errors == []
    cluster.no_tracebacks()


def test_plain_http_answers_301_to_the_same_path_over_https(pinned_browser, cluster):
    plain = f"http://{HOST}:{cluster.https.http_port}"
    for method, path in (
        ("GET", "/some/path?q=1&r=%C3%A9"),
        ("POST", "/api/rooms/1/messages"),
        ("GET", "/healthz"),
    ):
        connection = http.client.HTTPConnection(HOST, cluster.https.http_port, timeout=10)
        try:
            connection.request(method, path, headers={"Host": f"{HOST}:{cluster.https.http_port}"})
            answer = connection.getresponse()
            answer.read()
        finally:
            connection.close()
        assert answer.status == 301, (method, path)
        assert answer.getheader("Location") == f"{cluster.url}{path}", (method, path)
        assert answer.getheader("Set-Cookie") is None

    context = pinned_browser.new_context()
    context.set_default_timeout(WAIT_MS)
    try:
        page = context.new_page()
        landed = page.goto(f"{plain}/accounts/login/?next=/rooms/")
        assert landed.status == 200
        assert page.url == f"{cluster.url}/accounts/login/?next=/rooms/"
        assert landed.request.redirected_from.url == f"{plain}/accounts/login/?next=/rooms/"
        assert landed.headers["strict-transport-security"] == HSTS
    finally:
        context.close()


def handshake(cluster: Cluster, context: ssl.SSLContext) -> tuple[str, str]:
    """(the protocol, the cipher) nginx agrees to with a client offering what `context` does."""
    with (
        socket.create_connection((HOST, cluster.port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=HOST) as tls,
    ):
        return tls.version(), tls.cipher()[0]


def offering(cluster: Cluster, version: ssl.TLSVersion, ciphers: str | None = None):
    context = cluster.https.certificates.client_context()
    if version < ssl.TLSVersion.TLSv1_2:
        context.set_ciphers("ALL:@SECLEVEL=0")  # so this client does offer the old protocol
    context.minimum_version = context.maximum_version = version
    if ciphers:
        context.set_ciphers(ciphers)
    return context


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")  # offered on purpose
def test_nginx_speaks_tls_1_2_and_1_3_with_forward_secret_aead_ciphers_only(cluster):
    """Mozilla's "intermediate" profile (deploy/nginx.conf.template)."""
    assert handshake(cluster, offering(cluster, ssl.TLSVersion.TLSv1_3))[0] == "TLSv1.3"
    version, cipher = handshake(cluster, offering(cluster, ssl.TLSVersion.TLSv1_2))
    assert version == "TLSv1.2" and re.fullmatch(r"ECDHE-ECDSA-(AES\d+-GCM|CHACHA20).*", cipher)
    for old in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1):
        with pytest.raises(ssl.SSLError, match=r"(?i)alert protocol version"):
            handshake(cluster, offering(cluster, old))
    # Forward secret but CBC, not AEAD: offered alone, refused.
    for weak in ("ECDHE-ECDSA-AES128-SHA256", "ECDHE-ECDSA-AES256-SHA"):
        with pytest.raises(ssl.SSLError, match=r"(?i)handshake failure"):
            handshake(cluster, offering(cluster, ssl.TLSVersion.TLSv1_2, weak))


def test_the_certificate_is_what_chromium_trusts_and_nothing_else(playwright, cluster):
    """Without the pin Chromium refuses the site: the test trusts one key, not any."""
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
        page = browser.new_page()
        with pytest.raises(Exception, match="ERR_CERT_AUTHORITY_INVALID"):
            page.goto(f"{cluster.url}/healthz", timeout=WAIT_MS)
    finally:
        browser.close()
