"""The HTTP API described as an OpenAPI 3.1 document, served at GET /api/schema/.

Built from the payload schemas of chat/protocol/schema.py (OpenAPI 3.1 speaks JSON
Schema 2020-12, so they are its components as they are), with the helpers that
chat/http/openapi_paths.py's `PATHS` writes every operation with; adding an endpoint is
one entry there (docs/protocol.md, "The API's schema"). The tests hold the document to
the URL resolver, every /api/ answer of the test suite to the document
(`check_response`, tests/conftest.py), and a live server to it with Schemathesis
(tests/chat/http/test_schemathesis.py).
"""

import json
import re
from functools import cache
from typing import Any

from ..errors import STATUS_BY_CODE
from ..protocol import schema as shapes
from ..protocol.commands import (
    MAX_FETCH_LIMIT,
    MAX_PINS,
)

OPENAPI_VERSION = "3.1.1"
JSON = "application/json"
TEXT = "text/plain"
FORM = "application/x-www-form-urlencoded"
# Where the paths the document describes begin: the API, and webhooks' URLs.
PREFIXES = ("/api/", "/hooks/")
MAX_ID = 2**62  # what the API takes as an id or a cursor (commands.positive_int)


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def components_refs(value: Any) -> Any:
    """schema.py's `#/$defs/X` references as the document's `#/components/schemas/X`."""
    if isinstance(value, dict):
        return {
            key: (
                item.replace("#/$defs/", "#/components/schemas/")
                if key == "$ref"
                else components_refs(item)
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [components_refs(item) for item in value]
    return value


def obj(required: dict, optional: dict | None = None) -> dict:
    return components_refs(shapes.strict(required, optional))


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
            **components_refs(shapes.SHAPES["Room"]["properties"]),
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
    "Token": obj(
        {
            "id": ID,
            "name": {"type": "string", "minLength": 1, "maxLength": 64},
            "created_at": shapes.TIME,
            "last_used_at": shapes.nullable(shapes.TIME),
        }
    ),
    # A token just made: the one time its secret is shown.
    "NewToken": obj(
        {
            "id": ID,
            "name": {"type": "string", "minLength": 1, "maxLength": 64},
            "token": {"type": "string", "pattern": "^parley_[A-Za-z0-9_-]+$"},
            "created_at": shapes.TIME,
        }
    ),
    "Bot": obj({"user": ref("User"), "tokens": array(ref("Token"))}),
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
    "token_id": ID,
    "bot_id": ID,
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


SECURITY_SCHEMES = {
    "session": {
        "type": "apiKey",
        "in": "cookie",
        "name": "sessionid",
        "description": "A logged-in session (POST /accounts/login/). Unsafe methods also "
        "need the `csrftoken` cookie's value in an X-CSRFToken header.",
    },
    "token": {
        "type": "http",
        "scheme": "bearer",
        "description": "An API token (`Authorization: Bearer parley_…`, made at "
        "/accounts/tokens/ or POST /api/tokens/): no CSRF token needed. A bad one is a 401, "
        "never tried with the cookie instead.",
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
    from .openapi_paths import PATHS  # which builds its entries with this module's helpers

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
            "schemas": {**components_refs(shapes.SHAPES), **API_SHAPES},
            "securitySchemes": SECURITY_SCHEMES,
        },
    }


@cache
def document_bytes() -> bytes:
    return json.dumps(document(), ensure_ascii=False, separators=(",", ":")).encode()
