"""Messages: send, edit, delete, react, typing.

Every change validates, writes in one transaction and publishes after commit
(`publish_on_commit`), so no client hears of a change that could still roll back.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import limits
from ..access import (
    MAX_ID,
    may_delete,
    may_edit,
    may_post,
    message_for_member,
    refuse_if_blocked,
    room_for_poster,
)
from ..content import richtext
from ..errors import ChatError, RoomNotFound
from ..models import Attachment, Membership, Message, Pin, Reaction
from ..protocol import frames
from ..protocol.commands import MAX_ATTACHMENTS, parse_client_msg_id
from ..queries import messages_with_authors, with_extras
from ..realtime import fanout
from ..realtime.fanout import publish_on_commit
from . import flood, sql, threads
from .cleaning import clean_body, clean_emoji
from .pins import announce_pin_change
from .rooms import admit_direct_peer

logger = logging.getLogger(__name__)

MAX_DISTINCT_REACTIONS = 20
TYPING_SECONDS = 2


def _existing_send(user: AbstractBaseUser, room_id: int, client_msg_id: str) -> Message | None:
    message = messages_with_authors().filter(author=user, client_msg_id=client_msg_id).first()
    if message is not None and message.room_id != room_id:
        raise ChatError(
            "bad_request",
            "This client_msg_id was already used in another room.",
            client_msg_id=client_msg_id,
        )
    return with_extras([message])[0] if message is not None else None


def _reply_parent(room_id: int, reply_to: int | None) -> Message | None:
    if reply_to is None:
        return None
    parent = None
    if 0 < reply_to <= MAX_ID:
        parent = (
            Message.objects.select_related("author")
            .filter(pk=reply_to, room_id=room_id, deleted_at__isnull=True)
            .first()
        )
    if parent is None:
        raise ChatError("bad_request", "`reply_to` must be a message in this room.")
    return parent


def _mentioned_members(room_id: int, body: str) -> dict[str, int]:
    """The room's members the body @mentions: username -> user id."""
    if "@" not in body:
        return {}
    usernames = richtext.mention_usernames(body)
    if not usernames:
        return {}
    rows = Membership.objects.filter(room_id=room_id, user__username__in=usernames)
    return dict(rows.values_list("user__username", "user_id"))


def send_message(
    user: AbstractBaseUser,
    room_id: int,
    body: str,
    client_msg_id: str,
    *,
    reply_to: int | None = None,
    attachments: tuple[int, ...] = (),
    thread_root: int | None = None,
    also_in_room: bool = False,
    via: str | None = None,
) -> tuple[Message, bool]:
    """Store a message under the next seq of its room; (message, created).

    A retried client_msg_id returns the stored message and creates nothing (its
    attachments stay on the first one). The seq is taken under a row lock on the
    room, so commit order is seq order. With `thread_root` the message is a reply in
    that message's thread (chat.services.threads), shown in the room's timeline too
    only if `also_in_room`. `via` is the name a webhook's payload gave its sender
    (chat.services.webhooks), already cleaned.
    """
    client_msg_id = parse_client_msg_id(client_msg_id)
    try:
        if len(attachments) > MAX_ATTACHMENTS:
            raise ChatError(
                "bad_request",
                _("A message carries at most %(limit)s files.") % {"limit": MAX_ATTACHMENTS},
            )
        body = clean_body(body, may_be_empty=bool(attachments))
        try:
            flood.check_send_rate(user.pk)
        except ChatError:
            # A retry is answered even past the limit: it stores nothing.
            existing = _existing_send(user, room_id, client_msg_id)
            if existing is None:
                raise
            room_for_poster(user, room_id)
            return existing, False
        if not 0 < room_id <= MAX_ID:
            raise RoomNotFound
        parent = _reply_parent(room_id, reply_to)
        root = threads.thread_root_for_send(room_id, thread_root)
        mentioned = _mentioned_members(room_id, body)
        html = richtext.render_html(body, set(mentioned))
        with transaction.atomic():
            now = timezone.now()
            seq, direct = sql.take_next_seq(room_id, now) or (None, None)
            role, earlier_id, blocked = sql.sender_state(room_id, user.pk, client_msg_id)
            if direct and seq == 1 and may_post(role) and earlier_id is None and not blocked:
                blocked = admit_direct_peer(room_id, direct, user)
            message = None
            if seq is None or not may_post(role) or earlier_id is not None or blocked:
                transaction.set_rollback(True)  # the seq goes back; nothing is stored
            else:
                values = {
                    "room_id": room_id,
                    "seq": seq,
                    "author_id": user.pk,
                    "body": body,
                    "html": html,
                    "created_at": now,
                    "client_msg_id": client_msg_id,
                    "reply_to_id": parent.pk if parent else None,
                    "thread_root_id": root.pk if root else None,
                    "also_in_room": bool(root) and also_in_room,
                    "via": via,
                }
                message = Message(pk=sql.insert_row(Message, values), **values)
                message.author, message.reply_to = user, parent
                if mentioned:
                    Mention = Message.mentions.through
                    Mention.objects.bulk_create(
                        Mention(message_id=message.pk, user_id=user_id)
                        for user_id in mentioned.values()
                    )
                message.mention_ids = sorted(mentioned.values())
                message.reaction_summary = []
                message.attachment_list = (
                    _claim_attachments(user, room_id, message.pk, attachments)
                    if attachments
                    else []
                )
                publish_on_commit(frames.message_created(message), room=room_id)
                if root is not None:
                    threads.note_reply(root.pk, message)
        if seq is None or not may_post(role):
            room_for_poster(user, room_id)  # raises what the caller may know
            raise ChatError("unavailable", _("Your membership changed; try again."))
        if blocked and earlier_id is None:
            raise ChatError("forbidden", _("This person does not take your messages."))
        if message is None:
            return _existing_send(user, room_id, client_msg_id), False
    except ChatError as exc:
        exc.client_msg_id = client_msg_id
        raise
    except IntegrityError:
        # A concurrent retry of the same client_msg_id committed first (the unique
        # constraint decides; the whole transaction, seq included, rolled back).
        existing = _existing_send(user, room_id, client_msg_id)
        if existing is None:
            raise
        return existing, False
    return message, True


def _claim_attachments(
    user: AbstractBaseUser, room_id: int, message_id: int, ids: tuple[int, ...]
) -> list[Attachment]:
    """Attach the sender's own unsent uploads to this room to the new message, inside
    the send's transaction: one that is not (someone else's, another room's, already
    sent) fails the whole send. The UPDATE's condition decides, so two sends racing
    for one upload cannot both have it."""
    claimed = Attachment.objects.filter(
        pk__in=ids, uploader_id=user.pk, room_id=room_id, message__isnull=True
    ).update(message_id=message_id)
    if claimed != len(ids):
        raise ChatError(
            "bad_request", _("Attach only your own uploads to this room that are not yet sent.")
        )
    return list(Attachment.objects.filter(message_id=message_id).order_by("pk"))


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
        mentioned = _mentioned_members(message.room_id, body)
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
