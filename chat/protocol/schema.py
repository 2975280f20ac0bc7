"""A JSON Schema for every frame the server sends: docs/protocol.md, "Server → client".

Plain data: `SHAPES` holds the payloads frames share (User, Room, Message…) and
`FRAMES` one schema per frame `type`. They are strict, as the contract is: every
field required unless the protocol calls it optional, no field beyond those
(`additionalProperties: false`), exact types (an integer is never a float or a
boolean), `null` only where the protocol allows it, times as ISO 8601 UTC with a
`Z`. `check_frame` holds a frame to its schema; the tests call it on every frame a
test client receives (tests/wsclient.py), and tests/chat/protocol/test_schema.py
keeps this module, chat/protocol/frames.py and the doc naming the same frames.

jsonschema is a development dependency: it is imported only when a frame is checked.
"""

import json
from functools import cache
from typing import Any

from .. import notifications
from ..errors import STATUS_BY_CODE
from .commands import MAX_PINS
from .frames import encode

# ISO 8601 in UTC with a `Z`, as frames.iso_utc writes it (microseconds when not zero).
TIME_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?Z$"
UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
ID_KEY_PATTERN = r"^[1-9][0-9]*$"  # an id as a JSON object key
IMAGE_TYPES = ["image/png", "image/jpeg", "image/gif", "image/webp"]
# The frames that answer a client's frame, and so echo its `request_id`.
REPLIES = {
    "ack",
    "messages",
    "pong",
    "message.updated",
    "message.deleted",
    "reaction",
    "pins",
    "error",
}


def ref(name: str) -> dict:
    return {"$ref": f"#/$defs/{name}"}


def nullable(schema: dict) -> dict:
    return {"anyOf": [schema, {"type": "null"}]}


def strict(required: dict, optional: dict | None = None) -> dict:
    """An object with exactly these fields: all of `required`, any of `optional`."""
    return {
        "type": "object",
        "properties": {**required, **(optional or {})},
        "required": list(required),
        "additionalProperties": False,
    }


ID = {"type": "integer", "minimum": 1}
COUNT = {"type": "integer", "minimum": 0}
TEXT = {"type": "string"}
BOOL = {"type": "boolean"}
TIME = {"type": "string", "pattern": TIME_PATTERN}
ROLE = {"enum": ["owner", "admin", "member"]}
REQUEST_ID = {"type": "string", "maxLength": 64}
PRESENCE = {"status": {"enum": ["online", "idle", "offline"]}, "last_seen": nullable(TIME)}


