"""Every change to chat state: validate, write in one transaction, commit, then publish.

Publishing happens in on_commit callbacks, so no client ever hears of a change
that could still roll back, and a failed publish cannot undo a committed one.
"""

import functools
import logging
import time
import unicodedata
import uuid
from datetime import timedelta
from functools import partial

import emoji as emoji_lib
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.cache import BaseCache, caches
from django.core.cache.backends.redis import RedisCache
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.core.signals import setting_changed
from django.db import IntegrityError, transaction
from django.db.models import Case, When
from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext as _

from . import fanout, flood, richtext, sending, uploads
from .access import (
    MAX_ID,
    may_delete,
    may_edit,
    may_post,
    message_for_member,
    room_for_manager,
    room_for_poster,
    room_for_reader,
)
from .errors import ChatError, MessageNotFound, RoomNotFound
from .models import (
    Attachment,
    Block,
    Membership,
    Message,
    Reaction,
    Room,
    direct_key,
    room_name_key,
    upload_storage,
)
from .protocol import MAX_ATTACHMENTS, deleted_event, message_dict, parse_client_msg_id, user_dict
from .queries import member_dict, messages_with_authors, room_for_user, with_extras

logger = logging.getLogger(__name__)

MAX_BODY_CHARS = 4000
MAX_ROOM_NAME_CHARS = 64
ALLOWED_CONTROL = {"\n", "\t"}
ROOM_NAME_PUNCTUATION = {" ", "-", "_"}
MAX_DISTINCT_REACTIONS = 20
TYPING_SECONDS = 2


def _refuse_control_characters(text: str, refusal: str) -> None:
    for char in text:
        if char not in ALLOWED_CONTROL and unicodedata.category(char) in ("Cc", "Cs"):
            raise ChatError("bad_request", refusal)


def clean_body(body: str, *, may_be_empty: bool = False) -> str:
    """The message text to store: trimmed, 1–4000 characters (0 for a message that
    carries attachments), no control characters."""
    body = body.strip()
    if not body and not may_be_empty:
        raise ChatError("bad_request", _("A message cannot be empty."))
    if len(body) > MAX_BODY_CHARS:
        raise ChatError(
            "too_large",
            _("A message is limited to %(limit)s characters.") % {"limit": MAX_BODY_CHARS},
        )
    _refuse_control_characters(body, _("The message contains a control character."))
    return body


def clean_room_name(name: str) -> str:
    """1–64 letters, digits, spaces, `-` or `_`; inner runs of spaces collapse to one."""
    if not isinstance(name, str):
        raise ChatError("bad_request", "`name` must be a string.")
    if len(name) > 4 * MAX_ROOM_NAME_CHARS:
        raise ChatError(
            "bad_request",
            _("A room name has 1 to %(limit)s characters.") % {"limit": MAX_ROOM_NAME_CHARS},
        )
    for char in name:
        if char not in ROOM_NAME_PUNCTUATION and unicodedata.category(char)[0] not in "LNM":
            raise ChatError(
                "bad_request", _("A room name may hold letters, digits, spaces, '-' and '_'.")
            )
    name = " ".join(part for part in name.split(" ") if part)
    if not name or len(name) > MAX_ROOM_NAME_CHARS:
        raise ChatError(
            "bad_request",
            _("A room name has 1 to %(limit)s characters.") % {"limit": MAX_ROOM_NAME_CHARS},
        )
    return name


@functools.cache
def shared_cache() -> BaseCache:
    """One cache client for the process. `django.core.cache.cache` is a new client per
    async context, so on Redis every send would open a new connection."""
    return caches.create_connection("default")


@functools.cache
def _redis_counter(location: str):
    """A plain client on the cache's Redis, for counting in one round trip."""
    import redis

    return redis.Redis.from_url(location)


@receiver(setting_changed)
def _forget_shared_cache(setting: str, **kwargs) -> None:
    if setting == "CACHES":
        shared_cache.cache_clear()
        _redis_counter.cache_clear()
    if setting in ("CACHES", "PARLEY_SEND_RATE"):
        _send_counter.cache_clear()


