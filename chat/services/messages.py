"""Messages: edit, delete, react, typing (sending is chat.services.sending).

Every change validates, writes in one transaction and publishes after commit
(`publish_on_commit`), so no client hears of a change that could still roll back.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import limits
from ..access import may_delete, may_edit, message_for_member, refuse_if_blocked, room_for_poster
from ..content import richtext
from ..errors import ChatError
from ..models import Message, Pin, Reaction
from ..protocol import frames
from ..queries import mentioned_members, messages_with_authors, with_extras
from ..realtime import fanout
from ..realtime.fanout import publish_on_commit
from . import flood, sql, threads
from .cleaning import clean_body, clean_emoji
from .pins import announce_pin_change

logger = logging.getLogger(__name__)

MAX_DISTINCT_REACTIONS = 20
TYPING_SECONDS = 2


def edit_message(user: AbstractBaseUser, message_id: int, body: str) -> Message:
    """The author rewrites a message within PARLEY_EDIT_WINDOW seconds of sending it
    (to no text at all, if it carries attachments)."""
    body = clean_body(body, may_be_empty=True)
    limits.spend("edit", user.pk)
    with transaction.atomic():
        message, _membership = message_for_member(user, message_id, lock=True)
        if not may_edit(user, message):
            raise ChatError("forbidden", _("Only the author may edit a message."))
        refuse_if_blocked(user, message.room)
        if not body and not message.attachments.exists():
            raise ChatError("bad_request", _("A message cannot be empty."))
        if message.deleted_at is not None:
            raise ChatError("bad_request", _("A deleted message cannot be edited."))
        window = settings.PARLEY_EDIT_WINDOW
        if window and timezone.now() - message.created_at > timedelta(seconds=window):
            raise ChatError("forbidden", _("This message is too old to edit."))
        mentioned = mentioned_members(message.room_id, body)
        message.body = body
        message.html = richtext.render_html(body, set(mentioned))
        message.edited_at = timezone.now()
        message.rev = sql.take_next_rev(message.room_id)
        message.save(update_fields=["body", "html", "edited_at", "rev"])
        message.mentions.set(mentioned.values())
        message = with_extras([messages_with_authors().get(pk=message.pk)])[0]
        publish_on_commit(frames.message_updated(message), room=message.room_id)
        if Pin.objects.filter(message=message).exists():
            announce_pin_change(message)  # its excerpt changed
    return message


def delete_message(user: AbstractBaseUser, message_id: int) -> Message:
    """Its author, or a group room's owner or admin, deletes a message: the seq stays,
    as a tombstone; the text, mentions, reactions and pin are gone from the database."""
    limits.spend("delete", user.pk)
    with transaction.atomic():
        message, membership = message_for_member(user, message_id, lock=True)
        if not may_delete(user, message, membership):
            raise ChatError("forbidden", _("Only the author or a room admin may delete this."))
        tombstone(message)
    return message


def tombstone(message: Message) -> None:
    """Inside the caller's transaction, with the message locked."""
    if message.deleted_at is not None:
        return
    message.body = message.html = ""
    message.deleted_at = timezone.now()
    message.rev = sql.take_next_rev(message.room_id)
    message.save(update_fields=["body", "html", "deleted_at", "rev"])
    message.mentions.clear()
    message.reactions.all().delete()
    message.attachments.all().delete()  # their files go after commit (models.py)
    publish_on_commit(frames.message_deleted(message), room=message.room_id)
    if Pin.objects.filter(message=message).delete()[0]:
        announce_pin_change(message)
    if message.thread_root_id is not None:
        threads.forget_reply(message)


def react(user: AbstractBaseUser, message_id: int, emoji: str, *, on: bool) -> dict:
    """Add (on) or take back (not on) the caller's reaction; returns the reaction event."""
    emoji = clean_emoji(emoji)
    limits.spend("react", user.pk)
    with transaction.atomic():
        message, _membership = message_for_member(user, message_id)
        if message.deleted_at is not None:
            raise ChatError("bad_request", _("A deleted message takes no reactions."))
        refuse_if_blocked(user, message.room)
        if on:
            changed = Reaction.objects.get_or_create(message=message, user=user, emoji=emoji)[1]
            if changed and (
                Reaction.objects.filter(message=message).values("emoji").distinct().count()
                > MAX_DISTINCT_REACTIONS
            ):
                raise ChatError(
                    "bad_request",
                    _("A message takes at most %(limit)s emoji.")
                    % {"limit": MAX_DISTINCT_REACTIONS},
                )
        else:
            changed = Reaction.objects.filter(message=message, user=user, emoji=emoji).delete()[0]
        frame = frames.reaction(message, user.pk, emoji, on=on)
        if changed:
            rev = sql.take_next_rev(message.room_id)
            Message.objects.filter(pk=message.pk).update(rev=rev)
            publish_on_commit(frame, room=message.room_id)
    return frame


def typing(user: AbstractBaseUser, room_id: int) -> None:
    """Tell the room's other sockets the user is typing: best-effort, never stored,
    at most once per TYPING_SECONDS per user and room whatever the client sends.

    A frame within the interval is dropped before the access check's queries: the
    key exists only if this user passed that check for this room moments ago."""
    key = f"parley:typing:{user.pk}:{room_id}"
    try:
        if flood.shared_cache().get(key) is not None:
            return
    except Exception:
        logger.warning("typing throttle unavailable", exc_info=True)
    room, _membership = room_for_poster(user, room_id)
    refuse_if_blocked(user, room)
    try:
        fresh = flood.shared_cache().add(key, 1, timeout=TYPING_SECONDS)
    except Exception:
        fresh = True
    if fresh and not limits.wait_for("typing", user.pk):  # over budget: dropped quietly
        fanout.publish_to_room(room_id, frames.typing(room_id, user))  # nothing to commit
