"""Every Redis connection Parley opens works over TLS, as hosted Redis needs: REDIS_URL
`rediss://…?ssl_cert_reqs=none`, or `rediss://…?ssl_ca_certs=<file>` to verify the server,
or a bare `rediss://…` (as Heroku's add-on sets it) with REDIS_SSL_CERT_REQS=none.

The settings are what config/settings.py builds from that REDIS_URL (read in a fresh
interpreter), and the Redis is one of the test's own that speaks only TLS
(running_tls_redis in tests/instances.py): the fan-out (subscriber, publisher and the
blocking publish of management commands), presence, the flood counter, the budgets and
the cache.
"""

import asyncio
import contextlib
import json
import time
import uuid

import pytest
from django.core.cache.backends.redis import RedisCache

from chat import limits
from chat.realtime.bus import make_bus, publish_blocking
from chat.realtime.bus.redis import RedisBus
from chat.realtime.presence import IDLE, ONLINE, Change, RedisPresence, make_store
from chat.services.flood import _add_to_count, check_send_rate, shared_cache
from tests.config.test_settings import load_settings
from tests.instances import running_tls_redis
from tests.support import refused

REDIS_SETTINGS = ["REDIS_URL", "CACHES", "CHANNEL_LAYERS"]


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory):
    with running_tls_redis(tmp_path_factory.mktemp("tls-redis")) as server:
        yield server


@pytest.fixture(
    scope="module", params=["ssl_cert_reqs=none", "ssl_ca_certs", "REDIS_SSL_CERT_REQS=none"]
)
def built(request, tls_redis) -> dict:
    """The Redis settings config/settings.py builds from REDIS_URL, unverified or verified,
    or from a bare rediss:// REDIS_URL (as Heroku's add-on sets it) and REDIS_SSL_CERT_REQS."""
    env = {
        "ssl_cert_reqs=none": {"REDIS_URL": tls_redis.url},
        "ssl_ca_certs": {"REDIS_URL": tls_redis.verified_url},
        "REDIS_SSL_CERT_REQS=none": {
            "REDIS_URL": tls_redis.bare_url,
            "REDIS_SSL_CERT_REQS": "none",
        },
    }[request.param]
    result = load_settings(env, REDIS_SETTINGS)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def on_tls(built, settings) -> str:
    for name in REDIS_SETTINGS:
        setattr(settings, name, built[name])
    settings.REDIS_PREFIX = f"test-{uuid.uuid4().hex[:12]}"
    return settings.REDIS_URL


async def test_an_event_published_in_one_process_reaches_the_others(on_tls):
    sender, receiver = make_bus(), make_bus()
    assert isinstance(receiver, RedisBus)
    heard: asyncio.Queue = asyncio.Queue()

    async def hub_receiving() -> None:  # reads the subscription's confirmation, as a hub does
        while True:
            heard.put_nowait(await receiver.receive())

    await receiver.start()
    receiving = asyncio.create_task(hub_receiving())
    try:
        await receiver.sync(["room.7"], lambda group: True)
        [(_channel, subscribers)] = await sender.client.pubsub_numsub(receiver.channel("room.7"))
        assert subscribers == 1
        await sender.publish([("room.7", {"type": "chat.frame", "text": '{"n":1}'})])
        await asyncio.to_thread(
            publish_blocking, "room.7", {"type": "chat.grant", "room": 7, "text": '{"n":2}'}
        )
        async with asyncio.timeout(5):
            messages = [await heard.get(), await heard.get()]
    finally:
        receiving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await receiving
        await sender.stop()
        await receiver.stop()
    assert messages == [
        {"type": "chat.frame", "group": "room.7", "text": '{"n":1}'},
        {"type": "chat.grant", "group": "room.7", "room": 7, "text": '{"n":2}'},
    ]


async def test_presence_checks_in_and_reads_back(on_tls):
    store = make_store()
    assert isinstance(store, RedisPresence)
    now = time.time()
    try:
        assert await store.check_in(1, "tab-1", "active", now) == Change(1, ONLINE, None)
        assert await store.refresh([(1, "tab-1", "idle")], now) == [Change(1, IDLE, None)]
        assert (await store.statuses([1], now))[1] == {"status": IDLE, "last_seen": None}
    finally:
        await store.close()


def test_the_flood_counter_and_the_cache_count_on_redis(on_tls, settings):
    assert isinstance(shared_cache(), RedisCache)
    key = f"tls-{uuid.uuid4().hex}"
    assert [_add_to_count(key, 1, 60), _add_to_count(key, 2, 60)] == [1, 3]
    shared_cache().set(key, "kept")
    assert shared_cache().get(key) == "kept"
    settings.PARLEY_SEND_RATE = (2, 3600)
    user_id = uuid.uuid4().int % 10**9
    check_send_rate(user_id)
    check_send_rate(user_id)  # past half the limit: shared through Redis
    refused("rate_limited", check_send_rate, user_id)
    settings.PARLEY_LIMITS = {**settings.PARLEY_LIMITS, "search": (1, 3600)}
    limits.spend("search", user_id)  # the budgets' script, run in Redis
    refused("rate_limited", limits.spend, "search", user_id)


async def test_a_certificate_nobody_vouches_for_is_refused(tls_redis, settings):
    settings.REDIS_URL = tls_redis.bare_url
    bus = make_bus()
    try:
        with pytest.raises(Exception, match=r"(?i)certificate verify failed"):
            await bus.publish([("room.7", {"type": "chat.frame", "text": "{}"})])
    finally:
        await bus.stop()