def _add_to_count(key: str, delta: int, timeout: int) -> int:
    """Add `delta` to the counter under `key` (created with `timeout`); its new value.

    On Redis one round trip (SET NX EX, INCRBY, pipelined): through Django's cache
    the same add-then-incr takes three. The key is the cache's own, so it sits
    under the cache's prefix.
    """
    counts = shared_cache()
    if not isinstance(counts, RedisCache):
        counts.add(key, 0, timeout=timeout)
        return counts.incr(key, delta)
    key = counts.make_and_validate_key(key)
    location = settings.CACHES["default"]["LOCATION"]
    if not isinstance(location, str):
        location = location[0]
    location = location.split(",")[0]  # the first server takes the writes
    with _redis_counter(location).pipeline(transaction=False) as pipe:
        pipe.set(key, 0, ex=timeout, nx=True)
        pipe.incrby(key, delta)
        return pipe.execute()[1]


@functools.cache
def _send_counter() -> flood.SendCounter:
    return flood.SendCounter(_add_to_count)


def check_send_rate(user_id: int) -> None:
    """Flood control: at most N sends per window per user, shared across processes
    (chat.flood says how closely)."""
    limit, window = settings.PARLEY_SEND_RATE
    if not _send_counter().allow(user_id, limit, window, time.time()):
        raise ChatError("rate_limited", _("You are sending too fast; wait a moment."))


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
) -> tuple[Message, bool]:
    """Store a message under the next seq of its room; (message, created).

    A retried client_msg_id returns the stored message and creates nothing (its
    attachments stay on the first one). The seq is taken under a row lock on the
    room, so commit order is seq order.
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
            check_send_rate(user.pk)
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
        mentioned = _mentioned_members(room_id, body)
        html = richtext.render_html(body, set(mentioned))
        with transaction.atomic():
            now = timezone.now()
            seq = sending.take_next_seq(room_id, now)
            role, earlier_id, blocked = sending.sender_state(room_id, user.pk, client_msg_id)
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
                }
                message = Message(pk=sending.insert_row(Message, values), **values)
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
                frame = {"type": "message", "message": message_dict(message)}
                transaction.on_commit(partial(fanout.publish_to_room, room_id, frame))
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
    with transaction.atomic():
        message, _membership = message_for_member(user, message_id, lock=True)
        if not may_edit(user, message):
            raise ChatError("forbidden", _("Only the author may edit a message."))
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
        message.rev = sending.take_next_rev(message.room_id)
        message.save(update_fields=["body", "html", "edited_at", "rev"])
        message.mentions.set(mentioned.values())
        message = with_extras([messages_with_authors().get(pk=message.pk)])[0]
        frame = {"type": "message.updated", "message": message_dict(message)}
        transaction.on_commit(partial(fanout.publish_to_room, message.room_id, frame))
    return message


def delete_message(user: AbstractBaseUser, message_id: int) -> Message:
    """Its author, or a group room's owner or admin, deletes a message: the seq stays,
    as a tombstone; the text, mentions and reactions are gone from the database."""
    with transaction.atomic():
        message, membership = message_for_member(user, message_id, lock=True)
        if not may_delete(user, message, membership):
            raise ChatError("forbidden", _("Only the author or a room admin may delete this."))
        _tombstone(message)
    return message


def _tombstone(message: Message) -> None:
    """Inside the caller's transaction, with the message locked."""
    if message.deleted_at is not None:
        return
    message.body = message.html = ""
    message.deleted_at = timezone.now()
    message.rev = sending.take_next_rev(message.room_id)
    message.save(update_fields=["body", "html", "deleted_at", "rev"])
    message.mentions.clear()
    message.reactions.all().delete()
    message.attachments.all().delete()  # their files go after commit (models.py)
    frame = deleted_event(message)
    transaction.on_commit(partial(fanout.publish_to_room, message.room_id, frame))


