"""Message search over what the caller may read, newest first.

PostgreSQL: full-text search (`websearch_to_tsquery` syntax: words, "phrases",
-excluded) with the language-neutral `simple` configuration, so names and words
of any language match as typed, backed by a GIN index. Elsewhere (SQLite): every
word must appear in the body, case-insensitively.
"""

import unicodedata

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import connection
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from .. import limits
from ..access import room_for_reader
from ..errors import ChatError
from ..protocol.frames import message_dict
from .messages import messages_with_authors, with_extras

MAX_QUERY_CHARS = 200
SEARCH_CONFIG = "simple"


def _matching(messages: QuerySet, text: str) -> QuerySet:
    if connection.vendor == "postgresql":
        from django.contrib.postgres.search import SearchQuery, SearchVector

        query = SearchQuery(text, config=SEARCH_CONFIG, search_type="websearch")
        return messages.annotate(found=SearchVector("body", config=SEARCH_CONFIG)).filter(
            found=query
        )
    words = text.split()
    return messages.filter(Q(*(Q(body__icontains=word) for word in words)))


def search_messages(
    user: AbstractBaseUser,
    text: str,
    *,
    room_id: int | None = None,
    before: int | None = None,
    limit: int = 20,
) -> dict:
    """Messages matching `text` in the caller's rooms (or in one room they may read),
    newest first; page on with `before`, the id of the last result."""
    text = (text or "").strip()
    if not text:
        raise ChatError("bad_request", _("Give something to search for."))
    if len(text) > MAX_QUERY_CHARS:
        raise ChatError(
            "bad_request",
            _("A search is limited to %(limit)s characters.") % {"limit": MAX_QUERY_CHARS},
        )
    if any(unicodedata.category(char) in ("Cc", "Cs") for char in text):
        raise ChatError("bad_request", _("A search cannot contain control characters."))
    limits.spend("search", user.pk)
    messages = messages_with_authors().filter(deleted_at__isnull=True)
    if room_id is not None:
        room, _membership = room_for_reader(user, room_id)
        # Within a room seq grows with the id: the room's (room, seq) index gives its
        # messages newest first, so the search stops at the page's last match.
        messages, newest_first = messages.filter(room=room), "-seq"
    else:
        messages, newest_first = messages.filter(room__memberships__user=user), "-pk"
    if before is not None:
        messages = messages.filter(pk__lt=before)
    rows = list(_matching(messages, text).order_by(newest_first)[: limit + 1])
    results = with_extras(rows[:limit])
    return {"results": [message_dict(m) for m in results], "has_more": len(rows) > limit}