SHAPES: dict[str, dict] = {
    "User": {
        "oneOf": [
            strict(
                {
                    "id": ID,
                    "username": {"type": "string", "minLength": 1},
                    "display_name": TEXT,
                    # A path on the site (MEDIA_URL) or an https:// address (object storage).
                    "avatar": nullable({"type": "string", "pattern": r"^(/[^/]|https://)"}),
                    "is_bot": BOOL,
                }
            ),
            strict(
                {
                    "id": {"type": "null"},
                    "username": {"const": ""},
                    "display_name": {"const": "Deleted user"},
                    "avatar": {"const": None},
                    "is_bot": {"const": False},
                }
            ),
        ]
    },
    "Room": strict(
        {
            "id": ID,
            "name": TEXT,
            "kind": {"enum": ["public", "private", "direct"]},
            "topic": {"type": "string", "maxLength": 250},
            "last_seq": COUNT,
            "last_rev": COUNT,
            "last_read_seq": COUNT,
            "unread": COUNT,
            "unread_mentions": COUNT,
            "role": nullable(ROLE),
            "notify": {"enum": [notifications.DEFAULT, *notifications.Level.values]},
            "notify_default": {"enum": notifications.Level.values},
            "peer": nullable(ref("User")),
            "last_message_at": nullable(TIME),
            "pins": {"type": "array", "items": ref("Pin"), "maxItems": MAX_PINS},
        }
    ),
    "Attachment": {
        **strict(
            {
                "id": ID,
                "name": {"type": "string", "minLength": 1, "maxLength": 160},
                "size": COUNT,
                "content_type": {"type": "string", "minLength": 1},
                "url": {"type": "string", "pattern": r"^/files/[0-9]+/."},
                "thumb_url": nullable({"type": "string", "pattern": r"^/files/[0-9]+/thumb/$"}),
                "width": nullable(ID),
                "height": nullable(ID),
            }
        ),
        # Images have a thumbnail and a size; other files have neither.
        "if": {"properties": {"content_type": {"enum": IMAGE_TYPES}}},
        "then": {"properties": {"thumb_url": TEXT, "width": ID, "height": ID}},
        "else": {
            "properties": {
                "thumb_url": {"const": None},
                "width": {"const": None},
                "height": {"const": None},
            }
        },
    },
    "ReplyQuote": strict(
        {
            "id": ID,
            "seq": ID,
            "author": ref("User"),
            "excerpt": {"type": "string", "maxLength": 120},
            "deleted": BOOL,
        }
    ),
    "ReactionSummary": strict(
        {
            "emoji": {"type": "string", "minLength": 1},
            "count": ID,
            "users": {"type": "array", "items": ID, "minItems": 1, "uniqueItems": True},
        }
    ),
    "Message": {
        **strict(
            {
                "id": ID,
                "room": ID,
                "seq": ID,
                "author": ref("User"),
                "body": {"type": "string", "maxLength": 4000},
                "html": TEXT,
                "created_at": TIME,
                "client_msg_id": {"type": "string", "pattern": UUID_PATTERN},
                "edited_at": nullable(TIME),
                "rev": COUNT,
                "deleted": BOOL,
                "reply_to": nullable(ref("ReplyQuote")),
                "mentions": {"type": "array", "items": ID, "uniqueItems": True},
                "reactions": {"type": "array", "items": ref("ReactionSummary")},
                "attachments": {"type": "array", "items": ref("Attachment"), "maxItems": 10},
                "thread_root": nullable(ID),
                "also_in_room": BOOL,
                "thread": nullable(ref("ThreadSummary")),
                # The name a webhook's payload gave its sender (chat.services.webhooks).
                "via": nullable({"type": "string", "minLength": 1, "maxLength": 64}),
            }
        ),
        # Only a thread reply may also be in the room; a reply has no thread of its own.
        "dependentSchemas": {
            "thread_root": {
                "if": {"properties": {"thread_root": {"type": "null"}}},
                "then": {"properties": {"also_in_room": {"const": False}}},
                "else": {"properties": {"thread": {"type": "null"}}},
            }
        },
        # A tombstone keeps its seq and loses its text, mentions, reactions and files.
        "if": {"properties": {"deleted": {"const": True}}},
        "then": {
            "properties": {
                "body": {"const": ""},
                "html": {"const": ""},
                "mentions": {"maxItems": 0},
                "reactions": {"maxItems": 0},
                "attachments": {"maxItems": 0},
            }
        },
    },
    "ThreadSummary": strict(
        {
            "replies": ID,
            "last_reply_seq": ID,
            "last_reply_at": TIME,
            "repliers": {"type": "array", "items": ref("User"), "maxItems": 10},
        }
    ),
    "PresenceStatus": strict(PRESENCE),
    "Person": {
        **strict(
            {
                "user": ref("User"),
                "bio": {"type": "string", "maxLength": 500},
                "time_zone": nullable({"type": "string", "minLength": 1, "maxLength": 64}),
                "me": BOOL,
                "blocked": BOOL,
                "can_message": BOOL,
                "dm_url": nullable({"type": "string", "pattern": r"^/dm/[^/]+/$"}),
            }
        ),
        # The way into a conversation is given exactly when one may be started.
        "if": {"properties": {"can_message": {"const": True}}},
        "then": {"properties": {"dm_url": TEXT, "me": {"const": False}}},
        "else": {"properties": {"dm_url": {"const": None}}},
    },
    # A webhook as its room's owners and admins list it: never its secret.
    "Webhook": strict(
        {
            "id": ID,
            "room": ID,
            "name": {"type": "string", "minLength": 1, "maxLength": 64},
            "bot": ref("User"),
            "created_by": ref("User"),
            "created_at": TIME,
        }
    ),
    # The answer that makes a webhook: the one time its URL (holding the secret) is shown.
    "NewWebhook": strict(
        {
            "id": ID,
            "name": {"type": "string", "minLength": 1, "maxLength": 64},
            "url": {"type": "string", "pattern": r"^https?://[^/]+/hooks/[A-Za-z0-9_-]{32}$"},
        }
    ),
    # A pinned message is never a tombstone: deleting a message unpins it.
    "Pin": strict(
        {
            "message": {
                "allOf": [ref("ReplyQuote"), {"properties": {"deleted": {"const": False}}}]
            },
            "pinned_by": ref("User"),
            "pinned_at": TIME,
        }
    ),
}


def frame_schema(kind: str, required: dict | None = None, optional: dict | None = None) -> dict:
    """A frame of this `type`; a reply may also carry the `request_id` it answers."""
    extra = {"request_id": REQUEST_ID} if kind in REPLIES else {}
    return strict({"type": {"const": kind}, **(required or {})}, {**(optional or {}), **extra})