def clean_emoji(emoji: str) -> str:
    """One emoji (a single grapheme, skin tones and joined sequences included)."""
    if not isinstance(emoji, str) or len(emoji) > 32 or not emoji_lib.is_emoji(emoji):
        raise ChatError("bad_request", "`emoji` must be a single emoji.")
    return emoji


def react(user: AbstractBaseUser, message_id: int, emoji: str, on: bool) -> dict:
    """Add (on) or take back (not on) the caller's reaction; returns the reaction event."""
    emoji = clean_emoji(emoji)
    with transaction.atomic():
        message, _membership = message_for_member(user, message_id)
        if message.deleted_at is not None:
            raise ChatError("bad_request", _("A deleted message takes no reactions."))
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
        frame = {
            "type": "reaction",
            "message": message.pk,
            "room": message.room_id,
            "emoji": emoji,
            "user": user.pk,
            "on": on,
        }
        if changed:
            rev = sending.take_next_rev(message.room_id)
            Message.objects.filter(pk=message.pk).update(rev=rev)
            transaction.on_commit(partial(fanout.publish_to_room, message.room_id, frame))
    return frame


def typing(user: AbstractBaseUser, room_id: int) -> None:
    """Tell the room's other sockets the user is typing: best-effort, never stored,
    at most once per TYPING_SECONDS per user and room whatever the client sends.

    A frame within the interval is dropped before the access check's queries: the
    key exists only if this user passed that check for this room moments ago."""
    key = f"parley:typing:{user.pk}:{room_id}"
    try:
        if shared_cache().get(key) is not None:
            return
    except Exception:
        logger.warning("typing throttle unavailable", exc_info=True)
    room_for_poster(user, room_id)
    try:
        fresh = shared_cache().add(key, 1, timeout=TYPING_SECONDS)
    except Exception:
        fresh = True
    if fresh:
        fanout.publish_to_room(
            room_id, {"type": "typing", "room": room_id, "user": user_dict(user)}
        )


def _join(user: AbstractBaseUser, room: Room, role: str = Membership.Role.MEMBER) -> Membership:
    membership, created = Membership.objects.get_or_create(
        room=room, user=user, defaults={"role": role, "last_read_seq": 0}
    )
    if created:
        transaction.on_commit(partial(_announce_room, user, room.pk))
        transaction.on_commit(partial(_announce_member, room.pk, user, membership.role))
    return membership


def _announce_member(room_id: int, user: AbstractBaseUser, role: str | None) -> None:
    """The room's members hear that someone joined (role), changed role, or left (None),
    so member lists stay current without polling."""
    frame = {"type": "member", "room": room_id, **member_dict(user, role)}
    fanout.publish_to_room(room_id, frame)


def _announce_room(user: AbstractBaseUser, room_id: int) -> None:
    """Tell the user's open sockets about a room they can now see, and subscribe them."""
    frame = {"type": "room", "room": room_for_user(user, room_id)}
    fanout.grant_room(user.pk, room_id, frame)


def create_or_join_room(user: AbstractBaseUser, name: str) -> tuple[Room, bool]:
    """The public room of this name, created if missing, with the user in it; (room, created)."""
    name = clean_room_name(name)
    key = room_name_key(name)
    for _attempt in range(2):
        try:
            with transaction.atomic():
                room = Room.objects.filter(name_key=key).first()
                created = room is None
                if created:
                    room = Room.objects.create(
                        kind=Room.Kind.PUBLIC, name=name, name_key=key, created_by=user
                    )
                elif (
                    room.kind != Room.Kind.PUBLIC
                    and not room.memberships.filter(user=user).exists()
                ):
                    raise ChatError("bad_request", _("That room name is taken."))
                _join(user, room, Membership.Role.OWNER if created else Membership.Role.MEMBER)
                return room, created
        except IntegrityError:
            continue  # Someone created it at the same moment: join theirs.
    raise ChatError("unavailable", _("Could not create the room; try again."))


