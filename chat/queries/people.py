"""Read side of people: one person's card, and the people directory's pages."""

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import Q
from django.utils.translation import gettext as _

from ..access import MAX_USERNAME, blocks_between, may_message, person_for_viewer
from ..errors import ChatError
from ..protocol.frames import person_dict

PEOPLE_PAGE = 50  # people per directory page: the most one request reads
MAX_PEOPLE_QUERY = 64  # characters of a directory search (a display name's length)


def person_card(viewer: AbstractBaseUser, username: str) -> dict:
    """The card of the person named `username`, as the viewer sees it (two queries)."""
    person = person_for_viewer(viewer, username)
    blocked, blocked_by = blocks_between(viewer, person)
    return person_dict(
        person,
        me=person.pk == viewer.pk,
        blocked=blocked,
        can_message=may_message(viewer, person, blocked_by_other=blocked_by),
    )


def people_page(query: str = "", *, after: str = "", limit: int = PEOPLE_PAGE) -> dict:
    """Active people by username, those after `after`, whose username or display name
    holds `query` (any case): {"people": [User…], "next": the `after` of the next page
    or None}. One query of at most `limit` + 1 rows; bad input raises `bad_request`."""
    query = query.strip()
    if len(query) > MAX_PEOPLE_QUERY:
        raise ChatError(
            "bad_request",
            _("Search for at most %(count)d characters.") % {"count": MAX_PEOPLE_QUERY},
        )
    if len(after) > MAX_USERNAME or any(not ch.isprintable() for ch in query + after):
        raise ChatError("bad_request", _("This is not a page of the directory."))
    if not 0 < limit <= PEOPLE_PAGE:
        raise ChatError("bad_request", f"`limit` must be between 1 and {PEOPLE_PAGE}.")
    people = get_user_model().objects.filter(is_active=True)
    if query:
        people = people.filter(Q(username__icontains=query) | Q(display_name__icontains=query))
    if after:
        people = people.filter(username__gt=after)
    rows = list(people.order_by("username")[: limit + 1])
    more = len(rows) > limit
    return {"people": rows[:limit], "next": rows[limit - 1].username if more else None}
