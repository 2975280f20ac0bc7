"""An API answer held to the OpenAPI document (chat/http/openapi.py), as
chat/protocol/schema.py's `check_frame` holds a frame to its schema.

The tests call `check_response` on every answer the test clients receive to a path
the document `covers` (tests/conftest.py). A path under /api/ the document does not
know must be the JSON 404 that every unknown /api/ path gets. jsonschema is a
development dependency: it is imported only when an answer is checked, and each
validator is compiled once.
"""

import json
import re
from functools import cache
from typing import Any

from ..errors import STATUS_BY_CODE
from ..protocol.schema import strict_validator
from .openapi import JSON, document


class NonConformance(AssertionError):
    """An answer the document does not allow."""


@cache
def _templates() -> list[tuple[re.Pattern, str]]:
    return [
        (re.compile(re.sub(r"\\{\w+\\}", "[^/]+", re.escape(path)) + r"\Z"), path)
        for path in document()["paths"]
    ]


def path_template(path: str) -> str | None:
    """The document's path (`/api/rooms/{room_id}/`) that `path` is an instance of."""
    for pattern, template in _templates():
        if pattern.match(path):
            return template
    return None


def covers(path: str) -> bool:
    """Whether the document speaks for answers to `path`: anything under /api/ (an
    unknown path there too), and the document's other paths (a webhook's URL)."""
    return path.startswith("/api/") or path_template(path) is not None


ERROR = {JSON: {"schema": {"$ref": "#/components/schemas/Error"}}}


@cache
def _validators(template: str | None, method: str, status: int) -> dict[str, Any] | None:
    """The validator of each content type this answer may have, or None if the document
    has no such answer (an unknown path answers only the JSON 404, an undocumented
    method only the JSON 405)."""
    if template is None:
        content = ERROR if status == 404 else None
    else:
        operation = document()["paths"][template].get(method.lower())
        if operation is None:
            content = ERROR if status == 405 else None
        else:
            answer = operation["responses"].get(str(status))
            content = answer["content"] if answer else None
    if content is None:
        return None
    components = document()["components"]
    return {
        media: strict_validator(
            {
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                **spec["schema"],
                "components": components,
            }
        )
        for media, spec in content.items()
    }


def check_response(method: str, path: str, status: int, content_type: str, body: bytes) -> Any:
    """The decoded body of an answer to `method path`, or NonConformance saying how it
    differs from the document: an undocumented status or content type, a body that does
    not decode or is not of the documented shape, or an error whose code does not go with
    its status."""
    from jsonschema.exceptions import best_match

    template = path_template(path)
    where = f"{method} {path} ({template or 'not in the document'}) answered {status}"
    validators = _validators(template, method, status)
    if validators is None:
        raise NonConformance(f"{where}: the document has no such answer")
    media = content_type.split(";")[0].strip()
    if media not in validators:
        raise NonConformance(f"{where} as {content_type!r}, not {' or '.join(validators)}")
    try:
        data = json.loads(body) if media == JSON else body.decode()
    except ValueError:
        raise NonConformance(f"{where}: the body is not {media}") from None
    error = best_match(validators[media].iter_errors(data))
    if error is not None:
        raise NonConformance(f"{where}: {error.message} at {error.json_path}")
    code = data["error"]["code"] if isinstance(data, dict) and "error" in data else None
    if code is not None and STATUS_BY_CODE[code] != status:
        raise NonConformance(f"{where} with the code {code!r}")
    return data