def create_private_room(user: AbstractBaseUser, name: str) -> Room:
    """A new private room owned by the user."""
    name = clean_room_name(name)
    try:
        with transaction.atomic():
            room = Room.objects.create(
                kind=Room.Kind.PRIVATE, name=name, name_key=room_name_key(name), created_by=user
            )
            _join(user, room, Membership.Role.OWNER)
    except IntegrityError:
        raise ChatError("bad_request", _("That room name is taken.")) from None
    return room


def open_direct(user: AbstractBaseUser, username: str) -> tuple[Room, bool]:
    """The one direct room of this pair of users, created if missing; (room, created)."""
    if not isinstance(username, str) or not username:
        raise ChatError("bad_request", "`username` must be a non-empty string.")
    other = get_user_model().objects.filter(username=username, is_active=True).first()
    if other is None:
        raise ChatError("not_found", _("No such user."))
    if other.pk == user.pk:
        raise ChatError("bad_request", _("A direct conversation needs another person."))
    if Block.objects.filter(blocker=other, blocked=user).exists():
        raise ChatError("forbidden", _("This person does not take your messages."))
    key = direct_key(user.pk, other.pk)
    for _attempt in range(2):
        try:
            with transaction.atomic():
                room, created = Room.objects.get_or_create(
                    direct_key=key, defaults={"kind": Room.Kind.DIRECT, "created_by": user}
                )
                _join(user, room)
                _join(other, room)
                return room, created
        except IntegrityError:
            continue
    raise ChatError("unavailable", _("Could not open the conversation; try again."))


def add_member(actor: AbstractBaseUser, room_id: int, username: str) -> Membership:
    """An owner or admin adds someone to a group room."""
    with transaction.atomic():
        room, _membership = room_for_manager(actor, room_id, lock=True)
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise ChatError("not_found", _("No such user."))
        return _join(user, room)


def _drop(user: AbstractBaseUser, room: Room) -> None:
    Membership.objects.filter(room=room, user=user).delete()
    frame = {"type": "room.removed", "room": room.pk}
    transaction.on_commit(partial(fanout.revoke_room, user.pk, room.pk, frame))
    transaction.on_commit(partial(_announce_member, room.pk, user, None))


def _member_named(room: Room, username: str) -> Membership:
    target = (
        Membership.objects.filter(room=room, user__username=username).select_related("user").first()
    )
    if target is None:
        raise ChatError("not_found", _("That person is not in this room."))
    return target


def remove_member(actor: AbstractBaseUser, room_id: int, username: str) -> None:
    """An owner or admin removes a member; owners can only be removed by owners."""
    with transaction.atomic():
        room, actor_membership = room_for_manager(actor, room_id, lock=True)
        target = _member_named(room, username)
        if target.user_id == actor.pk:
            raise ChatError("bad_request", _("Use leave to leave a room."))
        if target.role == Membership.Role.OWNER and actor_membership.role != Membership.Role.OWNER:
            raise ChatError("forbidden", _("Only an owner may remove an owner."))
        _drop(target.user, room)


MAX_TOPIC_CHARS = 250


def clean_topic(topic: str) -> str:
    if not isinstance(topic, str):
        raise ChatError("bad_request", "`topic` must be a string.")
    topic = " ".join(topic.split())
    if len(topic) > MAX_TOPIC_CHARS:
        raise ChatError(
            "bad_request",
            _("A topic has at most %(limit)s characters.") % {"limit": MAX_TOPIC_CHARS},
        )
    _refuse_control_characters(topic, _("The topic contains a control character."))
    return topic


def update_room(
    actor: AbstractBaseUser, room_id: int, *, name: str | None = None, topic: str | None = None
) -> Room:
    """An owner or admin renames a group room or sets its topic; every member hears it."""
    with transaction.atomic():
        room, _membership = room_for_manager(actor, room_id, lock=True)
        _change_room(room, name=name, topic=topic)
    return room


