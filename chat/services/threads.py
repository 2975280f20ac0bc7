"""Threads: replies beside the conversation, and the summary their root carries.

A thread reply is a message of the root's room with `thread_root` set: it takes the
room's seq like any message (so catch-up by seq covers threads), and the room's
timeline hides it unless its author also sent it to the room (`also_in_room`). The
root keeps a summary (replies, the newest one's seq and time, recent repliers); each
change to it takes the room's next revision and is published as `message.updated`,
so a client catches up on summaries as it does on edits.
"""

from django.db.models import F
from django.utils.translation import gettext as _

from ..access import MAX_ID
from ..errors import ChatError
from ..models import Message
from ..protocol import frames
from ..queries import messages_with_authors, with_extras
from ..realtime.fanout import publish_on_commit
from . import sql

# How many repliers a root's summary names, most recent first (the client shows a few;
# the rest decide who counts as taking part, for notifications).
THREAD_REPLIERS = 10


def thread_root_for_send(room_id: int, root_id: int | None) -> Message | None:
    """The root a reply goes under: a message of this room that is not deleted and is
    not itself a thread reply (threads do not nest)."""
    if root_id is None:
        return None
    root = None
    if 0 < root_id <= MAX_ID:
        root = Message.objects.filter(
            pk=root_id, room_id=room_id, deleted_at__isnull=True, thread_root__isnull=True
        ).first()
    if root is None:
        raise ChatError(
            "bad_request",
            _("A thread reply must go under a message of this room that is not a reply itself."),
        )
    return root


def note_reply(root_id: int, reply: Message) -> None:
    """Inside the send's transaction (which holds the room's lock): the root counts the
    new reply, takes the room's next revision and is published with its new summary."""
    root = Message.objects.only("thread_repliers").get(pk=root_id)
    repliers = [reply.author_id, *(r for r in root.thread_repliers if r != reply.author_id)]
    Message.objects.filter(pk=root_id).update(
        thread_count=F("thread_count") + 1,
        thread_last_seq=reply.seq,
        thread_last_at=reply.created_at,
        thread_repliers=repliers[:THREAD_REPLIERS],
        rev=sql.take_next_rev(reply.room_id),
    )
    _publish_root(root_id)


def forget_reply(reply: Message) -> None:
    """Inside the deletion's transaction, after the reply became a tombstone (once: a
    tombstone is not made twice): the root counts one reply fewer, and its newest reply
    and repliers are read again from the newest live replies (bounded: a few rows)."""
    live = Message.objects.filter(thread_root_id=reply.thread_root_id, deleted_at__isnull=True)
    newest = list(live.order_by("-seq").values_list("seq", "created_at", "author_id")[:200])
    repliers: list[int] = []
    for _seq, _at, author_id in newest:
        if author_id is not None and author_id not in repliers:
            repliers.append(author_id)
    Message.objects.filter(pk=reply.thread_root_id).update(
        thread_count=F("thread_count") - 1,
        thread_last_seq=newest[0][0] if newest else 0,
        thread_last_at=newest[0][1] if newest else None,
        thread_repliers=repliers[:THREAD_REPLIERS],
        rev=sql.take_next_rev(reply.room_id),
    )
    _publish_root(reply.thread_root_id)


def _publish_root(root_id: int) -> None:
    root = with_extras([messages_with_authors().get(pk=root_id)])[0]
    publish_on_commit(frames.message_updated(root), room=root.room_id)
