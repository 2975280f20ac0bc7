"""Read side: messages with what their frames carry, and history pages."""

from collections import defaultdict

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import QuerySet

from .. import limits
from ..access import message_for_reader, room_for_reader
from ..models import CHANGED, Attachment, Message, Reaction
from ..protocol.frames import message_dict


def with_extras(messages: list[Message]) -> list[Message]:
    """Attach what message_dict needs beyond the row: reactions, mentions,
    attachments and a thread's repliers, in at most four queries for the whole list."""
    ids = [m.pk for m in messages if m.deleted_at is None]
    reactions: dict[int, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    mentions: dict[int, list[int]] = defaultdict(list)
    attachments: dict[int, list[Attachment]] = defaultdict(list)
    if ids:
        rows = (
            Reaction.objects.filter(message_id__in=ids)
            .order_by("created_at", "pk")
            .values_list("message_id", "emoji", "user_id")
        )
        for message_id, emoji, user_id in rows:
            reactions[message_id][emoji].append(user_id)
        rows = Message.mentions.through.objects.filter(message_id__in=ids).values_list(
            "message_id", "user_id"
        )
        for message_id, user_id in rows:
            mentions[message_id].append(user_id)
        for attachment in Attachment.objects.filter(message_id__in=ids).order_by("pk"):
            attachments[attachment.message_id].append(attachment)
    replier_ids = {r for m in messages if m.thread_count for r in m.thread_repliers}
    repliers = get_user_model().objects.in_bulk(replier_ids) if replier_ids else {}
    for message in messages:
        # A replier whose account is gone drops out of the names shown.
        message.replier_list = [repliers[r] for r in message.thread_repliers if r in repliers]
        message.reaction_summary = [
            {"emoji": emoji, "count": len(users), "users": users}
            for emoji, users in reactions.get(message.pk, {}).items()
        ]
        message.mention_ids = sorted(mentions.get(message.pk, []))
        message.attachment_list = attachments.get(message.pk, [])
    return messages


def messages_with_authors():
    return Message.objects.select_related("author", "reply_to__author")


def message_page(
    user: AbstractBaseUser,
    room_id: int,
    *,
    after: int | None = None,
    before: int | None = None,
    changed_after: int | None = None,
    limit: int = 50,
) -> dict:
    """A page of history in ascending seq (after a seq, before a seq, or the newest),
    or the messages changed since a revision, in ascending rev."""
    check_page(user, room_id)
    return room_page(room_id, after=after, before=before, changed_after=changed_after, limit=limit)


def check_page(user: AbstractBaseUser, room_id: int) -> None:
    """Whether the caller may read a page of the room now (its budget, then access)."""
    spend_page(user)
    room_for_reader(user, room_id)


def spend_page(user: AbstractBaseUser) -> None:
    """A page from the caller's history budget (or `rate_limited`)."""
    limits.spend("history", user.pk)


def room_page(
    room_id: int,
    *,
    after: int | None = None,
    before: int | None = None,
    changed_after: int | None = None,
    limit: int = 50,
) -> dict:
    """`message_page` without the caller: the same for every reader, so tabs asking for
    the same page together can share one read (only after `check_page` passed)."""
    messages = messages_with_authors().filter(room_id=room_id)
    if changed_after is not None:
        rows = list(messages.filter(CHANGED, rev__gt=changed_after).order_by("rev")[: limit + 1])
        has_more = len(rows) > limit
        rows = rows[:limit]
    else:
        rows, has_more = _seq_page(messages, after=after, before=before, limit=limit)
    rows = with_extras(rows)
    return {"room": room_id, "messages": [message_dict(m) for m in rows], "has_more": has_more}


def _seq_page(
    messages: QuerySet[Message], *, after: int | None, before: int | None, limit: int
) -> tuple[list[Message], bool]:
    """Up to `limit` messages in ascending seq: those after a seq, else the newest (before
    a seq, if given); and whether more lie beyond the page."""
    if after is not None:
        rows = list(messages.filter(seq__gt=after).order_by("seq")[: limit + 1])
        return rows[:limit], len(rows) > limit
    if before is not None:
        messages = messages.filter(seq__lt=before)
    rows = list(messages.order_by("-seq")[: limit + 1])
    return rows[:limit][::-1], len(rows) > limit


def thread_page(
    user: AbstractBaseUser,
    message_id: int,
    *,
    after: int | None = None,
    before: int | None = None,
    limit: int = 50,
) -> dict:
    """A thread: its root and a page of its replies in ascending seq (after a seq,
    before a seq, or the newest). `message_id` may name the root or one of its
    replies (a search result), and the thread is the root's either way."""
    limits.spend("history", user.pk)
    message = message_for_reader(user, message_id)
    root_id = message.thread_root_id or message.pk
    root = with_extras([messages_with_authors().get(pk=root_id)])[0]
    replies = messages_with_authors().filter(thread_root_id=root_id)
    rows, has_more = _seq_page(replies, after=after, before=before, limit=limit)
    rows = with_extras(rows)
    return {
        "room": root.room_id,
        "root": message_dict(root),
        "replies": [message_dict(m) for m in rows],
        "has_more": has_more,
    }