FRAMES: dict[str, dict] = {
    "hello": frame_schema(
        "hello",
        {
            "user": ref("User"),
            "rooms": {"type": "array", "items": ref("Room")},
            "presence": {
                "type": "object",
                "propertyNames": {"pattern": ID_KEY_PATTERN},
                "additionalProperties": ref("PresenceStatus"),
            },
        },
    ),
    "ack": frame_schema(
        "ack",
        {"client_msg_id": {"type": "string", "pattern": UUID_PATTERN}, "message": ref("Message")},
    ),
    "message": frame_schema("message", {"message": ref("Message")}),
    "messages": frame_schema(
        "messages",
        {
            "room": ID,
            "after": nullable(COUNT),
            "before": nullable(ID),
            "messages": {"type": "array", "items": ref("Message"), "maxItems": 200},
            "has_more": BOOL,
        },
        # A fetch of changes is echoed too, but only then: `after` and `before` are
        # always there (null when not given), `changed_after` only when it was.
        {"changed_after": COUNT},
    ),
    "pong": frame_schema("pong"),
    "heads": frame_schema(
        "heads",
        {
            "rooms": {
                "type": "object",
                "propertyNames": {"pattern": ID_KEY_PATTERN},
                "additionalProperties": COUNT,
            }
        },
    ),
    "room": frame_schema("room", {"room": ref("Room")}),
    "pins": frame_schema(
        "pins",
        {"room": ID, "pins": {"type": "array", "items": ref("Pin"), "maxItems": MAX_PINS}},
    ),
    "room.updated": frame_schema(
        "room.updated",
        {
            "room": ID,
            "name": {"type": "string", "minLength": 1, "maxLength": 64},
            "topic": {"type": "string", "maxLength": 250},
        },
    ),
    "member": frame_schema("member", {"room": ID, "user": ref("User"), "role": nullable(ROLE)}),
    "room.removed": frame_schema("room.removed", {"room": ID}),
    "read": frame_schema("read", {"room": ID, "user": ID, "seq": COUNT}),
    "message.updated": frame_schema("message.updated", {"message": ref("Message")}),
    "message.deleted": frame_schema("message.deleted", {"room": ID, "id": ID, "seq": ID}),
    "reaction": frame_schema(
        "reaction",
        {
            "message": ID,
            "room": ID,
            "emoji": {"type": "string", "minLength": 1},
            "user": ID,
            "on": BOOL,
        },
    ),
    "presence": frame_schema("presence", {"user": ID, **PRESENCE}),
    "typing": frame_schema("typing", {"room": ID, "user": ref("User")}),
    "error": frame_schema(
        "error",
        {"code": {"enum": sorted(STATUS_BY_CODE)}, "detail": {"type": "string", "minLength": 1}},
        {"client_msg_id": TEXT},
    ),
}


def schema_for(kind: str) -> dict:
    """The whole schema of one frame type: its own, and the shapes it refers to."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **FRAMES[kind],
        "$defs": SHAPES,
    }


def _strict_validator(schema: dict) -> Any:
    from jsonschema import Draft202012Validator, validators

    # JSON Schema counts 1.0 as an integer; a frame that says 1.0 for an id is wrong.
    types = Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", lambda _checker, value: type(value) is int
    )
    return validators.extend(Draft202012Validator, type_checker=types)(schema)


@cache
def _validator(kind: str) -> Any:
    return _strict_validator(schema_for(kind))


@cache
def _shape_validator(name: str) -> Any:
    return _strict_validator(
        {"$schema": "https://json-schema.org/draft/2020-12/schema", **ref(name), "$defs": SHAPES}
    )


def check_shape(name: str, payload: Any) -> dict:
    """An API answer held to one of the `SHAPES` (a `Person`, say), as check_frame holds
    a frame: the payload as a client decodes it, or jsonschema.ValidationError."""
    from jsonschema.exceptions import best_match

    wire = json.loads(encode(payload))
    error = best_match(_shape_validator(name).iter_errors(wire))
    if error is not None:
        raise error
    return wire


def check_frame(frame: Any) -> dict:
    """The frame as a client receives it (encoded and decoded, so ids as object keys
    are strings), or jsonschema.ValidationError saying what is wrong with it."""
    from jsonschema import ValidationError
    from jsonschema.exceptions import best_match

    wire = json.loads(encode(frame))
    kind = wire.get("type") if isinstance(wire, dict) else None
    if not isinstance(kind, str) or kind not in FRAMES:
        raise ValidationError(f"not a server frame type: {kind!r}", instance=wire)
    error = best_match(_validator(kind).iter_errors(wire))
    if error is not None:
        raise error
    return wire
