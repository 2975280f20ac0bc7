"""An API answer held to the OpenAPI document (chat/http/openapi.py), as
chat/protocol/schema.py's `check_frame` holds a frame to its schema.

The tests call `check_response` on every answer under /api/ that the test client
receives (tests/conftest.py). A path the document does not know must be the JSON 404
that every unknown /api/ path gets. jsonschema is a development dependency: it is
imported only when an answer is checked, and each validator is compiled once.
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


@cache
def _validator(template: str | None, method: str, status: int) -> Any:
    """The validator of the JSON body of this answer, or None if the document has no
    such answer (an unknown path answers only the JSON 404)."""
    components = document()["components"]
    if template is None:
        if status != 404:
            return None
        target = {"$ref": "#/components/schemas/Error"}
    else:
        operation = document()["paths"][template].get(method.lower())
        if operation is None:
            target = {"$ref": "#/components/schemas/Error"} if status == 405 else None
        else:
            answer = operation["responses"].get(str(status))
            target = answer["content"][JSON]["schema"] if answer else None
    if target is None:
        return None
    return strict_validator(
        {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            **target,
            "components": components,
        }
    )


def check_response(method: str, path: str, status: int, content_type: str, body: bytes) -> Any:
    """The decoded body of an answer to `method path`, or NonConformance saying how it
    differs from the document: an undocumented status, a body that is not JSON or not
    of the documented shape, or an error whose code does not go with its status."""
    from jsonschema.exceptions import best_match

    template = path_template(path)
    where = f"{method} {path} ({template or 'not in the document'}) answered {status}"
    validator = _validator(template, method, status)
    if validator is None:
        raise NonConformance(f"{where}: the document has no such answer")
    if content_type.split(";")[0].strip() != JSON:
        raise NonConformance(f"{where} as {content_type!r}, not {JSON}")
    try:
        data = json.loads(body)
    except ValueError:
        raise NonConformance(f"{where}: the body is not JSON") from None
    error = best_match(validator.iter_errors(data))
    if error is not None:
        raise NonConformance(f"{where}: {error.message} at {error.json_path}")
    if (
        isinstance(data, dict)
        and "error" in data
        and STATUS_BY_CODE[data["error"]["code"]] != status
    ):
        raise NonConformance(f"{where} with the code {data['error']['code']!r}")
    return data
