"""Notification levels: how much of a room makes a desktop notification for a member.

Each member chooses per room: `all` messages, `mentions` only, `nothing`, or `default`,
which follows the user's own default (`User.notify_default`). That default starts at
`mentions`: in a product where anyone may join busy public rooms, a notification for
every message in every room is noise people learn to ignore (Slack and Zulip start
there too), and it is what Parley did before the levels existed. A direct message is
addressed to you, so it counts as a mention: in a direct room `default` means `all`,
unless your default is `nothing`. A room at `nothing` still counts unread messages; it
only never notifies. Your own messages never notify. The browser decides per live
message from the level the server resolved (docs/protocol.md, "Notifications").
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

# A room's setting that follows the user's default.
DEFAULT = "default"


class Level(models.TextChoices):
    ALL = "all", _("All messages")
    MENTIONS = "mentions", _("Mentions and direct messages")
    NOTHING = "nothing", _("Nothing")


ROOM_CHOICES = [(DEFAULT, _("Default")), *Level.choices]
GLOBAL_DEFAULT = Level.MENTIONS


def room_default(kind: str, user_default: str) -> str:
    """What `default` means in a room of this kind for a user with this default."""
    if kind == "direct" and user_default != Level.NOTHING:
        return Level.ALL.value
    return str(user_default)
