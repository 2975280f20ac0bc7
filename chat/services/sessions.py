"""Where a session ends, its open sockets end too, in every process, with 4401.

Logging out ends that session's sockets. A password change, deactivation and
deletion end every socket of the person: the sessions they belonged to are no
longer valid (Django checks a session against the password hash), and a socket
must not outlive the right to open it. "Log out everywhere" (accounts) ends them
all as well. Sockets of the session that changed the password close too; that tab
reconnects at once, as its session stays valid.

A socket opened with an API token belongs to the token as a tab's to its session: a
token deleted any way (revoked on the page or by the API, in the admin, with its
account) ends its sockets.
"""

from django.conf import settings
from django.contrib.auth.signals import user_logged_out
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from accounts.models import Token

from ..realtime.fanout import end_sessions, token_session


@receiver(user_logged_out)
def _logged_out(sender, request, user, **kwargs) -> None:
    if user is not None:
        end_sessions(user.pk, only=request.session.session_key)


@receiver(post_save, sender=settings.AUTH_USER_MODEL)
def _lost_access(sender, instance, created: bool, **kwargs) -> None:
    """A new password (set_password leaves `_password` until the save is done) or a
    deactivated account."""
    if created:
        return
    if getattr(instance, "_password", None) is not None or not instance.is_active:
        end_sessions(instance.pk)
    if not instance.is_active:  # their bots stop with them (accounts.tokens.authenticate)
        for bot_id in (
            Token.objects.filter(user__bot_owner=instance)
            .values_list("user_id", flat=True)
            .distinct()
        ):
            end_sessions(bot_id)


@receiver(post_delete, sender=settings.AUTH_USER_MODEL)
def _deleted(sender, instance, **kwargs) -> None:
    end_sessions(instance.pk)


@receiver(post_delete, sender=Token)
def _token_revoked(sender, instance: Token, **kwargs) -> None:
    end_sessions(instance.user_id, only=token_session(instance.pk))
