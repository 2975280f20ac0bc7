import unicodedata
import uuid
from functools import partial

from django.conf import settings
from django.core.files.storage import Storage, storages
from django.core.signals import setting_changed
from django.db import models, transaction
from django.db.models import F, Q
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.utils.functional import LazyObject, empty
from django.utils.translation import gettext_lazy as _

from . import notifications


def room_name_key(name: str) -> str:
    """The form of a public room's name that must be unique among public rooms: case- and
    width-insensitive. (Private rooms' names are unique nowhere, so that no answer can
    tell an outsider that a private room of some name exists.)"""
    return unicodedata.normalize("NFKC", name).casefold()


def direct_key(user_a_id: int, user_b_id: int) -> str:
    """One key per unordered pair of users, so a pair has one direct room."""
    low, high = sorted((user_a_id, user_b_id))
    return f"{low}:{high}"


def direct_peer(key: str, user_id: int) -> int:
    """The other person of the direct room with this key, as `user_id` sees it: the pair
    is in the key whether or not the other person has joined the room yet."""
    low, high = (int(part) for part in key.split(":"))
    return high if user_id == low else low


class Room(models.Model):
    class Kind(models.TextChoices):
        PUBLIC = "public", _("public")
        PRIVATE = "private", _("private")
        DIRECT = "direct", _("direct")

    kind = models.CharField(max_length=8, choices=Kind.choices)
    name = models.CharField(max_length=64, blank=True)
    # NULL (not "") where a key does not apply, so the unique constraints skip it.
    # name_key is text: case-folding can make a 64-character name much longer.
    name_key = models.TextField(null=True, blank=True, editable=False)  # noqa: DJ001
    direct_key = models.CharField(max_length=41, null=True, blank=True, editable=False)  # noqa: DJ001
    topic = models.CharField(max_length=250, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # The seq of the newest message; advanced under a row lock by send_message.
    last_seq = models.PositiveBigIntegerField(default=0)
    last_message_at = models.DateTimeField(null=True, blank=True)
    # Counts changes to existing messages (edits, deletions, reactions), so a client
    # that was away fetches what changed since the revision it last saw.
    last_rev = models.PositiveBigIntegerField(default=0)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="rooms"
    )

    class Meta:
        constraints = [
            # Public names only: a private room's name must not be probed by trying it.
            models.UniqueConstraint(
                fields=["name_key"], condition=Q(kind="public"), name="room_public_name_unique_ci"
            ),
            models.UniqueConstraint(fields=["direct_key"], name="room_direct_pair_unique"),
            models.CheckConstraint(
                condition=(Q(kind="direct", direct_key__isnull=False, name_key__isnull=True))
                | (
                    Q(
                        kind__in=["public", "private"],
                        direct_key__isnull=True,
                        name_key__isnull=False,
                    )
                ),
                name="room_kind_keys",
            ),
        ]
        indexes = [models.Index(fields=["kind", "-last_message_at"], name="room_kind_activity")]

    def __str__(self) -> str:
        return self.name or f"direct {self.direct_key}"

    @property
    def is_direct(self) -> bool:
        return self.kind == self.Kind.DIRECT


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", _("owner")
        ADMIN = "admin", _("admin")
        MEMBER = "member", _("member")

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=8, choices=Role.choices, default=Role.MEMBER)
    last_read_seq = models.PositiveBigIntegerField(default=0)
    # How much of this room notifies the member (chat.notifications); messages arrive
    # and count as unread whatever it is.
    notify = models.CharField(
        max_length=8, choices=notifications.ROOM_CHOICES, default=notifications.DEFAULT
    )
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["room", "user"], name="membership_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.room_id} ({self.role})"

    @property
    def can_manage(self) -> bool:
        return self.role in (self.Role.OWNER, self.Role.ADMIN)


# A message changed since it was sent. Only these are in the room's rev index; a query
# by rev names this condition too, so the database may use it (chat.queries.messages).
CHANGED = Q(rev__gt=0)


class Message(models.Model):
    # Every index is written on every send, so a column gets none of its own where a
    # constraint or partial index below already leads with it (docs/performance.md,
    # "Fewer pages a send writes").
    room = models.ForeignKey(
        Room, on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    # The room's cursor: 1, 2, 3… with no gap, in commit order.
    seq = models.PositiveBigIntegerField()
    # SET_NULL, not CASCADE: deleting an account must not punch holes in seq.
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="messages",
        db_index=False,
    )
    body = models.TextField()
    # The body rendered to sanitised HTML (chat.content.richtext) when sent or edited.
    html = models.TextField(blank=True)
    created_at = models.DateTimeField()
    client_msg_id = models.UUIDField(default=uuid.uuid4)
    reply_to = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    # Members of the room the body @mentions.
    mentions = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="mentioned_in"
    )
    edited_at = models.DateTimeField(null=True, blank=True)
    # A deleted message keeps its seq; its body, html and reactions are gone.
    deleted_at = models.DateTimeField(null=True, blank=True)
    # The room's last_rev when this message last changed (0: never changed).
    rev = models.PositiveBigIntegerField(default=0)
    # A thread reply: its root, a top-level message of the same room. The reply still
    # takes the room's seq, so catch-up by seq covers threads as it covers the room.
    thread_root = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="thread_replies",
        db_index=False,
    )
    # The author also sent this thread reply to the room's timeline.
    also_in_room = models.BooleanField(default=False)
    # The name a webhook's payload gave its sender (`username`), shown as "via" beside
    # the author, the webhook's bot (chat.services.webhooks); NULL for everything else.
    via = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    # A root's thread summary, kept with its rev (chat.services.threads): live replies,
    # the newest one's seq and time, and who replied, most recent first (at most
    # THREAD_REPLIERS ids). Nothing here on a message without replies.
    thread_count = models.PositiveIntegerField(default=0)
    thread_last_seq = models.PositiveBigIntegerField(default=0)
    thread_last_at = models.DateTimeField(null=True, blank=True)
    thread_repliers = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["room", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["room", "seq"], name="message_room_seq_unique"),
            models.UniqueConstraint(
                fields=["author", "client_msg_id"], name="message_author_client_id_unique"
            ),
        ]
        indexes = [
            # Only changed messages: a query by rev says `rev > 0` too (CHANGED).
            models.Index(fields=["room", "rev"], condition=CHANGED, name="message_room_changed"),
            models.Index(
                fields=["reply_to"], condition=Q(reply_to__isnull=False), name="message_reply_to"
            ),
            models.Index(
                fields=["thread_root", "seq"],
                condition=Q(thread_root__isnull=False),
                name="message_thread_seq",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.room_id}#{self.seq}"

    @property
    def hidden_in_room(self) -> bool:
        """A thread reply its author did not also send to the room's timeline."""
        return self.thread_root_id is not None and not self.also_in_room


class Reaction(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="reactions")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reactions"
    )
    emoji = models.CharField(max_length=32)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["message", "user", "emoji"], name="reaction_once_per_user"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.emoji} by {self.user_id} on {self.message_id}"


