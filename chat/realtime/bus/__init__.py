"""How events travel from the process that commits them to every process's hub.

Two transports with one interface; `make_bus` picks one:

- `redis.RedisBus`, when REDIS_URL is set: Redis pub/sub, one subscriber connection
  and one publish-only connection per process.
- `local.LocalBus`, without Redis: the hubs of this process, directly.

Both carry the same messages (`codec`). Lost events are the database's to repair:
clients catch up by seq from `heads`.
"""

import functools

from django.conf import settings

from .codec import Batch, Message, channel_namespace, pack
from .local import LocalBus, call_on_loop, publish_locally
from .redis import RedisBus

__all__ = ["Batch", "Message", "call_on_loop", "make_bus", "publish_blocking"]


@functools.cache
def _blocking_client(url: str):
    import redis

    return redis.Redis.from_url(url)


def publish_blocking(group: str, message: Message) -> None:
    """Publish and wait, from code that has no serving event loop (a management command)."""
    url = settings.REDIS_URL
    if url:
        channel = f"{channel_namespace(url, settings.REDIS_PREFIX)}{group}"
        _blocking_client(url).publish(channel, pack(message))
        return
    publish_locally([(group, message)])


def make_bus() -> LocalBus | RedisBus:
    if settings.REDIS_URL:
        return RedisBus(settings.REDIS_URL, settings.REDIS_PREFIX)
    return LocalBus()
