"""The HTTP API described as an OpenAPI 3.1 document, served at GET /api/schema/.

Built from the payload schemas of chat/protocol/schema.py (OpenAPI 3.1 speaks JSON
Schema 2020-12, so they are its components as they are). `PATHS` lists every
operation under /api/; adding an endpoint is one entry there (docs/protocol.md,
"The API's schema"). The tests hold the document to the URL resolver, every /api/
answer of the test suite to the document (`check_response`, tests/conftest.py), and a
live server to it with Schemathesis (tests/chat/http/test_schemathesis.py).
"""

import json
import re
from functools import cache
from typing import Any

from .. import notifications
from ..errors import STATUS_BY_CODE
from ..protocol import schema as shapes
from ..protocol.commands import (
    DEFAULT_FETCH_LIMIT,
    MAX_ATTACHMENTS,
    MAX_FETCH_LIMIT,
    MAX_PINS,
)
from ..services import invites

OPENAPI_VERSION = "3.1.1"
JSON = "application/json"
TEXT = "text/plain"
FORM = "application/x-www-form-urlencoded"
# Where the paths the document describes begin: the API, and webhooks' URLs.
PREFIXES = ("/api/", "/hooks/")
MAX_ID = 2**62  # what the API takes as an id or a cursor (commands.positive_int)


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _components_refs(value: Any) -> Any:
    """schema.py's `#/$defs/X` references as the document's `#/components/schemas/X`."""
    if isinstance(value, dict):
        return {
            key: (
                item.replace("#/$defs/", "#/components/schemas/")
                if key == "$ref"
                else _components_refs(item)
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_components_refs(item) for item in value]
    return value


def obj(required: dict, optional: dict | None = None) -> dict:
    return _components_refs(shapes.strict(required, optional))


def array(items: dict, **limits: int) -> dict:
    return {"type": "array", "items": items, **limits}


ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
SEQ = {"type": "integer", "minimum": 0, "maximum": MAX_ID}
USERNAME = {"type": "string", "minLength": 1, "maxLength": 150}

# Answers the API shares besides the payloads of schema.py.
API_SHAPES: dict[str, dict] = {
    "Error": obj(
        {
            "error": obj(
                {
                    "code": {"enum": sorted(STATUS_BY_CODE)},
                    "detail": {"type": "string", "minLength": 1},
                }
            )
        }
    ),
    "RoomWithLastMessage": obj(
        {
            **_components_refs(shapes.SHAPES["Room"]["properties"]),
            "last_message": shapes.nullable(ref("Message")),
        }
    ),
    "MessagePage": obj(
        {"messages": array(ref("Message"), maxItems=MAX_FETCH_LIMIT), "has_more": shapes.BOOL}
    ),
    "ThreadPage": obj(
        {
            "room": ID,
            "root": ref("Message"),
            "replies": array(ref("Message"), maxItems=MAX_FETCH_LIMIT),
            "has_more": shapes.BOOL,
        }
    ),
    "Pins": obj({"room": ID, "pins": array(ref("Pin"), maxItems=MAX_PINS)}),
    "Members": obj(
        {
            "room": ID,
            "members": array(obj({"user": ref("User"), "role": shapes.ROLE})),
            "has_more": shapes.BOOL,
        }
    ),
    "Blocked": obj({"blocked": array({"type": "string", "minLength": 1}, uniqueItems=True)}),
    "Empty": obj({}),
}

ERROR_TEXT = {
    400: "bad_request: the request is not one this endpoint takes; nothing changed",
    401: "unauthorized: not logged in",
    403: "forbidden: not permitted, or a CSRF check failed",
    404: "not_found: no such room, message, person or link (or not one the caller may see)",
    413: "too_large: the body is over its limit",
    429: "rate_limited: over a budget (chat/limits.py); try again later",
    503: "unavailable: the database cannot be reached; try again shortly",
}

# Path parameters by name.
PARAMETERS = {
    "room_id": ID,
    "message_id": ID,
    "invite_id": ID,
    "webhook_id": ID,
    "secret": {"type": "string", "minLength": 1},
    "username": {"type": "string", "minLength": 1},
}


def query(name: str, schema: dict, description: str) -> dict:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


PAGE = [
    query("after", SEQ, "the messages after this seq"),
    query("before", ID, "the messages before this seq"),
    query(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": MAX_FETCH_LIMIT},
        f"at most this many (default {DEFAULT_FETCH_LIMIT})",
    ),
]


def body(required: dict, optional: dict | None = None) -> dict:
    """A JSON request body: an object of these fields (others are ignored)."""
    return {
        "required": True,
        "content": {
            JSON: {
                "schema": {
                    "type": "object",
                    "properties": {**required, **(optional or {})},
                    "required": list(required),
                }
            }
        },
    }


def operation(
    summary: str,
    answers: dict[int, dict],
    *,
    request: dict | None = None,
    params: list[dict] = (),
    errors: tuple[int, ...] = (),
    budget: bool = False,
    public: bool = False,
    content_type: str = JSON,
) -> dict:
    """One operation: its `answers` (status → schema of the JSON body) and the errors it
    may give besides 413 (any request's body over the limit, refused unread by
    chat/http/middleware.py) and, unless `public`, 401 and 503 (a body adds 400, a
    budget 429). `content_type` is that of the answers that are not errors."""
    statuses = {413, *errors} if public else {401, 413, 503, *errors}
    if request is not None:
        statuses.add(400)
    if budget:
        statuses.add(429)
    responses = {
        str(status): {"description": "OK", "content": {content_type: {"schema": schema}}}
        for status, schema in answers.items()
    }
    for status in sorted(statuses):
        responses[str(status)] = {
            "description": ERROR_TEXT[status],
            "content": {JSON: {"schema": ref("Error")}},
        }
    found = {"summary": summary, "responses": responses}
    if public:
        found["security"] = []
    if params:
        found["parameters"] = list(params)
    if request is not None:
        found["requestBody"] = request
    return found


def writes(summary: str, answers: dict[int, dict], **kwargs: Any) -> dict:
    """An unsafe operation: a CSRF check (403) and a budget (429)."""
    errors = tuple({403, *kwargs.pop("errors", ())})
    return operation(summary, answers, errors=errors, budget=True, **kwargs)


ROOM_ERRORS = (403, 404)
ROOM = ref("Room")
MESSAGE = ref("Message")

PATHS: dict[str, dict[str, dict]] = {
    "/api/schema/": {
        "get": operation(
            "This document (no login needed)",
            {200: {"type": "object", "required": ["openapi", "paths"]}},
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
                        **_components_refs(shapes.SHAPES["Invite"]["properties"]),
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


SECURITY_SCHEMES = {
    "session": {
        "type": "apiKey",
        "in": "cookie",
        "name": "sessionid",
        "description": "A logged-in session (POST /accounts/login/). Unsafe methods also "
        "need the `csrftoken` cookie's value in an X-CSRFToken header.",
    },
}


def _with_path_parameters(path: str, operations: dict[str, dict]) -> dict:
    names = re.findall(r"{(\w+)}", path)
    if not names:
        return operations
    return {
        "parameters": [
            {"name": name, "in": "path", "required": True, "schema": PARAMETERS[name]}
            for name in names
        ],
        **operations,
    }


@cache
def document() -> dict:
    """The whole OpenAPI document (built once; callers must not change it)."""
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "Parley HTTP API",
            "version": "1",
            "description": "The JSON API under /api/ (docs/protocol.md, 'HTTP API'). Every "
            'refusal is {"error": {"code", "detail"}} with the status of its code.',
        },
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "security": [{name: []} for name in SECURITY_SCHEMES],
        "paths": {
            path: _with_path_parameters(path, operations) for path, operations in PATHS.items()
        },
        "components": {
            "schemas": {**_components_refs(shapes.SHAPES), **API_SHAPES},
            "securitySchemes": SECURITY_SCHEMES,
        },
    }


@cache
def document_bytes() -> bytes:
    return json.dumps(document(), ensure_ascii=False, separators=(",", ":")).encode()
