"""Client frames parsed into commands: what a socket (and the API's shared fields) accept.

Pure functions with no I/O, so every rule here is cheap to test and fuzz.
docs/protocol.md is the contract; keep the two in step.
"""

import json
import re
import uuid
from dataclasses import dataclass, replace
from typing import Any

from ..errors import ChatError

MAX_FRAME_BYTES = 64 * 1024
MAX_NESTING = 16  # a real frame nests two or three levels
MAX_REQUEST_ID_CHARS = 64
MAX_FETCH_LIMIT = 200
DEFAULT_FETCH_LIMIT = 50
MAX_ATTACHMENTS = 10
MAX_PINS = 50  # pinned messages a room holds; the header's list stays short
CANONICAL_UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass(frozen=True)
class Send:
    room: int
    body: str
    client_msg_id: str
    reply_to: int | None = None
    attachments: tuple[int, ...] = ()
    thread_root: int | None = None
    also_in_room: bool = False
    request_id: str | None = None


@dataclass(frozen=True)
class Fetch:
    room: int
    after: int | None = None
    before: int | None = None
    limit: int = DEFAULT_FETCH_LIMIT
    changed_after: int | None = None
    request_id: str | None = None


@dataclass(frozen=True)
class Read:
    room: int
    seq: int
    request_id: str | None = None


@dataclass(frozen=True)
class Ping:
    request_id: str | None = None


@dataclass(frozen=True)
class Edit:
    message: int
    body: str
    request_id: str | None = None


@dataclass(frozen=True)
class Delete:
    message: int
    request_id: str | None = None


@dataclass(frozen=True)
class React:
    message: int
    emoji: str
    on: bool
    request_id: str | None = None


@dataclass(frozen=True)
class Typing:
    room: int
    request_id: str | None = None


@dataclass(frozen=True)
class Presence:
    state: str  # "active" or "idle"
    request_id: str | None = None


@dataclass(frozen=True)
class Pin:
    room: int
    message: int
    on: bool
    request_id: str | None = None


Command = Send | Fetch | Read | Ping | Edit | Delete | React | Typing | Presence | Pin


def parse_frame(text: str | None) -> Command:
    """Turn one text frame into a command, or raise ChatError saying what is wrong."""
    if text is None:
        raise ChatError("bad_request", "Send JSON text frames, not binary.")
    if len(text) > MAX_FRAME_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_FRAME_BYTES:
        raise ChatError("too_large", f"Frames are limited to {MAX_FRAME_BYTES} bytes.")
    data = load_json(text, "frame")
    if not isinstance(data, dict):
        raise ChatError("bad_request", "A frame must be a JSON object.")
    client_msg_id = data.get("client_msg_id")
    client_msg_id = client_msg_id if isinstance(client_msg_id, str) else None
    request_id = data.get("request_id")
    try:
        if request_id is not None and (
            not isinstance(request_id, str) or len(request_id) > MAX_REQUEST_ID_CHARS
        ):
            request_id = None
            raise ChatError(
                "bad_request",
                f"`request_id` must be a string of at most {MAX_REQUEST_ID_CHARS} characters.",
            )
        kind = data.get("type")
        parser = PARSERS.get(kind) if isinstance(kind, str) else None
        if parser is None:
            raise ChatError("bad_request", f"Unknown frame type {kind!r}.")
        command = parser(data)
        # Most frames carry no request_id, and dataclasses.replace was ~40 % of parsing one.
        return command if request_id is None else replace(command, request_id=request_id)
    except ChatError as exc:
        exc.client_msg_id = client_msg_id
        exc.request_id = request_id
        raise


def load_json(text: str | bytes, what: str) -> Any:
    """JSON from a client (a frame, a request body), checked where it enters in one walk
    linear in its size: at most MAX_NESTING levels of arrays and objects, and every
    string valid Unicode (a lone surrogate can be neither stored nor sent back)."""
    try:
        data = json.loads(text)
    except RecursionError:
        raise _too_deep() from None
    except ValueError:
        raise ChatError("bad_request", f"The {what} is not valid JSON.") from None
    pending = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, str):
            _check_text(value)
        elif isinstance(value, dict | list):
            if depth > MAX_NESTING:
                raise _too_deep()
            if isinstance(value, dict):
                for key in value:
                    _check_text(key)
                value = value.values()
            pending.extend((item, depth + 1) for item in value)
    return data


def _too_deep() -> ChatError:
    return ChatError("too_large", f"Frames may nest at most {MAX_NESTING} levels deep.")


def _check_text(text: str) -> None:
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise ChatError("bad_request", "Strings must be valid Unicode.") from None


