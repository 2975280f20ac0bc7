"""Settings for the tutorial baseline: Parley's, with the tutorial's own channel layer.

The baseline must not change when Parley tunes its layer for the hub, so it takes
the in-memory layer exactly as the Channels tutorial configures it.
"""

from config.settings import *  # noqa: F403

CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
