"""The WebSocket's paths (after the root path) and their consumers (chat.realtime.entry)."""

from .consumer import ChatConsumer

websocket_routes = {
    "ws/": ChatConsumer,
}
