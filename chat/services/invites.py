"""Invite links: owners and admins make links to a group room that expire, may be used
a set number of times and can be revoked; following one while signed in joins the room.

The token is shown once, to the link's maker; only its SHA-256 is stored, and a link
is found by that hash. Joining through a link goes through `members.join`, so the
members hear the newcomer live, as they do when someone is added by name.
"""

import secrets
from datetime import datetime, timedelta

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import limits
from ..access import check_invite, room_for_inviter
from ..errors import ChatError, InviteNotFound
from ..models import Invite, Membership, Room
from ..queries.invites import live, token_hash, valid_token
from .members import join

TOKEN_BYTES = 24  # 192 random bits: 32 URL-safe characters
DAY = 24 * 3600
# The lifetimes offered (seconds; None: the link never expires). Seven days unless asked.
EXPIRY_CHOICES = (3600, DAY, 7 * DAY, 30 * DAY, None)
DEFAULT_EXPIRY = 7 * DAY
MAX_USES = 1000
MAX_LIVE_PER_ROOM = 50  # live links a room may have at once


def create_invite(
    actor: AbstractBaseUser,
    room_id: int,
    *,
    expires_in: int | None = DEFAULT_EXPIRY,
    max_uses: int | None = None,
    now: datetime | None = None,
) -> tuple[Invite, str]:
    """An owner or admin makes a link to the room; (invite, token). The token is not
    stored and cannot be shown again."""
    if expires_in not in EXPIRY_CHOICES or isinstance(expires_in, bool):
        raise ChatError("bad_request", "`expires_in` must be 3600, 86400, 604800, 2592000 or null.")
    if max_uses is not None and (type(max_uses) is not int or not 1 <= max_uses <= MAX_USES):
        raise ChatError("bad_request", f"`max_uses` must be 1 to {MAX_USES}, or null.")
    limits.spend("member_change", actor.pk)
    now = now or timezone.now()
    token = secrets.token_urlsafe(TOKEN_BYTES)
    with transaction.atomic():
        room, _membership = room_for_inviter(actor, room_id, lock=True)
        if live(room.invites, now).count() >= MAX_LIVE_PER_ROOM:
            raise ChatError(
                "bad_request", _("This room has too many invite links. Revoke some first.")
            )
        invite = Invite.objects.create(
            room=room,
            created_by=actor,
            token_hash=token_hash(token),
            created_at=now,
            expires_at=None if expires_in is None else now + timedelta(seconds=expires_in),
            max_uses=max_uses,
        )
    return invite, token


def revoke_invite(actor: AbstractBaseUser, room_id: int, invite_id: int) -> None:
    """An owner or admin revokes one of the room's links: it lets no one in from now on."""
    limits.spend("member_change", actor.pk)
    with transaction.atomic():
        room, _membership = room_for_inviter(actor, room_id, lock=True)
        revoked = Invite.objects.filter(pk=invite_id, room=room, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        if not revoked:
            raise ChatError("not_found", _("No such invite link."))


def accept_invite(user: AbstractBaseUser, token: str, *, now: datetime | None = None) -> Room:
    """The user follows a link: they join its room as a member, and the link counts one
    use. Someone already in the room is just let through (no use counted)."""
    limits.spend("room_change", user.pk)
    now = now or timezone.now()
    if not valid_token(token):
        raise InviteNotFound
    with transaction.atomic():
        invite = (
            Invite.objects.select_for_update(of=("self",))
            .select_related("room")
            .filter(token_hash=token_hash(token))
            .first()
        )
        if invite is None:
            raise InviteNotFound
        room = invite.room
        if Membership.objects.filter(room=room, user=user).exists():
            return room
        check_invite(invite, user, now)
        # Counted in the database too, against the limit: a use is never given twice.
        counted = (
            Invite.objects.filter(pk=invite.pk)
            .filter(Q(max_uses__isnull=True) | Q(uses__lt=F("max_uses")))
            .update(uses=F("uses") + 1)
        )
        if not counted:
            raise InviteNotFound
        join(user, room)
    return room
