"""A person's data as one JSON document: their profile and every message they wrote
(deleted ones have no text left, and are not in it), written out as the messages are
read, a thousand at a time, so that a long history never sits in memory whole.

    {"profile": {...}, "messages": [{"room", "room_kind", "room_id", "seq", "body",
                                     "created_at", "edited_at"}, ...]}

Under ASGI the messages are read by an asynchronous iterator (Django would otherwise
read a synchronous one into a list before sending); elsewhere by `.iterator()`.
"""

import json
from collections.abc import AsyncIterator, Iterator

from chat.models import Message
from chat.protocol.frames import iso_utc

from .models import User

BATCH = 1000
MESSAGE_FIELDS = ("room__name", "room__kind", "room_id", "seq", "body", "created_at", "edited_at")


def profile_of(user: User) -> dict:
    return {
        "username": user.username,
        "display_name": user.display_name,
        "bio": user.bio,
        "time_zone": user.time_zone,
        "email": user.email,
        "email_confirmed": user.email_verified,
        "date_joined": iso_utc(user.date_joined),
        "avatar": user.avatar.url if user.avatar else None,
    }


def _messages_of(user: User):
    return (
        Message.objects.filter(author=user, deleted_at__isnull=True)
        .order_by("pk")
        .values(*MESSAGE_FIELDS)  # not values_list: its aiterator() queries too early
    )


class _Document:
    """The JSON text, handed out in pieces of about BATCH messages."""

    def __init__(self, user: User) -> None:
        profile = json.dumps(profile_of(user), ensure_ascii=False)
        self._parts = ['{"profile": ', profile, ', "messages": [']
        self._separator = "\n"

    def add(self, row: dict) -> bytes | None:
        message = {
            "room": row["room__name"],
            "room_kind": row["room__kind"],
            "room_id": row["room_id"],
            "seq": row["seq"],
            "body": row["body"],
            "created_at": iso_utc(row["created_at"]),
            "edited_at": iso_utc(row["edited_at"]),
        }
        self._parts += [self._separator, json.dumps(message, ensure_ascii=False)]
        self._separator = ",\n"
        return self._take() if len(self._parts) >= 2 * BATCH else None

    def end(self) -> bytes:
        self._parts.append("\n]}\n")
        return self._take()

    def _take(self) -> bytes:
        piece, self._parts = "".join(self._parts).encode(), []
        return piece


def document(user: User) -> Iterator[bytes]:
    writer = _Document(user)
    for row in _messages_of(user).iterator(chunk_size=BATCH):
        if piece := writer.add(row):
            yield piece
    yield writer.end()


async def adocument(user: User) -> AsyncIterator[bytes]:
    writer = _Document(user)
    async for row in _messages_of(user).aiterator(chunk_size=BATCH):
        if piece := writer.add(row):
            yield piece
    yield writer.end()