def _change_room(room: Room, *, name: str | None, topic: str | None) -> None:
    """Inside the caller's transaction, with the room locked."""
    fields = []
    if name is not None:
        room.name = clean_room_name(name)
        room.name_key = room_name_key(room.name)
        fields += ["name", "name_key"]
    if topic is not None:
        room.topic = clean_topic(topic)
        fields.append("topic")
    if not fields:
        raise ChatError("bad_request", "Give a `name` or a `topic`.")
    try:
        with transaction.atomic():
            room.save(update_fields=fields)
    except IntegrityError:
        raise ChatError("bad_request", _("That room name is taken.")) from None
    frame = {"type": "room.updated", "room": room.pk, "name": room.name, "topic": room.topic}
    transaction.on_commit(partial(fanout.publish_to_room, room.pk, frame))


def set_role(actor: AbstractBaseUser, room_id: int, username: str, role: str) -> Membership:
    """An owner makes a member an admin or an owner, or back; a room keeps an owner."""
    if role not in Membership.Role.values:
        raise ChatError("bad_request", "`role` must be owner, admin or member.")
    with transaction.atomic():
        room, actor_membership = room_for_manager(actor, room_id, lock=True)
        if actor_membership.role != Membership.Role.OWNER:
            raise ChatError("forbidden", _("Only an owner may change roles."))
        target = _member_named(room, username)
        _change_role(target, role)
    return target


def _change_role(target: Membership, role: str) -> None:
    """Inside the caller's transaction, with the room locked."""
    others = Membership.objects.filter(room_id=target.room_id, role=Membership.Role.OWNER)
    if (
        target.role == Membership.Role.OWNER
        and role != target.role
        and not others.exclude(pk=target.pk).exists()
    ):
        raise ChatError("bad_request", _("A room needs an owner: make someone else owner first."))
    target.role = role
    target.save(update_fields=["role"])
    transaction.on_commit(partial(_announce_membership, target.user_id, target.room_id))
    transaction.on_commit(partial(_announce_member, target.room_id, target.user, role))


def _announce_membership(user_id: int, room_id: int) -> None:
    """The member's sockets get their room again, with its new role or mute."""
    user = get_user_model().objects.get(pk=user_id)
    fanout.publish_to_user(user_id, {"type": "room", "room": room_for_user(user, room_id)})


def leave_room(user: AbstractBaseUser, room_id: int) -> None:
    """The user leaves a group room; the longest-standing member inherits a last owner's role."""
    with transaction.atomic():
        room, membership = room_for_poster(user, room_id, lock=True)
        if room.is_direct:
            raise ChatError("bad_request", _("Direct conversations cannot be left."))
        _drop(user, room)
        if membership.role == Membership.Role.OWNER:
            _hand_on_ownership(room)


def _hand_on_ownership(room: Room) -> None:
    """A room whose last owner went: an admin, else the longest-standing member, inherits."""
    others = Membership.objects.filter(room=room)
    if others.filter(role=Membership.Role.OWNER).exists():
        return
    rank = Case(When(role=Membership.Role.ADMIN, then=0), default=1)
    heir = others.select_related("user").order_by(rank, "joined_at", "pk").first()
    if heir is not None:
        Membership.objects.filter(pk=heir.pk).update(role=Membership.Role.OWNER)
        transaction.on_commit(partial(_announce_membership, heir.user_id, room.pk))
        transaction.on_commit(partial(_announce_member, room.pk, heir.user, Membership.Role.OWNER))


def set_muted(user: AbstractBaseUser, room_id: int, muted: bool) -> bool:
    """The member mutes (or unmutes) notifications from a room, on every device."""
    if not isinstance(muted, bool):
        raise ChatError("bad_request", "`muted` must be true or false.")
    with transaction.atomic():
        _room, membership = room_for_poster(user, room_id)
        Membership.objects.filter(pk=membership.pk).update(muted=muted)
        transaction.on_commit(partial(_announce_membership, user.pk, room_id))
    return muted


