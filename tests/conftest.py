"""Shared test set-up.

Tests that need a real service are marked `postgres` or `redis`. Without the
service they skip on a developer machine, and fail under CI=true: in CI such a
test must run, never skip. `make test-fast` leaves them out (-m "not redis and not
postgres"), so a test that talks to Redis or PostgreSQL must carry its mark.
"""

import json
import uuid

import pytest
import redis
from django.test import AsyncClient, Client

from chat.http.conformance import check_response, covers
from chat.protocol.schema import check_frame
from chat.realtime import fanout

from .factories import UserFactory
from .support import Published


@pytest.fixture
def user(db):
    return UserFactory(username="alice")


@pytest.fixture
def other_user(db):
    return UserFactory(username="bob")


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Real hashing costs ~0.3 s per user; tests do not need the strength."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def generous_send_rate(settings):
    """Rate limits and budgets have their own tests; elsewhere they must not interfere."""
    settings.PARLEY_SEND_RATE = (10_000, 10)
    settings.PARLEY_LIMITS = {name: (0, 1) for name in settings.PARLEY_LIMIT_DEFAULTS}


def held_to_the_api_document(response):
    """A test client's answer to a path the OpenAPI document covers, checked against it."""
    request = getattr(response, "wsgi_request", None) or response.asgi_request
    if covers(request.path):
        check_response(
            request.method,
            request.path,
            response.status_code,
            response.get("Content-Type", ""),
            response.content,
        )
    return response


@pytest.fixture(autouse=True, scope="session")
def api_answers_follow_the_document():
    """Every answer the test clients get under /api/ (or to a webhook's URL) must be
    one chat/http/openapi.py documents (status, content type, body): a change that
    disagrees fails its tests."""
    sync_request, async_request = Client.request, AsyncClient.request

    def checked(self, **request):
        return held_to_the_api_document(sync_request(self, **request))

    async def async_checked(self, **request):
        return held_to_the_api_document(await async_request(self, **request))

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Client, "request", checked)
        patch.setattr(AsyncClient, "request", async_checked)
        yield


@pytest.fixture
def fresh_cache(settings):
    """An empty, private cache (LocMem, or Redis under a unique key prefix when configured)."""
    prefix = f"test-{uuid.uuid4().hex}"
    if settings.REDIS_URL:
        backend = {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": settings.REDIS_URL,
        }
    else:
        backend = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": prefix}
    settings.CACHES = {"default": {**backend, "KEY_PREFIX": prefix}}


@pytest.fixture(autouse=True)
def no_presence_from_earlier_tests(settings):
    """With Redis, presence lives outside the test database: start every test without it."""
    if not settings.REDIS_URL:
        return
    client = redis.Redis.from_url(settings.REDIS_URL)
    stale = list(client.scan_iter(f"{settings.REDIS_PREFIX}:presence:*"))
    if stale:
        client.delete(*stale)
    client.close()


@pytest.fixture(autouse=True)
def upload_root(settings, tmp_path):
    """Attachments go to a private folder per test, never into the work tree."""
    root = tmp_path / "uploads"
    settings.STORAGES = {
        **settings.STORAGES,
        "uploads": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": root, "base_url": "/files/"},
        },
    }
    return root


@pytest.fixture
def published(monkeypatch) -> list[Published]:
    """Every publish made after commit, recorded instead of sent, in order; each
    frame held to its schema (chat/protocol/schema.py) as it is recorded (one published
    as its encoded text, decoded)."""
    calls: list[Published] = []

    def record(to: str, target: int, frame: dict | str, room: int | None = None) -> None:
        frame = json.loads(frame) if isinstance(frame, str) else frame
        check_frame(frame)
        calls.append(Published(to, target, frame, room))

    monkeypatch.setattr(
        fanout,
        "publish_to_room",
        lambda room, frame, *, except_user=None, except_socket=None: record("room", room, frame),
    )
    monkeypatch.setattr(
        fanout,
        "publish_to_rooms",
        lambda frames: [record("room", room, frame) for room, frame, _socket in frames],
    )
    monkeypatch.setattr(fanout, "publish_to_user", lambda user, frame: record("user", user, frame))
    monkeypatch.setattr(
        fanout, "grant_room", lambda user, room, frame: record("grant", user, frame, room)
    )
    monkeypatch.setattr(
        fanout, "revoke_room", lambda user, room, frame: record("revoke", user, frame, room)
    )
    return calls
