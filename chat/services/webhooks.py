"""Incoming webhooks: owners and admins of a group room make a secret URL that other
programs post text to, as a message of the room.

Each webhook posts as its own bot (accounts.bots): an account made with it, named after
it, owned by its maker and a member of the room. A post goes through `send_message` as
that bot, so access, flood control, rendering, events and idempotency are those of any
send. The secret is shown once, to the maker; only its SHA-256 is stored (as an invite
token's), and a post finds its webhook by that hash. Revoking a webhook deactivates its
bot and takes it out of the room: its messages stay, under its name.
"""

import secrets
import uuid

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.bots import create_bot
from accounts.models import name_taken

from .. import limits
from ..access import MAX_ID, room_for_webhook_manager
from ..errors import ChatError, WebhookNotFound
from ..models import Message, Room, Webhook
from ..queries.webhooks import live_webhook, secret_hash
from .cleaning import clean_via, clean_webhook_name
from .members import drop, join
from .sending import send_message

SECRET_BYTES = 24  # 192 random bits: 32 URL-safe characters, the shape invite tokens have
MAX_LIVE_PER_ROOM = 20  # live webhooks a room may have at once
BOT_NAME_BYTES = 6


def _bot_username() -> str:
    """A username for a new webhook's bot that nobody's name could be taken for:
    `webhook-` and 48 random bits, drawn again in the unlikely case one could. (From
    then on registration refuses it and its look-alikes, as it refuses any name in use.)"""
    while True:
        username = f"webhook-{secrets.token_hex(BOT_NAME_BYTES)}"
        if not name_taken(username):
            return username


def create_webhook(actor: AbstractBaseUser, room_id: int, name: object) -> tuple[Webhook, str]:
    """An owner or admin makes a webhook for the room; (webhook, secret). Its bot joins
    the room (the members hear it). The secret is not stored and cannot be shown again.
    The name is its bot's display name, so, as any bot's, it may not look like a
    person's name; other bots (another room's webhook) may share it."""
    name = clean_webhook_name(name)
    limits.spend("webhook", actor.pk)
    secret = secrets.token_urlsafe(SECRET_BYTES)
    with transaction.atomic():
        room, _membership = room_for_webhook_manager(actor, room_id, lock=True)
        if room.webhooks.filter(revoked_at__isnull=True).count() >= MAX_LIVE_PER_ROOM:
            raise ChatError("bad_request", _("This room has too many webhooks. Revoke some first."))
        if name_taken(name, among_people=True):
            # Its bot's display name, under a bot's rule (accounts.bots.create_bot),
            # said without the form's field name.
            raise ChatError(
                "bad_request",
                _("This name looks too much like someone else's name: choose another."),
            )
        bot = create_bot(actor, username=_bot_username(), display_name=name)
        webhook = Webhook.objects.create(
            room=room,
            name=name,
            bot=bot,
            created_by=actor,
            secret_hash=secret_hash(secret),
            created_at=timezone.now(),
        )
        join(bot, room)
    return webhook, secret


def revoke_webhook(actor: AbstractBaseUser, room_id: int, webhook_id: int) -> None:
    """An owner or admin revokes one of the room's webhooks: its URL posts nothing from
    now on, its bot is deactivated and leaves the room (the members hear it)."""
    limits.spend("webhook", actor.pk)
    with transaction.atomic():
        room, _membership = room_for_webhook_manager(actor, room_id, lock=True)
        webhook = (
            Webhook.objects.select_for_update(of=("self",))
            .select_related("bot")
            .filter(pk=webhook_id if 0 < webhook_id <= MAX_ID else 0, room=room)
            .filter(revoked_at__isnull=True)
            .first()
        )
        if webhook is None:
            raise ChatError("not_found", _("No such webhook."))
        _revoke(webhook, room)


def moderate_revoke_webhook(webhook_id: int) -> None:
    """Staff revoke a webhook (the admin), as its room's owner would: no budget, no role."""
    room_id = Webhook.objects.filter(pk=webhook_id).values_list("room_id", flat=True).first()
    with transaction.atomic():
        # The room first, then the webhook: the order the owner's revoke locks them in.
        room = Room.objects.select_for_update().filter(pk=room_id).first()
        webhook = (
            Webhook.objects.select_for_update(of=("self",))
            .select_related("bot")
            .filter(pk=webhook_id, room=room, revoked_at__isnull=True)
            .first()
        )
        if room is None or webhook is None:
            raise ChatError("not_found", _("No such webhook."))
        _revoke(webhook, room)


def _revoke(webhook: Webhook, room: Room) -> None:
    """Inside the caller's transaction, the room locked: the URL posts nothing from now
    on, the bot is deactivated and leaves the room (its members hear it)."""
    webhook.revoked_at = timezone.now()
    webhook.save(update_fields=["revoked_at"])
    bot = webhook.bot
    bot.is_active = False
    bot.save(update_fields=["is_active"])
    drop(bot, room)


def retire_webhooks(room: Room) -> None:
    """Inside the caller's transaction, before `room` is deleted (its webhooks go with it):
    their bots are deactivated, as revoking each would, rather than left without a room."""
    for webhook in room.webhooks.filter(bot__is_active=True).select_related("bot"):
        webhook.bot.is_active = False
        webhook.bot.save(update_fields=["is_active"])


def post_to_webhook(
    secret: str, text: str, *, client_msg_id: object = None, username: object = None
) -> tuple[Message, bool]:
    """A program posts `text` through a webhook: a message of its room from its bot,
    shown "via" `username` when one is given; (message, created). A retried
    `client_msg_id` stores nothing new. An unknown or revoked secret, and a webhook
    whose bot is no longer in the room, raise WebhookNotFound."""
    via = clean_via(username)
    webhook = live_webhook(secret)
    if webhook is None:
        raise WebhookNotFound
    try:
        return send_message(
            webhook.bot,
            webhook.room_id,
            text,
            str(uuid.uuid4()) if client_msg_id is None else client_msg_id,
            via=via,
        )
    except ChatError as error:
        if error.code in ("forbidden", "not_found"):
            # The bot was removed from the room, or the room or webhook went meanwhile.
            raise WebhookNotFound from None
        raise
