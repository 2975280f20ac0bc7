"""Every operation of the HTTP API, as chat/http/openapi.py's document lists them.

Adding an endpoint is one entry here (docs/protocol.md, "The API's schema"): its path as
OpenAPI writes it, and per method an `operation` (`writes` for an unsafe one) naming
its answers, request body, query parameters and the errors it may give besides those
every operation may.
"""

from .. import notifications
from ..protocol import schema as shapes
from ..protocol.commands import DEFAULT_FETCH_LIMIT, MAX_ATTACHMENTS, MAX_FETCH_LIMIT
from ..services import invites
from .openapi import (
    FORM,
    ID,
    JSON,
    SEQ,
    TEXT,
    USERNAME,
    array,
    body,
    components_refs,
    obj,
    operation,
    query,
    ref,
    writes,
)

PAGE = [
    query("after", SEQ, "the messages after this seq"),
    query("before", ID, "the messages before this seq"),
    query(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": MAX_FETCH_LIMIT},
        f"at most this many (default {DEFAULT_FETCH_LIMIT})",
    ),
]


ROOM_ERRORS = (403, 404)
ROOM = ref("Room")
MESSAGE = ref("Message")

PATHS: dict[str, dict[str, dict]] = {
    "/api/schema/": {
        "get": operation(
            "This document (no login needed)",
            {200: {"type": "object", "required": ["openapi", "paths"]}},
            errors=(401,),  # a bad API token is refused anywhere under /api/
            public=True,
        ),
    },
    "/api/rooms/": {
        "get": operation(
            "The caller's rooms, most recently active first",
            {200: obj({"rooms": array(ref("RoomWithLastMessage"))})},
        ),
        "post": writes(
            "Create or join the public room of that name, or create a private room",
            {200: ROOM, 201: ROOM},
            request=body({"name": {"type": "string"}}, {"kind": {"enum": ["public", "private"]}}),
        ),
    },
    "/api/rooms/direct/": {
        "post": writes(
            "Open the direct room with someone",
            {200: ROOM, 201: ROOM},
            request=body({"username": {"type": "string"}}),
            errors=(404,),
        ),
    },
    "/api/rooms/{room_id}/": {
        "get": operation("One room", {200: ROOM}, errors=(404,)),
        "patch": writes(
            "Rename a group room or set its topic (owner/admin)",
            {200: ROOM},
            request=body({}, {"name": {"type": "string"}, "topic": {"type": "string"}}),
            errors=ROOM_ERRORS,
        ),
    },
    "/api/rooms/{room_id}/messages": {
        "get": operation(
            "A page of the room's history, ascending",
            {200: ref("MessagePage")},
            params=[
                *PAGE,
                query("changed_after", SEQ, "the messages changed since this revision"),
            ],
            errors=(400, 404),
            budget=True,
        ),
        "post": writes(
            "Send a message",
            {200: MESSAGE, 201: MESSAGE},
            request=body(
                {
                    "body": {"type": "string"},
                    "client_msg_id": {"type": "string", "format": "uuid"},
                },
                {
                    "reply_to": ID,
                    "attachments": array(ID, maxItems=MAX_ATTACHMENTS, uniqueItems=True),
                    "thread_root": ID,
                    "also_in_room": shapes.BOOL,
                },
            ),
            errors=ROOM_ERRORS,
        ),
    },
    "/api/rooms/{room_id}/uploads": {
        "post": writes(
            "Store a file for a later send (members only)",
            {201: ref("Attachment")},
            request={
                "required": True,
                "content": {
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "properties": {"file": {"type": "string", "format": "binary"}},
                            "required": ["file"],
                        }
                    }
                },
            },
            errors=ROOM_ERRORS,
        ),
    },
    "/api/rooms/{room_id}/members/": {
        "get": operation(
            "Who is in the room, owners first (at most 500)",
            {200: ref("Members")},
            params=[query("q", {"type": "string", "maxLength": 64}, "a name to look for")],
            errors=(400, 404),
        ),
        "post": writes(
            "Add someone (owner/admin of a group room)",
            {200: ROOM},
            request=body({"username": {"type": "string"}}),
            errors=ROOM_ERRORS,
        ),
    },
    "/api/rooms/{room_id}/members/{username}": {
        "patch": writes(
            "Change someone's role (owners only)",
            {200: obj({"username": USERNAME, "role": shapes.ROLE})},
            request=body({"role": shapes.ROLE}),
            errors=ROOM_ERRORS,
        ),
        "delete": writes(
            "Remove someone (owner/admin), or leave with one's own username",
            {200: ref("Empty")},
            errors=(400, *ROOM_ERRORS),
        ),
    },
    "/api/rooms/{room_id}/invites/": {
        "get": operation(
            "The room's live invite links (owner/admin)",
            {200: obj({"invites": array(ref("Invite"))})},
            errors=ROOM_ERRORS,
        ),
        "post": writes(
            "Make an invite link; its URL is shown only here",
            {
                201: obj(
                    {
                        **components_refs(shapes.SHAPES["Invite"]["properties"]),
                        "url": {"type": "string", "pattern": r"^https?://[^/]+/invite/[^/]+/$"},
                    }
                )
            },
            request=body(
                {},
                {
                    "expires_in": {"enum": list(invites.EXPIRY_CHOICES)},
                    "max_uses": shapes.nullable(
                        {"type": "integer", "minimum": 1, "maximum": invites.MAX_USES}
                    ),
                },
            ),
            errors=ROOM_ERRORS,
        ),
    },
    "/api/rooms/{room_id}/invites/{invite_id}": {
        "delete": writes("Revoke an invite link", {200: ref("Empty")}, errors=ROOM_ERRORS),
    },
    "/api/rooms/{room_id}/webhooks/": {
        "get": operation(
            "The room's live webhooks, never their secrets (owner/admin)",
            {200: obj({"webhooks": array(ref("Webhook"))})},
            errors=ROOM_ERRORS,
        ),
        "post": writes(
            "Make an incoming webhook; its URL is shown only here",
            {201: ref("NewWebhook")},
            request=body({"name": {"type": "string"}}),
            errors=ROOM_ERRORS,
        ),
    },
    "/api/rooms/{room_id}/webhooks/{webhook_id}": {
        "delete": writes("Revoke a webhook", {200: ref("Empty")}, errors=ROOM_ERRORS),
    },
    "/api/rooms/{room_id}/pins/": {
        "get": operation(
            "The room's pinned messages, newest first", {200: ref("Pins")}, errors=(404,)
        ),
    },
    "/api/rooms/{room_id}/pins/{message_id}": {
        "post": writes("Pin a message", {200: ref("Pins")}, errors=(400, *ROOM_ERRORS)),
        "delete": writes("Unpin a message", {200: ref("Pins")}, errors=(400, *ROOM_ERRORS)),
    },
    "/api/rooms/{room_id}/read": {
        "post": writes(
            "Move one's read pointer forward",
            {200: obj({"room": ID, "last_read_seq": SEQ})},
            request=body({"seq": SEQ}),
            errors=(404,),
        ),
    },
    "/api/rooms/{room_id}/membership": {
        "patch": writes(
            "How much of the room notifies the caller",
            {200: ROOM},
            request=body(
                {"notify": {"enum": [notifications.DEFAULT, *notifications.Level.values]}}
            ),
            errors=ROOM_ERRORS,
        ),
    },
    "/api/messages/{message_id}": {
        "patch": writes(
            "Edit a message (its author, within the window)",
            {200: MESSAGE},
            request=body({"body": {"type": "string"}}),
            errors=(404,),
        ),
        "delete": writes(
            "Delete a message (a tombstone stays)",
            {200: obj({"room": ID, "id": ID, "seq": ID})},
            errors=(404,),
        ),
    },
    "/api/messages/{message_id}/thread": {
        "get": operation(
            "A message's thread: its root and a page of replies",
            {200: ref("ThreadPage")},
            params=PAGE,
            errors=(400, 404),
            budget=True,
        ),
    },
    "/api/messages/{message_id}/reactions": {
        "post": writes(
            "Add (on) or take back one's reaction",
            {
                200: obj(
                    {
                        "message": ID,
                        "room": ID,
                        "emoji": {"type": "string", "minLength": 1},
                        "user": ID,
                        "on": shapes.BOOL,
                    }
                )
            },
            request=body({"emoji": {"type": "string"}}, {"on": shapes.BOOL}),
            errors=(404,),
        ),
    },
    "/api/search": {
        "get": operation(
            "Messages matching `q` in the caller's rooms (or one room), newest first",
            {200: obj({"results": array(MESSAGE, maxItems=50), "has_more": shapes.BOOL})},
            params=[
                {
                    **query("q", {"type": "string", "minLength": 1}, "what to look for"),
                    "required": True,
                },
                query("room", ID, "only in this room"),
                query("before", ID, "results before this message id"),
                query("limit", {"type": "integer", "minimum": 1, "maximum": 50}, "default 20"),
            ],
            errors=(400, 404),
            budget=True,
        ),
    },
    "/api/people/{username}": {
        "get": operation("A person's card", {200: ref("Person")}, errors=(404,)),
    },
    "/api/blocks/": {
        "get": operation("The people the caller blocks", {200: ref("Blocked")}),
        "post": writes(
            "Block someone",
            {200: ref("Blocked")},
            request=body({"username": {"type": "string"}}),
            errors=(404,),
        ),
    },
    "/api/tokens/": {
        "get": operation(
            "One's API tokens, newest first, without secrets",
            {200: obj({"tokens": array(ref("Token"))})},
            errors=(403,),
        ),
        "post": writes(
            "Make an API token; its secret is shown only here",
            {201: ref("NewToken")},
            request=body({"name": {"type": "string"}}),
        ),
    },
    "/api/tokens/{token_id}": {
        "delete": writes("Revoke one's API token", {200: ref("Empty")}, errors=(404,)),
    },
    "/api/bots/": {
        "get": operation(
            "The bots one owns, by username", {200: obj({"bots": array(ref("Bot"))})}, errors=(403,)
        ),
        "post": writes(
            "Make a bot and its first token (its secret shown only here)",
            {201: obj({"user": ref("User"), "token": ref("NewToken")})},
            request=body({"username": {"type": "string"}, "display_name": {"type": "string"}}),
        ),
    },
    "/api/bots/{bot_id}": {
        "get": operation("One of one's bots", {200: ref("Bot")}, errors=(403, 404)),
        "patch": writes(
            "Rename a bot",
            {200: ref("Bot")},
            request=body({}, {"username": {"type": "string"}, "display_name": {"type": "string"}}),
            errors=(404,),
        ),
        "delete": writes(
            "Delete a bot, as an account is deleted", {200: ref("Empty")}, errors=(404,)
        ),
    },
    "/api/bots/{bot_id}/tokens/": {
        "post": writes(
            "A new token for a bot; its secret is shown only here",
            {201: ref("NewToken")},
            request=body({}, {"name": {"type": "string"}}),
            errors=(404,),
        ),
    },
    "/api/bots/{bot_id}/tokens/{token_id}": {
        "delete": writes("Revoke one of a bot's tokens", {200: ref("Empty")}, errors=(404,)),
    },
    "/api/blocks/{username}": {
        "delete": writes("Unblock someone", {200: ref("Blocked")}, errors=(400, 404)),
    },
}

HOOK_PAYLOAD = {
    "type": "object",
    "properties": {
        "text": {"type": "string", "minLength": 1, "maxLength": 4000},
        "client_msg_id": {"type": "string", "format": "uuid"},
        "username": {"type": "string", "maxLength": 64},
    },
    "required": ["text"],
}

# A webhook's URL, for programs: the secret in the path is the credential.
PATHS["/hooks/{secret}"] = {
    "post": operation(
        "Post a message through a webhook (a Slack-style payload, as JSON or a form)",
        {200: {"const": "ok"}},
        request={
            "required": True,
            "content": {
                JSON: {"schema": HOOK_PAYLOAD},
                FORM: {
                    "schema": {
                        "type": "object",
                        "properties": {"payload": {"type": "string"}},
                        "required": ["payload"],
                    }
                },
            },
        },
        errors=(404, 429, 503),
        public=True,
        content_type=TEXT,
    )
}
