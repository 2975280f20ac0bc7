"""One WebSocket per browser tab: authenticate, dispatch frames to services, forward events."""

import asyncio
import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.db import DatabaseError

from . import fanout, queries, services
from .errors import ChatError
from .models import Room
from .protocol import (
    Fetch,
    Ping,
    Read,
    Send,
    encode,
    error_frame,
    message_dict,
    parse_frame,
    user_dict,
)

logger = logging.getLogger(__name__)


@database_sync_to_async
def _hello_rooms(user) -> list[dict]:
    return queries.rooms_for_user(user)


@database_sync_to_async
def _send(user, command: Send) -> dict:
    message, _created = services.send_message(
        user, command.room, command.body, command.client_msg_id
    )
    return {"type": "ack", "client_msg_id": command.client_msg_id, "message": message_dict(message)}


@database_sync_to_async
def _fetch(user, command: Fetch) -> dict:
    page = queries.message_page(
        user, command.room, after=command.after, before=command.before, limit=command.limit
    )
    return {"type": "messages", **page, "after": command.after, "before": command.before}


@database_sync_to_async
def _read(user, command: Read) -> None:
    services.mark_read(user, command.room, command.seq)


@database_sync_to_async
def _heads(room_ids: list[int]) -> dict[str, int]:
    return {
        str(pk): seq
        for pk, seq in Room.objects.filter(pk__in=room_ids).values_list("pk", "last_seq")
    }


class ChatConsumer(AsyncWebsocketConsumer):
    """The server end of one tab's socket. It holds no rules: services and access do."""

    async def connect(self):
        self.user = self.scope.get("user")
        self.room_ids: set[int] = set()
        self.heads_task: asyncio.Task | None = None
        if self.user is None or not self.user.is_authenticated:
            await self.close()
            return
        # Subscribe before reading state, so nothing committed in between is missed.
        await self.channel_layer.group_add(fanout.user_group(self.user.pk), self.channel_name)
        rooms = await _hello_rooms(self.user)
        for room in rooms:
            await self._subscribe(room["id"])
        await self.accept()
        await self.send_frame({"type": "hello", "user": user_dict(self.user), "rooms": rooms})
        self.heads_task = asyncio.create_task(self._send_heads_forever())

    async def disconnect(self, code):
        if self.heads_task is not None:
            self.heads_task.cancel()
        if getattr(self, "user", None) is None or not self.user.is_authenticated:
            return
        await self.channel_layer.group_discard(fanout.user_group(self.user.pk), self.channel_name)
        for room_id in list(self.room_ids):
            await self._unsubscribe(room_id)

    async def receive(self, text_data=None, bytes_data=None):
        command = None
        try:
            command = parse_frame(text_data)
            reply = await self.handle(command)
            if reply is not None and command.request_id is not None:
                reply["request_id"] = command.request_id
            await self.send_frame(reply)
        except ChatError as error:
            await self.send_error(error, command)
        except DatabaseError:
            logger.exception("database error handling a frame")
            await self.send_error(ChatError("unavailable", "Try again shortly."), command)
        except Exception:
            # A bug must cost one frame, not the tab's connection.
            logger.exception("unexpected error handling a frame")
            await self.send_error(ChatError("unavailable", "Internal error."), command)

    async def send_error(self, error: ChatError, command) -> None:
        """The error frame, paired with the command's ids when the command was parsed."""
        if command is not None:
            error.client_msg_id = error.client_msg_id or getattr(command, "client_msg_id", None)
            error.request_id = error.request_id or command.request_id
        await self.send_frame(error_frame(error))

    async def handle(self, command) -> dict | None:
        match command:
            case Send():
                return await _send(self.user, command)
            case Fetch():
                return await _fetch(self.user, command)
            case Read():
                await _read(self.user, command)
                return None
            case Ping():
                return {"type": "pong"}

    async def send_frame(self, frame: dict | None) -> None:
        if frame is not None:
            await self.send(text_data=encode(frame))

    async def _subscribe(self, room_id: int) -> None:
        await self.channel_layer.group_add(fanout.room_group(room_id), self.channel_name)
        self.room_ids.add(room_id)

    async def _unsubscribe(self, room_id: int) -> None:
        self.room_ids.discard(room_id)
        await self.channel_layer.group_discard(fanout.room_group(room_id), self.channel_name)

    async def _send_heads_forever(self) -> None:
        """Every few seconds, each room's newest seq, so a dropped event is noticed."""
        while True:
            await asyncio.sleep(settings.PARLEY_HEADS_INTERVAL)
            try:
                heads = await _heads(list(self.room_ids))
            except DatabaseError:
                logger.warning("heads query failed", exc_info=True)
                continue
            await self.send_frame({"type": "heads", "rooms": heads})

    # Channel-layer events, published by chat.fanout.

    async def chat_frame(self, event):
        await self.send(text_data=event["text"])

    async def chat_grant(self, event):
        await self._subscribe(event["room"])
        await self.send(text_data=event["text"])

    async def chat_revoke(self, event):
        await self._unsubscribe(event["room"])
        await self.send(text_data=event["text"])