def block_user(user: AbstractBaseUser, username: str) -> None:
    """From now on `username` cannot open a DM with the user or write in theirs."""
    other = get_user_model().objects.filter(username=username).first()
    if other is None:
        raise ChatError("not_found", _("No such user."))
    if other.pk == user.pk:
        raise ChatError("bad_request", _("You cannot block yourself."))
    Block.objects.get_or_create(blocker=user, blocked=other)


def unblock_user(user: AbstractBaseUser, username: str) -> None:
    Block.objects.filter(blocker=user, blocked__username=username).delete()


def blocked_usernames(user: AbstractBaseUser) -> list[str]:
    return sorted(Block.objects.filter(blocker=user).values_list("blocked__username", flat=True))


def mark_read(user: AbstractBaseUser, room_id: int, seq: int) -> int:
    """Move the user's read pointer forward (never back); returns the pointer."""
    with transaction.atomic():
        room, membership = room_for_reader(user, room_id)
        if membership is None:
            raise ChatError("forbidden", _("Join this room first."))
        seq = min(seq, room.last_seq)
        moved = Membership.objects.filter(pk=membership.pk, last_read_seq__lt=seq).update(
            last_read_seq=seq
        )
        if not moved:
            return membership.last_read_seq
        frame = {"type": "read", "room": room.pk, "user": user.pk, "seq": seq}
        transaction.on_commit(partial(fanout.publish_to_user, user.pk, frame))
        if room.is_direct:
            for peer_id in room.memberships.exclude(user=user).values_list("user_id", flat=True):
                transaction.on_commit(partial(fanout.publish_to_user, peer_id, frame))
    return seq


# Staff in the Django admin act as a room's owner would: the same rules, the same events.


def _locked_room(room_id: int) -> Room:
    room = Room.objects.select_for_update().filter(pk=room_id).first()
    if room is None:
        raise RoomNotFound()
    return room


def moderate_delete_message(message_id: int) -> Message:
    with transaction.atomic():
        message = Message.objects.select_for_update().filter(pk=message_id).first()
        if message is None:
            raise MessageNotFound()
        _tombstone(message)
    return message


def moderate_room(room_id: int, *, name: str, topic: str) -> Room:
    """Only what changed is applied, so an unchanged name is not re-validated."""
    with transaction.atomic():
        room = _locked_room(room_id)
        if room.is_direct:
            raise ChatError("bad_request", _("A direct conversation has no name or topic."))
        new_name = name if name != room.name else None
        new_topic = topic if topic != room.topic else None
        if new_name is not None or new_topic is not None:
            _change_room(room, name=new_name, topic=new_topic)
    return room


def moderate_add_member(room_id: int, user_id: int, role: str) -> Membership:
    with transaction.atomic():
        room = _locked_room(room_id)
        if room.is_direct:
            raise ChatError("bad_request", _("A direct conversation keeps its two people."))
        user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
        if user is None:
            raise ChatError("not_found", _("No such user."))
        if Membership.objects.filter(room=room, user=user).exists():
            raise ChatError("bad_request", _("That person is already in this room."))
        return _join(user, room, role=role)


def moderate_set_role(membership_id: int, role: str) -> Membership:
    if role not in Membership.Role.values:
        raise ChatError("bad_request", "`role` must be owner, admin or member.")
    with transaction.atomic():
        membership = Membership.objects.filter(pk=membership_id).first()
        if membership is None:
            raise ChatError("not_found", _("No such membership."))
        _locked_room(membership.room_id)
        membership.refresh_from_db()
        if membership.role != role:
            _change_role(membership, role)
    return membership


