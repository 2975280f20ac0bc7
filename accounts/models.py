import zoneinfo
from functools import cache

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _

from chat import notifications

from .names import name_skeletons

# Each name's two skeletons (accounts.names), kept by save(): a look-alike is one indexed query.
SKELETON_FIELDS = {
    "username": ("username_skeleton", "username_skeleton_cased"),
    "display_name": ("display_name_skeleton", "display_name_skeleton_cased"),
}


@cache
def time_zones() -> frozenset[str]:
    """The IANA zone names a profile may name: those this machine's zoneinfo knows."""
    return frozenset(zoneinfo.available_timezones())


def validate_time_zone(value: str) -> None:
    """A profile's time zone is blank or a name zoneinfo knows (the form, the admin)."""
    if value and value not in time_zones():
        raise ValidationError(
            _("Unknown time zone. Pick one from the list, such as Europe/Berlin."),
            code="unknown_time_zone",
        )


def avatar_path(user: "User", filename: str) -> str:
    return f"avatars/{user.pk}/{filename}"


class User(AbstractUser):
    """A Parley account. Custom from the start so fields can be added without pain."""

    display_name = models.CharField(_("display name"), max_length=64, blank=True)
    bio = models.TextField(_("bio"), max_length=500, blank=True)
    avatar = models.ImageField(_("avatar"), upload_to=avatar_path, blank=True)
    # An IANA zone name ("Europe/Berlin"), or blank: others see the person's local time.
    time_zone = models.CharField(
        _("time zone"), max_length=64, blank=True, validators=[validate_time_zone]
    )
    # The address whose confirmation link was followed: `email` is confirmed while it is
    # this one (accounts.email). Only a confirmed address is sent password resets.
    verified_email = models.EmailField(_("confirmed email address"), blank=True, editable=False)
    # Text, not a bounded char field: a skeleton can be longer than its name ("m" → "rn").
    # Raised by "log out everywhere": a session signed with the old value is no longer
    # valid, as after a new password (_get_session_auth_hash below).
    session_generation = models.PositiveIntegerField(default=0, editable=False)
    # What a room left at "default" notifies (chat.notifications).
    notify_default = models.CharField(
        _("notifications by default"),
        max_length=8,
        choices=notifications.Level.choices,
        default=notifications.GLOBAL_DEFAULT,
    )
    # A bot (accounts.bots): an account its owner made for a program, which signs in only
    # by a token (accounts.tokens), never by a password.
    is_bot = models.BooleanField(_("bot"), default=False, editable=False)
    bot_owner = models.ForeignKey(
        "self",
        verbose_name=_("bot owner"),
        null=True,
        blank=True,
        editable=False,
        on_delete=models.CASCADE,
        related_name="bots",
    )
    username_skeleton = models.TextField(editable=False, default="")
    username_skeleton_cased = models.TextField(editable=False, default="")
    display_name_skeleton = models.TextField(editable=False, default="")
    display_name_skeleton_cased = models.TextField(editable=False, default="")

    def _get_session_auth_hash(self, secret=None):
        """Django's HMAC of the password hash, and once "log out everywhere" has raised
        it, of the session generation too: raising it ends every session of the user."""
        if not self.session_generation:
            return super()._get_session_auth_hash(secret)
        return salted_hmac(
            "accounts.User.session_generation",
            f"{self.password}:{self.session_generation}",
            secret=secret,
            algorithm="sha256",
        ).hexdigest()

    class Meta(AbstractUser.Meta):
        indexes = [
            models.Index(fields=[field], name="user_" + field.replace("_skeleton", "_skel"))
            for fields in SKELETON_FIELDS.values()
            for field in fields
        ]

    @property
    def shown_name(self) -> str:
        """The name other people see: the display name, else the username."""
        return self.display_name or self.username

    @property
    def email_verified(self) -> bool:
        return bool(self.email) and self.email == self.verified_email

    def save(self, *args, **kwargs):
        update_fields = kwargs.get("update_fields")
        for name, fields in SKELETON_FIELDS.items():
            for field, value in zip(fields, name_skeletons(getattr(self, name)), strict=True):
                setattr(self, field, value)
            if update_fields is not None and name in update_fields:
                kwargs["update_fields"] = {*kwargs["update_fields"], *fields}
        super().save(*args, **kwargs)


class Token(models.Model):
    """A personal API token: a program acting as its user over `/api/` and `/ws/`.

    Only a SHA-256 hash of the secret is stored (the secret is shown once, when it is
    made), so a copy of the database lets no one in. A revoked token's row is deleted."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="tokens")
    name = models.CharField(_("name"), max_length=64)
    # SHA-256 of the secret, hex: what a request's bearer token is looked up by.
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    # Updated at most once a minute per token (accounts.tokens.touch), not on every request.
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        indexes = [models.Index(fields=["user", "created_at"], name="token_user_created")]

    def __str__(self) -> str:
        return f"{self.name} ({self.user_id})"


def name_taken(name: str, *, by_other_than: int | None = None, among_people: bool = False) -> bool:
    """Whether someone (other than the user with that id; only people, not bots, when
    `among_people`) has a username or a display name that could be taken for `name`."""
    skeletons = {s for s in name_skeletons(name) if s}
    if not skeletons:
        return False
    clash = Q()
    for field in (field for fields in SKELETON_FIELDS.values() for field in fields):
        clash |= Q(**{f"{field}__in": skeletons})
    others = User.objects.filter(clash).exclude(pk=by_other_than)
    return (others.filter(is_bot=False) if among_people else others).exists()
