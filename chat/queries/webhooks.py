"""Webhooks as their room's owners and admins see them, and the one a post's secret names.

A secret is looked up as an invite token is (chat.queries.invites): by the SHA-256 of
the secret, the only form stored, and then compared again in constant time."""

import hmac

from django.contrib.auth.base_user import AbstractBaseUser

from ..access import room_for_webhook_manager
from ..models import Webhook
from ..protocol import frames
from .invites import token_hash, valid_token


def secret_hash(secret: str) -> str:
    """What a webhook's secret is stored and found as (the hash invite tokens use)."""
    return token_hash(secret)


def live_webhook(secret: object) -> Webhook | None:
    """The live webhook (bot loaded) this secret belongs to; None for a secret of no
    shape, an unknown one, a revoked one, or one whose bot was deactivated."""
    if not valid_token(secret):
        return None
    digest = secret_hash(secret)
    webhook = (
        Webhook.objects.select_related("bot")
        .filter(secret_hash=digest, revoked_at__isnull=True, bot__is_active=True)
        .first()
    )
    if webhook is None or not hmac.compare_digest(webhook.secret_hash, digest):
        return None
    return webhook


def room_webhooks(user: AbstractBaseUser, room_id: int) -> dict:
    """The room's live webhooks, newest first (owners and admins), without secrets."""
    room, _membership = room_for_webhook_manager(user, room_id)
    webhooks = (
        room.webhooks.filter(revoked_at__isnull=True)
        .select_related("bot", "created_by")
        .order_by("-created_at", "-pk")
    )
    return {"webhooks": [frames.webhook_dict(webhook) for webhook in webhooks]}