def moderate_remove_member(membership_id: int) -> None:
    """The removed member's sockets stop hearing the room at once; ownership passes on."""
    with transaction.atomic():
        membership = Membership.objects.select_related("user").filter(pk=membership_id).first()
        if membership is None:
            return
        room = _locked_room(membership.room_id)
        if room.is_direct:
            raise ChatError("bad_request", _("A direct conversation keeps its two people."))
        _drop(membership.user, room)
        if membership.role == Membership.Role.OWNER:
            _hand_on_ownership(room)


def moderate_delete_room(room_id: int) -> None:
    """Every member's sockets hear `room.removed` before the room and its messages go."""
    with transaction.atomic():
        room = _locked_room(room_id)
        for membership in room.memberships.select_related("user"):
            _drop(membership.user, room)
        room.delete()


def moderate_delete_attachment(attachment_id: int) -> None:
    """A sent message that loses a file is updated on every member's screen; one left
    with neither text nor files becomes a tombstone."""
    with transaction.atomic():
        attachment = Attachment.objects.filter(pk=attachment_id).first()
        if attachment is None:
            return
        message_id = attachment.message_id
        if message_id is None:
            attachment.delete()
            return
        message = Message.objects.select_for_update().get(pk=message_id)
        attachment.delete()  # its files go after commit (models.py)
        if not message.body and not message.attachments.exists():
            _tombstone(message)
            return
        message.rev = sending.take_next_rev(message.room_id)
        message.save(update_fields=["rev"])
        message = with_extras([messages_with_authors().get(pk=message.pk)])[0]
        frame = {"type": "message.updated", "message": message_dict(message)}
        transaction.on_commit(partial(fanout.publish_to_room, message.room_id, frame))


def upload_attachment(
    user: AbstractBaseUser, room_id: int, upload: UploadedFile | None
) -> Attachment:
    """Store an upload for a later send into this room (members who may post only).

    Judged by its bytes (chat.uploads); images are re-encoded. Nothing is kept
    when it is refused: files written before a failure are deleted again."""
    room, _membership = room_for_poster(user, room_id)
    if upload is None:
        raise ChatError("bad_request", "Send the file as multipart form data in the field `file`.")
    limit = settings.PARLEY_UPLOAD_MAX_BYTES
    if upload.size > limit:
        raise ChatError("too_large", _("Files are limited to %(limit)s bytes.") % {"limit": limit})
    if upload.size == 0:
        raise ChatError("bad_request", _("The file is empty."))
    check_send_rate(user.pk)
    processed = uploads.process(upload)
    storage = upload_storage()
    stem = f"{room.pk}/{uuid.uuid4().hex}"
    stored: list[str] = []
    try:
        stored.append(storage.save(stem + processed.extension, ContentFile(processed.data)))
        if processed.thumbnail is not None:
            stored.append(storage.save(f"{stem}-thumb.webp", ContentFile(processed.thumbnail)))
        return Attachment.objects.create(
            uploader=user,
            room=room,
            file=stored[0],
            thumbnail=stored[1] if len(stored) > 1 else "",
            name=processed.name,
            content_type=processed.content_type,
            size=len(processed.data),
            width=processed.width,
            height=processed.height,
        )
    except BaseException:
        for name in stored:
            storage.delete(name)
        raise


def clean_stale_uploads(older_than: timedelta) -> tuple[int, int]:
    """Delete uploads never sent within `older_than`, and stored files no row names
    (left by a crash between writing a file and its row); (rows, stray files)."""
    cutoff = timezone.now() - older_than
    deleted = Attachment.objects.filter(message__isnull=True, created_at__lt=cutoff).delete()[0]
    storage = upload_storage()
    strays = 0
    folders = storage.listdir("")[0] if storage.exists("") else []
    for folder in folders:  # one per room, named by its id
        named = Attachment.objects.filter(room_id=int(folder) if folder.isdigit() else None)
        known = {name for pair in named.values_list("file", "thumbnail") for name in pair}
        for name in storage.listdir(folder)[1]:
            path = f"{folder}/{name}"
            if path not in known and storage.get_modified_time(path) < cutoff:
                storage.delete(path)
                strays += 1
    return deleted, strays