def positive_int(data: dict, field: str, *, required: bool = True, minimum: int = 1) -> int | None:
    value = data.get(field)
    if value is None and not required:
        return None
    if type(value) is not int or value < minimum or value > 2**62:
        raise ChatError("bad_request", f"`{field}` must be an integer ≥ {minimum}.")
    return value


def parse_client_msg_id(value: Any) -> str:
    """The canonical text of a client's UUID, or ChatError."""
    if not isinstance(value, str) or len(value) > 64:
        raise ChatError("bad_request", "`client_msg_id` must be a UUID string.")
    if CANONICAL_UUID_RE.fullmatch(value):
        return value  # what clients send: already the canonical text
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ChatError("bad_request", "`client_msg_id` must be a UUID string.") from None


def text_field(data: dict, field: str) -> str:
    value = data.get(field)
    if not isinstance(value, str):
        raise ChatError("bad_request", f"`{field}` must be a string.")
    return value


def attachment_ids(data: dict) -> tuple[int, ...]:
    """The optional `attachments` of a send: distinct upload ids, at most MAX_ATTACHMENTS."""
    value = data.get("attachments")
    if value is None:
        return ()
    if (
        not isinstance(value, list)
        or len(value) > MAX_ATTACHMENTS
        or any(type(item) is not int or not 0 < item <= 2**62 for item in value)
    ):
        raise ChatError(
            "bad_request",
            f"`attachments` must be a list of at most {MAX_ATTACHMENTS} upload ids.",
        )
    if len(set(value)) != len(value):
        raise ChatError("bad_request", "`attachments` lists an upload twice.")
    return tuple(value)


def _parse_send(data: dict) -> Send:
    return Send(
        room=positive_int(data, "room"),
        body=text_field(data, "body"),
        client_msg_id=parse_client_msg_id(data.get("client_msg_id")),
        reply_to=positive_int(data, "reply_to", required=False),
        attachments=attachment_ids(data),
        thread_root=positive_int(data, "thread_root", required=False),
        also_in_room=flag(data, "also_in_room", False),
    )


def _parse_edit(data: dict) -> Edit:
    return Edit(message=positive_int(data, "message"), body=text_field(data, "body"))


def _parse_delete(data: dict) -> Delete:
    return Delete(message=positive_int(data, "message"))


def flag(data: dict, field: str, default: bool) -> bool:
    value = data.get(field, default)
    if not isinstance(value, bool):
        raise ChatError("bad_request", f"`{field}` must be true or false.")
    return value


def _parse_react(data: dict) -> React:
    return React(
        message=positive_int(data, "message"),
        emoji=text_field(data, "emoji"),
        on=flag(data, "on", True),
    )


def _parse_pin(data: dict) -> Pin:
    return Pin(
        room=positive_int(data, "room"),
        message=positive_int(data, "message"),
        on=flag(data, "on", True),
    )


def _parse_typing(data: dict) -> Typing:
    return Typing(room=positive_int(data, "room"))


def _parse_presence(data: dict) -> Presence:
    state = data.get("status")
    if state not in ("active", "idle"):
        raise ChatError("bad_request", "`status` must be 'active' or 'idle'.")
    return Presence(state=state)


def parse_page(
    after: Any, before: Any, limit: Any, changed_after: Any = None
) -> tuple[int | None, int | None, int, int | None]:
    """Validate a history page request; shared by the socket and the HTTP API."""
    page = {"after": after, "before": before, "limit": limit, "changed_after": changed_after}
    after = positive_int(page, "after", required=False, minimum=0)
    before = positive_int(page, "before", required=False)
    changed_after = positive_int(page, "changed_after", required=False, minimum=0)
    if sum(cursor is not None for cursor in (after, before, changed_after)) > 1:
        raise ChatError("bad_request", "Give one of `after`, `before` or `changed_after`.")
    limit = positive_int(page, "limit", required=False) or DEFAULT_FETCH_LIMIT
    if limit > MAX_FETCH_LIMIT:
        raise ChatError("bad_request", f"`limit` must be at most {MAX_FETCH_LIMIT}.")
    return after, before, limit, changed_after


def _parse_fetch(data: dict) -> Fetch:
    room = positive_int(data, "room")
    after, before, limit, changed_after = parse_page(
        data.get("after"), data.get("before"), data.get("limit"), data.get("changed_after")
    )
    return Fetch(room=room, after=after, before=before, limit=limit, changed_after=changed_after)


def _parse_read(data: dict) -> Read:
    return Read(room=positive_int(data, "room"), seq=positive_int(data, "seq", minimum=0))


PARSERS = {
    "send": _parse_send,
    "fetch": _parse_fetch,
    "read": _parse_read,
    "ping": lambda _data: Ping(),
    "edit": _parse_edit,
    "delete": _parse_delete,
    "react": _parse_react,
    "typing": _parse_typing,
    "presence": _parse_presence,
    "pin": _parse_pin,
}
