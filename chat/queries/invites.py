"""Invite links as their room's owners and admins see them, and as a follower sees one."""

import hashlib
import re
from datetime import datetime

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import QuerySet
from django.utils import timezone

from ..access import check_invite, room_for_inviter
from ..errors import InviteNotFound
from ..models import Invite, Membership, Room
from ..protocol import frames

TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def valid_token(token: object) -> bool:
    """Whether `token` could be a link's token at all (else no lookup is made)."""
    return isinstance(token, str) and TOKEN_SHAPE.match(token) is not None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def live(invites: QuerySet, now: datetime) -> QuerySet:
    """The links of a queryset neither revoked nor expired (used-up ones still pass)."""
    return invites.filter(revoked_at__isnull=True).exclude(expires_at__lte=now)


def find_invite(token: str) -> Invite | None:
    """The link this token belongs to (room loaded), live or not; None if there is none."""
    if not valid_token(token):
        return None
    return Invite.objects.select_related("room").filter(token_hash=token_hash(token)).first()


def room_invites(user: AbstractBaseUser, room_id: int) -> dict:
    """The room's links that may still let someone in, newest first (owners and admins)."""
    room, _membership = room_for_inviter(user, room_id)
    now = timezone.now()
    invites = live(room.invites.select_related("created_by"), now).order_by("-created_at", "-pk")
    return {
        "invites": [
            frames.invite_dict(invite)
            for invite in invites
            if invite.max_uses is None or invite.uses < invite.max_uses
        ]
    }


def invite_target(user: AbstractBaseUser, token: str) -> tuple[Room, bool]:
    """The room a link leads to, for the page that offers to join; (room, already a member).
    Raises as accepting would, so the page says the same as the join."""
    invite = find_invite(token)
    if invite is None:
        raise InviteNotFound
    member = Membership.objects.filter(room=invite.room, user=user).exists()
    if not member:
        check_invite(invite, user, timezone.now())
    return invite.room, member
