"""Every frame the server sends, built here and nowhere else, and encoded once.

A frame is a dict with a `type`; docs/protocol.md describes each one, and
chat/protocol/schema.py holds the schema the tests check every frame against.
The payload helpers (`message_dict`, `room_dict`…) are the shapes the HTTP API
answers with too. Times are ISO 8601 in UTC with a `Z`, everywhere.
"""

import json
from collections.abc import Mapping
from datetime import UTC, datetime

from django.urls import reverse

from .. import notifications
from ..content import richtext
from ..errors import ChatError

QUOTE_CHARS = 120


# One encoder for every frame: json.dumps with options builds a new one per call (about
# 2 of the 10 µs a message frame takes).
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def encode(frame: dict | str) -> str:
    return _ENCODER.encode(frame)


def iso_utc(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is not UTC:  # the database's own offset, or a naive local time
        moment = moment.astimezone(UTC)
    return moment.replace(tzinfo=None).isoformat() + "Z"  # not "+00:00" (formatted slower)


def iso_from_timestamp(timestamp: float | None) -> str | None:
    return iso_utc(datetime.fromtimestamp(timestamp, UTC)) if timestamp else None


# Payloads: objects as frames and API answers carry them.


def user_dict(user) -> dict:
    """A person as every frame shows them; `avatar` is their picture's address, or null
    (the client shows their initial then); `is_bot` for a bot (accounts.bots)."""
    if user is None:
        return {
            "id": None,
            "username": "",
            "display_name": "Deleted user",
            "avatar": None,
            "is_bot": False,
        }
    return {
        "id": user.pk,
        "username": user.username,
        "display_name": user.shown_name,
        "avatar": user.avatar.url if user.avatar else None,
        "is_bot": user.is_bot,
    }


def person_dict(person, *, me: bool, blocked: bool, can_message: bool) -> dict:
    """A person's card (GET /api/people/<username>): who they are, their bio, their time
    zone (the client shows their local time from it), and what the viewer may do:
    `blocked` (the viewer blocks them), `can_message` and where the conversation opens."""
    return {
        "user": user_dict(person),
        "bio": person.bio,
        "time_zone": person.time_zone or None,
        "me": me,
        "blocked": blocked,
        "can_message": can_message,
        "dm_url": reverse("direct", args=[person.username]) if can_message else None,
    }


def reply_quote(parent) -> dict:
    """What a reply shows of its parent: who wrote it and its first line (author loaded)."""
    deleted = parent.deleted_at is not None
    if deleted:
        first_line = ""
    elif parent.html:  # the text shown, not the Markdown typed
        first_line = richtext.first_line(parent.html)
    else:  # stored without its html: the body is what is shown
        first_line = parent.body.split("\n", 1)[0]
    return {
        "id": parent.pk,
        "seq": parent.seq,
        "author": user_dict(parent.author),
        "excerpt": first_line[:QUOTE_CHARS],
        "deleted": deleted,
    }


def attachment_dict(attachment) -> dict:
    """An upload as messages and the upload endpoint carry it; the URLs are the
    access-checked /files/ views."""
    return {
        "id": attachment.pk,
        "name": attachment.name,
        "size": attachment.size,
        "content_type": attachment.content_type,
        "url": reverse("attachment-file", args=[attachment.pk, attachment.name]),
        "thumb_url": reverse("attachment-thumb", args=[attachment.pk])
        if attachment.is_image
        else None,
        "width": attachment.width,
        "height": attachment.height,
    }


def message_dict(message) -> dict:
    """A message as every API answer and event carries it.

    Needs `author` (and `reply_to.author` for a reply) loaded, and the
    `reaction_summary`, `mention_ids` and `attachment_list` that
    chat.queries.with_extras attaches.
    A deleted message is a tombstone: its seq stays, its text is gone.
    """
    deleted = message.deleted_at is not None
    return {
        "id": message.pk,
        "room": message.room_id,
        "seq": message.seq,
        "author": user_dict(message.author),
        "body": "" if deleted else message.body,
        "html": "" if deleted else message.html,
        "created_at": iso_utc(message.created_at),
        "client_msg_id": str(message.client_msg_id),
        "edited_at": iso_utc(message.edited_at),
        "rev": message.rev,
        "deleted": deleted,
        "reply_to": reply_quote(message.reply_to) if message.reply_to_id else None,
        "mentions": message.mention_ids,
        "reactions": message.reaction_summary,
        "attachments": [attachment_dict(a) for a in message.attachment_list],
        "thread_root": message.thread_root_id,
        "also_in_room": message.also_in_room,
        "thread": thread_summary(message),
        "via": message.via,
    }


def thread_summary(root) -> dict | None:
    """What a thread's root shows of it (null until it has a reply that is not deleted):
    how many replies, the newest one's seq and time, and who replied, most recent first
    (`replier_list`, which chat.queries.with_extras attaches)."""
    if not root.thread_count:
        return None
    return {
        "replies": root.thread_count,
        "last_reply_seq": root.thread_last_seq,
        "last_reply_at": iso_utc(root.thread_last_at),
        "repliers": [user_dict(user) for user in root.replier_list],
    }


def pin_dict(pin) -> dict:
    """A pinned message as the room's header lists it: the message as a reply quotes it
    (who wrote it, its first line), who pinned it and when (`message.author` and
    `pinned_by` loaded)."""
    return {
        "message": reply_quote(pin.message),
        "pinned_by": user_dict(pin.pinned_by),
        "pinned_at": iso_utc(pin.pinned_at),
    }


def room_dict(
    room,
    membership,
    *,
    unread: int = 0,
    mentions: int = 0,
    peer=None,
    notify_default: str = notifications.GLOBAL_DEFAULT,
    pins: list[dict] | None = None,
) -> dict:
    """A room as seen by one user (direct rooms are named after the other person, or
    "Deleted user" once their account is gone). `notify_default` is the user's own
    default, which `notify_default` in the payload resolves for this room; `pins` its
    pinned messages (`pin_dict`), newest pin first."""
    return {
        "id": room.pk,
        "name": user_dict(peer)["display_name"] if room.is_direct else room.name,
        "kind": room.kind,
        "topic": room.topic,
        "last_seq": room.last_seq,
        "last_rev": room.last_rev,
        "last_read_seq": membership.last_read_seq if membership else 0,
        "unread": unread,
        "unread_mentions": mentions,
        "role": membership.role if membership else None,
        "notify": membership.notify if membership else notifications.DEFAULT,
        "notify_default": notifications.room_default(room.kind, notify_default),
        "peer": user_dict(peer) if room.is_direct else None,
        "last_message_at": iso_utc(room.last_message_at),
        "pins": pins or [],
    }


def member_dict(user, role: str | None) -> dict:
    return {"user": user_dict(user), "role": role}


def invite_dict(invite) -> dict:
    """An invite link as its room's owners and admins see it (never its token)."""
    return {
        "id": invite.pk,
        "room": invite.room_id,
        "created_by": user_dict(invite.created_by),
        "created_at": iso_utc(invite.created_at),
        "expires_at": iso_utc(invite.expires_at),
        "max_uses": invite.max_uses,
        "uses": invite.uses,
    }


def webhook_dict(webhook) -> dict:
    """A webhook as its room's owners and admins list it (never its secret): the bot it
    posts as, who made it and when (`bot` and `created_by` loaded)."""
    return {
        "id": webhook.pk,
        "room": webhook.room_id,
        "name": webhook.name,
        "bot": user_dict(webhook.bot),
        "created_by": user_dict(webhook.created_by),
        "created_at": iso_utc(webhook.created_at),
    }


def presence_status(status: str, last_seen: float | None) -> dict:
    """A status as `hello` and `presence` carry it (`last_seen`: when they went offline)."""
    return {"status": status, "last_seen": iso_from_timestamp(last_seen)}


# Frames: what a socket receives.


def hello(user, rooms: list[dict], presence: Mapping[int, dict]) -> dict:
    """`presence` maps user ids to stored views ({"status", "last_seen"})."""
    return {
        "type": "hello",
        "user": user_dict(user),
        "rooms": rooms,
        "presence": {
            str(uid): presence_status(view["status"], view["last_seen"])
            for uid, view in presence.items()
        },
    }


def ack(client_msg_id: str, message) -> dict:
    return {"type": "ack", "client_msg_id": client_msg_id, "message": message_dict(message)}


def message_created(message) -> dict:
    return {"type": "message", "message": message_dict(message)}


# A new message's event and its sender's ack carry the same `message`: built and encoded
# once, as text (chat/services/sending.py keeps it on the message as `encoded`).


def message_json(message) -> str:
    """`encode(message_dict(message))`, written field by field: a new message is encoded
    in the database thread, the serial part of a send, where building its dict and the
    encoder's walk of it took about twice as long as this (docs/performance.md).
    tests/chat/protocol/test_frames.py holds the two to the same text for every kind of
    message."""
    deleted = message.deleted_at is not None
    thread = thread_summary(message)
    return (
        f'{{"id":{message.pk},"room":{message.room_id},"seq":{message.seq},'
        f'"author":{user_json(message.author)},'
        f'"body":{_text("" if deleted else message.body)},'
        f'"html":{_text("" if deleted else message.html)},'
        f'"created_at":{_time(message.created_at)},'
        f'"client_msg_id":{_text(str(message.client_msg_id))},'
        f'"edited_at":{_time(message.edited_at)},"rev":{message.rev},'
        f'"deleted":{_BOOLEAN[deleted]},'
        f'"reply_to":{encode(reply_quote(message.reply_to)) if message.reply_to_id else "null"},'
        f'"mentions":{_array(message.mention_ids)},'
        f'"reactions":{_array(message.reaction_summary)},'
        f'"attachments":{_array([attachment_dict(a) for a in message.attachment_list])},'
        f'"thread_root":{_number(message.thread_root_id)},'
        f'"also_in_room":{_BOOLEAN[bool(message.also_in_room)]},'
        f'"thread":{"null" if thread is None else encode(thread)},'
        f'"via":{"null" if message.via is None else _text(message.via)}}}'
    )


def user_json(user) -> str:
    """`encode(user_dict(user))`, written field by field (see `message_json`)."""
    if user is None:
        return _NO_USER_JSON
    avatar = user.avatar
    return (
        f'{{"id":{user.pk},"username":{_text(user.username)},'
        f'"display_name":{_text(user.shown_name)},'
        f'"avatar":{_text(avatar.url) if avatar else "null"},'
        f'"is_bot":{_BOOLEAN[bool(user.is_bot)]}}}'
    )


# What the encoder writes for each kind of value, as `message_json` writes it.
_text = json.encoder.encode_basestring  # a str, quoted and escaped (ensure_ascii=False)
_BOOLEAN = {False: "false", True: "true"}
_NO_USER_JSON = encode(user_dict(None))


def _time(moment: datetime | None) -> str:
    return "null" if moment is None else f'"{iso_utc(moment)}"'


def _number(value: int | None) -> str:
    return "null" if value is None else str(int(value))


def _array(items: list) -> str:
    return encode(items) if items else "[]"


def message_created_text(encoded_message: str) -> str:
    """`encode(message_created(message))`, from the message's `message_json`."""
    return '{"type":"message","message":' + encoded_message + "}"


def ack_text(client_msg_id: str, message, request_id: str | None = None) -> str:
    """`encode(with_request_id(ack(client_msg_id, message), request_id))`, with the
    message's `encoded` text when it has one."""
    encoded_message = getattr(message, "encoded", None) or message_json(message)
    text = '{"type":"ack","client_msg_id":' + encode(client_msg_id)
    text += ',"message":' + encoded_message
    if request_id is not None:
        text += ',"request_id":' + encode(request_id)
    return text + "}"


def message_updated(message) -> dict:
    return {"type": "message.updated", "message": message_dict(message)}


def message_deleted(message) -> dict:
    return {
        "type": "message.deleted",
        "room": message.room_id,
        "id": message.pk,
        "seq": message.seq,
    }


def reaction(message, user_id: int, emoji: str, *, on: bool) -> dict:
    return {
        "type": "reaction",
        "message": message.pk,
        "room": message.room_id,
        "emoji": emoji,
        "user": user_id,
        "on": on,
    }


def typing(room_id: int, user) -> dict:
    return {"type": "typing", "room": room_id, "user": user_dict(user)}


def read(room_id: int, user_id: int, seq: int) -> dict:
    return {"type": "read", "room": room_id, "user": user_id, "seq": seq}


def room(room_payload: dict) -> dict:
    """A room the user can now see, or whose state for the user changed."""
    return {"type": "room", "room": room_payload}


def pins(room_id: int, pin_list: list[dict]) -> dict:
    """The room's pinned messages, all of them (`pin_dict`), after one was pinned or
    unpinned, or a pinned one edited or deleted: the client replaces its list."""
    return {"type": "pins", "room": room_id, "pins": pin_list}


def room_updated(room) -> dict:
    return {"type": "room.updated", "room": room.pk, "name": room.name, "topic": room.topic}


def room_removed(room_id: int) -> dict:
    return {"type": "room.removed", "room": room_id}


def member(room_id: int, user, role: str | None) -> dict:
    """Someone joined (role), changed role, or left (None)."""
    return {"type": "member", "room": room_id, **member_dict(user, role)}


def presence(user_id: int, status: str, last_seen: float | None) -> dict:
    return {"type": "presence", "user": user_id, **presence_status(status, last_seen)}


def heads(rooms: Mapping[int, int]) -> dict:
    return {"type": "heads", "rooms": rooms}


def messages(
    page: dict, *, after: int | None, before: int | None, changed_after: int | None
) -> dict:
    """The answer to a `fetch`: a page of history with the cursor it was asked for."""
    frame = {"type": "messages", **page, "after": after, "before": before}
    if changed_after is not None:
        frame["changed_after"] = changed_after
    return frame


def pong() -> dict:
    return {"type": "pong"}


def error(error: ChatError) -> dict:
    frame = {"type": "error", "code": error.code, "detail": error.detail}
    if error.client_msg_id is not None:
        frame["client_msg_id"] = error.client_msg_id
    if error.request_id is not None:
        frame["request_id"] = error.request_id
    return frame


def with_request_id(frame: dict, request_id: str | None) -> dict:
    if request_id is not None:
        frame["request_id"] = request_id
    return frame
