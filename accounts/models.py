from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


def avatar_path(user: "User", filename: str) -> str:
    return f"avatars/{user.pk}/{filename}"


class User(AbstractUser):
    """A Parley account. Custom from the start so fields can be added without pain."""

    display_name = models.CharField(_("display name"), max_length=64, blank=True)
    bio = models.TextField(_("bio"), max_length=500, blank=True)
    avatar = models.ImageField(_("avatar"), upload_to=avatar_path, blank=True)

    @property
    def shown_name(self) -> str:
        """The name other people see: the display name, else the username."""
        return self.display_name or self.username
