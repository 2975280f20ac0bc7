"""How events travel from the process that commits them to every process's hub.

Transports with one interface; `make_bus` picks one:

- `redis.RedisBus`, when REDIS_URL is set: Redis pub/sub, one subscriber connection
  and one publish-only connection per process.
- `local.LocalBus`, without Redis: the hubs of this process, directly.
- `layer.LayerBus`, for any other Channels layer configured.

All carry the same messages (`codec`). Lost events are the database's to repair:
clients catch up by seq from `heads`.
"""

import functools

from asgiref.sync import async_to_sync
from django.conf import settings

from .codec import Batch, Message, channel_namespace, pack
from .layer import LayerBus
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
    layer = _configured_layer()
    if layer is None:
        publish_locally([(group, message)])
    else:
        async_to_sync(LayerBus(layer).publish)([(group, message)])


def _configured_layer():
    """The Channels layer to carry events, or None where LocalBus stands in for it."""
    from channels.layers import InMemoryChannelLayer, get_channel_layer

    layer = get_channel_layer()
    return None if type(layer) is InMemoryChannelLayer else layer


def make_bus() -> LocalBus | LayerBus | RedisBus:
    if settings.REDIS_URL:
        return RedisBus(settings.REDIS_URL, settings.REDIS_PREFIX)
    layer = _configured_layer()
    return LocalBus() if layer is None else LayerBus(layer)
