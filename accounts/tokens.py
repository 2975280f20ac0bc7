"""Personal API tokens: a program acting as its user over `/api/` (chat.http.bearer) and
`/ws/` (chat.realtime.auth), by `Authorization: Bearer <secret>`.

The secret is `parley_` and 43 random URL-safe characters (256 bits), shown once, when
the token is made. Only its SHA-256 is stored (a fast hash is enough for a secret this
random: nothing is left to guess by trying); a request's secret is hashed, the token
looked up by that hash and the two hashes compared in constant time. Secrets are never
logged: the bus and the logs name a token by its id. Revoking deletes the row, and after
commit every process closes the sockets opened with it (chat.services.sessions, on any
deletion of a token: the API, the pages, the admin, an account deleted). The time a
token was last used is written at most once a minute (TOUCH_EVERY), not on every request.
"""

import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from chat import limits
from chat.errors import ChatError
from chat.protocol.frames import iso_utc

from .models import Token, User

PREFIX = "parley_"
SECRET_SHAPE = re.compile(r"^parley_[A-Za-z0-9_-]{43}$")
MAX_NAME = 64
MAX_TOKENS = 50  # live tokens one account may hold
TOUCH_EVERY = timedelta(minutes=1)


def bearer_secret(header: str) -> str | None:
    """The secret of an `Authorization: Bearer` header's value ("" if it names none);
    None for another scheme (Basic, from a proxy) or none at all."""
    scheme, _space, secret = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return secret.strip()


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def token_dict(token: Token) -> dict:
    """A token as its owner sees it in a list: never its secret (it is not kept)."""
    return {
        "id": token.pk,
        "name": token.name,
        "created_at": iso_utc(token.created_at),
        "last_used_at": iso_utc(token.last_used_at),
    }


def made_dict(token: Token, secret: str) -> dict:
    """A token just made, with its secret: the one time it is shown."""
    return {
        "id": token.pk,
        "name": token.name,
        "token": secret,
        "created_at": iso_utc(token.created_at),
    }


def clean_name(name: object) -> str:
    if not isinstance(name, str):
        raise ChatError("bad_request", _("Give the token a name."))
    name = " ".join(name.split())
    if not name:
        raise ChatError("bad_request", _("Give the token a name."))
    if len(name) > MAX_NAME or any(not ch.isprintable() for ch in name):
        raise ChatError(
            "bad_request",
            _("A token's name is at most %(count)s printable characters.") % {"count": MAX_NAME},
        )
    return name


def make_token(user: User, *, name: object, spender: User | None = None) -> tuple[Token, str]:
    """A new token of `user` and its secret, under the `token_create` budget of `spender`
    (a bot's owner; else the user), at most MAX_TOKENS held."""
    name = clean_name(name)
    limits.spend("token_create", (spender or user).pk)
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).first()  # one maker at a time
        if Token.objects.filter(user=user).count() >= MAX_TOKENS:
            raise ChatError(
                "bad_request",
                _("You hold %(count)s tokens, the most there may be: revoke one first.")
                % {"count": MAX_TOKENS},
            )
        secret = PREFIX + secrets.token_urlsafe(32)
        token = Token.objects.create(user=user, name=name, digest=digest(secret))
    return token, secret


def user_tokens(user: User) -> list[dict]:
    """The user's tokens, newest first, without secrets."""
    return [token_dict(t) for t in Token.objects.filter(user=user).order_by("-created_at", "-pk")]


def revoke_token(user: User, token_id: int) -> None:
    """Delete the user's token; after commit, the sockets opened with it close (4401) in
    every process, and no request is let in by it any more."""
    deleted, _kinds = Token.objects.filter(user=user, pk=token_id).delete()
    if not deleted:  # (the delete's signal ends the sockets: chat.services.sessions)
        raise ChatError("not_found", _("No such token."))


def authenticate(secret: str, *, now: datetime | None = None) -> Token | None:
    """The live token of an active account this secret is, its user loaded; None if none
    is (a bot whose owner was deactivated included). Notes the use (at most once a
    minute)."""
    if not SECRET_SHAPE.match(secret):
        return None
    wanted = digest(secret)
    token = Token.objects.select_related("user__bot_owner").filter(digest=wanted).first()
    if token is None or not hmac.compare_digest(token.digest, wanted):
        return None
    owner = token.user.bot_owner
    if not token.user.is_active or (owner is not None and not owner.is_active):
        return None
    touch(token, now=now or timezone.now())
    return token


def touch(token: Token, *, now: datetime) -> None:
    """Note that the token was used: one conditional UPDATE, at most once a minute (and
    one process's write wins when several race)."""
    if token.last_used_at is not None and now - token.last_used_at < TOUCH_EVERY:
        return
    stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - TOUCH_EVERY)
    Token.objects.filter(stale, pk=token.pk).update(last_used_at=now)
    token.last_used_at = now
