from django.contrib import admin

from .models import Attachment, Block, Membership, Message, Reaction, Room


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ("user",)
    fields = ("user", "role", "last_read_seq", "joined_at")
    readonly_fields = ("last_read_seq", "joined_at")


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ("__str__", "kind", "last_seq", "last_message_at", "created_at")
    list_filter = ("kind",)
    search_fields = ("name", "topic", "members__username")
    readonly_fields = ("last_seq", "last_message_at", "created_at", "name_key", "direct_key")
    inlines = [MembershipInline]

    def has_add_permission(self, request) -> bool:
        """Rooms are made in the app, which assigns their name or pair keys."""
        return False


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "room", "role", "last_read_seq", "joined_at")
    list_filter = ("role", "room__kind")
    search_fields = ("user__username", "room__name")
    raw_id_fields = ("user", "room")


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ("room", "seq", "author", "short_body", "created_at")
    list_filter = ("room__kind",)
    search_fields = ("body", "author__username", "room__name")
    raw_id_fields = ("room", "author")
    readonly_fields = ("room", "seq", "client_msg_id", "created_at")
    date_hierarchy = "created_at"

    def has_add_permission(self, request) -> bool:
        """Messages are sent in the app, which assigns their seq under the room's lock."""
        return False

    @admin.display(description="body")
    def short_body(self, message: Message) -> str:
        return message.body[:80]


@admin.register(Reaction)
class ReactionAdmin(admin.ModelAdmin):
    list_display = ("emoji", "user", "message", "created_at")
    search_fields = ("emoji", "user__username")
    raw_id_fields = ("message", "user")


@admin.register(Block)
class BlockAdmin(admin.ModelAdmin):
    list_display = ("blocker", "blocked", "created_at")
    search_fields = ("blocker__username", "blocked__username")
    raw_id_fields = ("blocker", "blocked")


@admin.register(Attachment)
class AttachmentAdmin(admin.ModelAdmin):
    list_display = ("name", "content_type", "size", "room", "uploader", "message", "created_at")
    list_filter = ("content_type",)
    search_fields = ("name", "uploader__username", "room__name")
    raw_id_fields = ("room", "uploader", "message")
    readonly_fields = (
        "file",
        "thumbnail",
        "name",
        "content_type",
        "size",
        "width",
        "height",
        "created_at",
    )

    def has_add_permission(self, request) -> bool:
        """Uploads come through the app, which checks and re-encodes them. Deleting one
        here deletes its files too (chat.models)."""
        return False
