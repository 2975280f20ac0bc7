"""One encoding of a bus message, whatever carries it: the dicts the hub routes,
{"type": "chat.frame" | "chat.grant" | "chat.revoke", "group", "text", "room"?,
"except_user"?, "except_socket"?} — or "chat.end", whose text says which of a user's
sessions ended — and (on Redis) the same as one pub/sub payload."""

from redis.connection import parse_url

Message = dict
Batch = list[tuple[str, Message]]

_CODES = {"chat.frame": "f", "chat.grant": "g", "chat.revoke": "r", "chat.end": "e"}
_TYPES = {code: kind for kind, code in _CODES.items()}


def pack(message: Message) -> bytes:
    """A message as one pub/sub payload: `code:room:except_user`, then `:except_socket`
    if it has one, a newline, the text."""
    head = f"{_CODES[message['type']]}:{message.get('room', '')}:{message.get('except_user') or ''}"
    if socket := message.get("except_socket"):
        head = f"{head}:{socket}"
    return f"{head}\n{message['text']}".encode()


def unpack(group: str, payload: bytes) -> Message:
    """The message `pack` made; the event text itself is not parsed."""
    head, _, text = payload.partition(b"\n")
    code, room, skipped, *socket = head.decode().split(":", 3)
    message = {"type": _TYPES[code], "group": group, "text": text.decode()}
    if room:
        message["room"] = int(room)
    if skipped:
        message["except_user"] = int(skipped)
    if socket:
        message["except_socket"] = socket[0]
    return message


def channel_namespace(url: str, prefix: str) -> str:
    """The start of every pub/sub channel name. Pub/sub ignores database numbers, so the
    name carries it: deployments (or test runs) on other databases of one Redis never
    hear each other."""
    return f"{prefix}:{parse_url(url).get('db', 0)}:"
