"""What typed text must be before it is stored: bodies, room names, topics, emoji,
webhooks' names and the names their payloads give.

Each `clean_*` returns the text to store or raises ChatError saying what is wrong.
"""

import re
import unicodedata

import emoji as emoji_lib
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ..errors import ChatError

MAX_BODY_CHARS = 4000
MAX_ROOM_NAME_CHARS = 64
ALLOWED_CONTROL = {"\n", "\t"}
ROOM_NAME_PUNCTUATION = {" ", "-", "_"}
MAX_TOPIC_CHARS = 250
MAX_LABEL_CHARS = 64  # a webhook's name (its bot's display name) and a payload's `username`
# The longest RGI emoji (a kiss with two skin tones) is 10 code points.
MAX_EMOJI_CHARS = 16
_FULLY_QUALIFIED = emoji_lib.STATUS["fully_qualified"]
_COMPONENT = emoji_lib.STATUS["component"]
# Each emoji's fully-qualified form by its CLDR name, so that "❤" and "❤️" are one reaction.
_QUALIFIED_BY_NAME = {
    data["en"]: text
    for text, data in emoji_lib.EMOJI_DATA.items()
    if data["status"] == _FULLY_QUALIFIED
}


# Every character of categories Cc (U+0000-U+001F, U+007F-U+009F) and Cs (surrogates)
# but those allowed: one regular expression search instead of a lookup per character.
_CONTROL = re.compile(
    "["
    + "".join(
        re.escape(chr(c))
        for c in [*range(0x20), *range(0x7F, 0xA0)]
        if chr(c) not in ALLOWED_CONTROL
    )
    + "\ud800-\udfff]"
)


def _refuse_control_characters(text: str, refusal: str | Promise) -> None:
    if _CONTROL.search(text):
        raise ChatError("bad_request", str(refusal))


def _within(
    text: str, limit: int, too_long: str | Promise, control: str | Promise, *, code: str
) -> str:
    """`text` if it has at most `limit` characters and no control character; else the
    refusal (`too_long` says `%(limit)s`)."""
    if len(text) > limit:
        raise ChatError(code, str(too_long) % {"limit": limit})
    _refuse_control_characters(text, control)
    return text


def clean_body(body: str, *, may_be_empty: bool = False) -> str:
    """The message text to store: trimmed, 1–4000 characters (0 for a message that
    carries attachments), no control characters."""
    body = body.strip()
    if not body and not may_be_empty:
        raise ChatError("bad_request", _("A message cannot be empty."))
    return _within(
        body,
        MAX_BODY_CHARS,
        # Translated only when refused: a send's body is cleaned on every send.
        gettext_lazy("A message is limited to %(limit)s characters."),
        gettext_lazy("The message contains a control character."),
        code="too_large",
    )


def clean_room_name(name: str) -> str:
    """1–64 letters, digits, spaces, `-` or `_`; inner runs of spaces collapse to one."""
    if not isinstance(name, str):
        raise ChatError("bad_request", "`name` must be a string.")
    wrong_length = ChatError(
        "bad_request",
        _("A room name has 1 to %(limit)s characters.") % {"limit": MAX_ROOM_NAME_CHARS},
    )
    if len(name) > 4 * MAX_ROOM_NAME_CHARS:
        raise wrong_length
    for char in name:
        if char not in ROOM_NAME_PUNCTUATION and unicodedata.category(char)[0] not in "LNM":
            raise ChatError(
                "bad_request", _("A room name may hold letters, digits, spaces, '-' and '_'.")
            )
    name = " ".join(part for part in name.split(" ") if part)
    if not name or len(name) > MAX_ROOM_NAME_CHARS:
        raise wrong_length
    return name


def clean_topic(topic: str) -> str:
    if not isinstance(topic, str):
        raise ChatError("bad_request", "`topic` must be a string.")
    return _within(
        " ".join(topic.split()),
        MAX_TOPIC_CHARS,
        _("A topic has at most %(limit)s characters."),
        _("The topic contains a control character."),
        code="bad_request",
    )


def clean_emoji(emoji: str) -> str:
    """One RGI emoji (skin tones, flags and joined sequences included), stored in its
    fully-qualified form; a lone component (a skin tone by itself) is not a reaction."""
    data = (
        emoji_lib.EMOJI_DATA.get(emoji)
        if isinstance(emoji, str) and len(emoji) <= MAX_EMOJI_CHARS
        else None
    )
    if data is None or data["status"] == _COMPONENT:
        raise ChatError("bad_request", "`emoji` must be a single emoji.")
    return _QUALIFIED_BY_NAME.get(data["en"], emoji)


def clean_webhook_name(name: object) -> str:
    """A webhook's name, which its bot shows as its display name: 1–64 characters once
    inner runs of white space are one space, no control characters."""
    if not isinstance(name, str):
        raise ChatError("bad_request", "`name` must be a string.")
    name = " ".join(name.split())
    if not name:
        raise ChatError("bad_request", _("A webhook needs a name."))
    return _within(
        name,
        MAX_LABEL_CHARS,
        _("A webhook's name has at most %(limit)s characters."),
        _("The name contains a control character."),
        code="bad_request",
    )


def clean_via(username: object) -> str | None:
    """The `username` a webhook's payload gives its sender, shown as "via": at most 64
    characters once white space is collapsed; None when absent or blank."""
    if username is None:
        return None
    if not isinstance(username, str):
        raise ChatError("bad_request", "`username` must be a string.")
    return (
        _within(
            " ".join(username.split()),
            MAX_LABEL_CHARS,
            _("`username` has at most %(limit)s characters."),
            _("`username` contains a control character."),
            code="bad_request",
        )
        or None
    )