class Pin(models.Model):
    """A message its room keeps at hand: listed in the room's header for every member.
    A deleted message's pin goes with its text (services.messages.tombstone)."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="pins")
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="pins")
    pinned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    pinned_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["room", "message"], name="pin_once")]

    def __str__(self) -> str:
        return f"{self.message_id} pinned in {self.room_id}"


class Block(models.Model):
    """`blocker` takes no direct messages from `blocked`: no new DM, no message in one."""

    blocker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="blocks"
    )
    blocked = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="blocked_by"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["blocker", "blocked"], name="block_once"),
            models.CheckConstraint(condition=~Q(blocker=F("blocked")), name="block_not_self"),
        ]

    def __str__(self) -> str:
        return f"{self.blocker_id} blocks {self.blocked_id}"


class Invite(models.Model):
    """A link that lets whoever follows it join a group room (public or private).

    Only a hash of the token is stored: the link is shown once, to its maker, and a
    copy of the database lets no one in. Expired, used-up and revoked links stay as
    rows (the panel lists only the live ones) so that a token is never reused."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="invites")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # SHA-256 of the token, hex: what a followed link is looked up by.
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(null=True, blank=True)  # NULL: never
    max_uses = models.PositiveIntegerField(null=True, blank=True)  # NULL: no limit
    uses = models.PositiveIntegerField(default=0)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["room", "revoked_at"], name="invite_room_live")]

    def __str__(self) -> str:
        return f"invite {self.pk} to {self.room_id}"


class Webhook(models.Model):
    """An incoming webhook: a secret URL (`/hooks/<secret>`) that posts into its room as
    its bot, an account made with it (a member of the room, owned by the webhook's maker).

    As with invite links only a hash of the secret is stored, and a revoked webhook
    stays as a row (its bot deactivated) so that a secret never comes back to life."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="webhooks")
    name = models.CharField(max_length=64)
    bot = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # SHA-256 of the secret, hex: what a post to the hook is looked up by.
    secret_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["room", "revoked_at"], name="webhook_room_live")]

    def __str__(self) -> str:
        return f"webhook {self.pk} to {self.room_id}"


class Removal(models.Model):
    """When a member was last removed from a room by its owners or admins: links made
    before then no longer let them back in (a newer link does)."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    removed_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["room", "user"], name="removal_unique")]

    def __str__(self) -> str:
        return f"{self.user_id} removed from {self.room_id}"


class _UploadStorage(LazyObject):
    def _setup(self) -> None:
        self._wrapped = storages["uploads"]


_upload_storage = _UploadStorage()


@receiver(setting_changed)
def _forget_upload_storage(setting: str, **kwargs) -> None:
    if setting == "STORAGES":
        _upload_storage._wrapped = empty


def upload_storage() -> Storage:
    """The private storage of attachments (STORAGES["uploads"]): never under MEDIA_URL,
    served only by chat.http.files.attachment_file after an access check. Lazy, like
    default_storage, so it follows STORAGES when that changes."""
    return _upload_storage


class Attachment(models.Model):
    """An uploaded file or image; unattached (message NULL) until a send claims it."""

    # SET_NULL: a deleted account's messages keep their attachments, as they keep their text.
    uploader = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="attachments")
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.CASCADE, related_name="attachments"
    )
    # The original bytes for a file; the re-encoded image for an image.
    file = models.FileField(storage=upload_storage, max_length=200)
    thumbnail = models.FileField(storage=upload_storage, max_length=200, blank=True)
    name = models.CharField(max_length=160)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["created_at"],
                condition=Q(message__isnull=True),
                name="attachment_unsent_age",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} in {self.room_id}"

    @property
    def is_image(self) -> bool:
        return self.thumbnail.name != ""


@receiver(post_delete, sender=Attachment)
def _delete_attachment_files(sender, instance: Attachment, **kwargs) -> None:
    """However a row goes (a deleted message, room or stale upload), its files go once
    the deletion commits, and not at all if it rolls back."""
    storage = upload_storage()
    for name in (instance.file.name, instance.thumbnail.name):
        if name:
            transaction.on_commit(partial(storage.delete, name), using=kwargs.get("using"))
