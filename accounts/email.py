"""An account's email address: confirmed by a signed link, and the only way to a
password reset (Django's views), which only a confirmed address is sent.

The confirmation link carries the account and the address, signed with SECRET_KEY and
dated (django.core.signing): it confirms that address for that account within
CONFIRM_MAX_AGE, and nothing once the account's address has changed.
"""

import logging

from django.contrib.auth.forms import PasswordResetForm
from django.core import signing
from django.core.mail import send_mail
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse

from chat import limits

from .models import User

logger = logging.getLogger(__name__)

CONFIRM_SALT = "accounts.email.confirm"
CONFIRM_MAX_AGE = 3 * 24 * 3600


def confirmation_token(user: User) -> str:
    return signing.TimestampSigner(salt=CONFIRM_SALT).sign_object(
        {"user": user.pk, "email": user.email}
    )


def send_confirmation(request: HttpRequest, user: User) -> bool:
    """Mail the user's address a link that confirms it (the caller spends the budget);
    whether the mail went."""
    link = request.build_absolute_uri(reverse("confirm_email", args=[confirmation_token(user)]))
    context = {"user": user, "link": link}
    subject = "".join(render_to_string("accounts/confirm_email_subject.txt", context).splitlines())
    body = render_to_string("accounts/confirm_email.txt", context)
    try:
        send_mail(subject, body, None, [user.email])
    except Exception:
        logger.exception("could not send the confirmation mail of user %s", user.pk)
        return False
    return True


def signed_address(token: str) -> tuple[int, str] | None:
    """(account id, address) the link was sent for, if it is genuine and not too old."""
    try:
        signed = signing.TimestampSigner(salt=CONFIRM_SALT).unsign_object(
            token, max_age=CONFIRM_MAX_AGE
        )
        user_id, email = int(signed["user"]), str(signed["email"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None
    return (user_id, email) if email else None


def confirmable(token: str) -> User | None:
    """The account whose address the link would confirm: the one it was sent to, if the
    account has that address still."""
    signed = signed_address(token)
    if signed is None:
        return None
    return User.objects.filter(pk=signed[0], email=signed[1]).first()


def confirm(token: str) -> bool:
    """Confirm the address the link was sent to, if it is still the account's."""
    signed = signed_address(token)
    if signed is None:
        return False
    user_id, email = signed
    return User.objects.filter(pk=user_id, email=email).update(verified_email=email) == 1


class ResetForm(PasswordResetForm):
    """Django's reset form, sending only to a confirmed address, and to one account at
    most `reset_account` times (the address budget is the view's)."""

    def get_users(self, email):
        for user in super().get_users(email):
            if user.email_verified and not limits.wait_for("reset_account", user.pk):
                yield user
