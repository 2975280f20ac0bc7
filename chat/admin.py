"""The Django admin, for staff. Every change goes through chat.services, so members'
open sockets hear it exactly as if a room owner had made it in the app."""

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from . import services
from .errors import ChatError
from .models import (
    Attachment,
    Block,
    Membership,
    Message,
    Reaction,
    Room,
    Webhook,
    room_name_key,
)


class RefusalsShown:
    """A service that refuses a change shows its reason instead of "changed successfully"."""

    def run_service(self, request: HttpRequest, call, *args, **kwargs) -> None:
        try:
            call(*args, **kwargs)
        except ChatError as error:
            request.parley_refused = True
            self.message_user(request, error.detail, messages.ERROR)

    def _refused(self, request: HttpRequest) -> HttpResponse | None:
        if getattr(request, "parley_refused", False):
            return HttpResponseRedirect(request.get_full_path())
        return None

    def response_add(self, request, obj, post_url_continue=None):
        return self._refused(request) or super().response_add(request, obj, post_url_continue)

    def response_change(self, request, obj):
        return self._refused(request) or super().response_change(request, obj)


class ReadOnly:
    """Shown, never added, changed or deleted in the admin: messages are sent in the app,
    which assigns their seq under the room's lock, and a reaction changes a message's
    revision, which only the app keeps. (Messages are deleted by an action instead.)"""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class MembershipInline(admin.TabularInline):
    """Read-only here: members are added, changed and removed on the membership pages."""

    model = Membership
    extra = 0
    show_change_link = True
    fields = ("user", "role", "last_read_seq", "notify", "joined_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class RoomForm(forms.ModelForm):
    class Meta:
        model = Room
        fields = ("name", "topic")

    def _cleaned(self, clean, field: str) -> str:
        try:
            return clean(self.cleaned_data[field])
        except ChatError as error:
            raise forms.ValidationError(error.detail) from None

    def clean_name(self) -> str:
        name = self._cleaned(services.clean_room_name, "name")
        taken = Room.objects.filter(kind=Room.Kind.PUBLIC, name_key=room_name_key(name))
        if self.instance.kind == Room.Kind.PUBLIC and taken.exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError("That room name is taken.")
        return name

    def clean_topic(self) -> str:
        return self._cleaned(services.clean_topic, "topic")


@admin.register(Room)
class RoomAdmin(RefusalsShown, admin.ModelAdmin):
    form = RoomForm
    list_display = ("__str__", "kind", "last_seq", "last_message_at", "created_at")
    list_filter = ("kind",)
    search_fields = ("name", "topic", "members__username")
    readonly_fields = ("kind", "last_seq", "last_message_at", "created_at")
    inlines = [MembershipInline]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.is_direct:
            return ("name", "topic", *self.readonly_fields)
        return self.readonly_fields

    def has_add_permission(self, request) -> bool:
        """Rooms are made in the app, which assigns their name or pair keys."""
        return False

    def save_model(self, request, obj: Room, form, change: bool) -> None:
        if obj.is_direct:
            return
        self.run_service(request, services.moderate_room, obj.pk, name=obj.name, topic=obj.topic)

    def get_deleted_objects(self, objs, request):
        """A room takes its messages with it; their own admin refuses deleting one alone."""
        deleted, counts, _perms_needed, protected = super().get_deleted_objects(objs, request)
        return deleted, counts, set(), protected

    def delete_model(self, request, obj: Room) -> None:
        services.moderate_delete_room(obj.pk)

    def delete_queryset(self, request, queryset) -> None:
        for pk in queryset.values_list("pk", flat=True):
            services.moderate_delete_room(pk)


@admin.register(Membership)
class MembershipAdmin(RefusalsShown, admin.ModelAdmin):
    list_display = ("user", "room", "role", "last_read_seq", "joined_at")
    list_filter = ("role", "room__kind")
    search_fields = ("user__username", "room__name")
    raw_id_fields = ("user", "room")
    fields = ("room", "user", "role", "last_read_seq", "notify", "joined_at")

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ("last_read_seq", "notify", "joined_at")
        return ("room", "user", "last_read_seq", "notify", "joined_at")

    def has_delete_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.room.is_direct:
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request, obj: Membership, form, change: bool) -> None:
        if change:
            self.run_service(request, services.moderate_set_role, obj.pk, obj.role)
        else:
            self.run_service(
                request, services.moderate_add_member, obj.room_id, obj.user_id, obj.role
            )

    def delete_model(self, request, obj: Membership) -> None:
        self.run_service(request, services.moderate_remove_member, obj.pk)

    def delete_queryset(self, request, queryset) -> None:
        for pk in queryset.values_list("pk", flat=True):
            self.run_service(request, services.moderate_remove_member, pk)


@admin.register(Message)
class MessageAdmin(ReadOnly, admin.ModelAdmin):
    """Read-only: a message is never rewritten or removed from under its seq; staff
    delete one as a room admin would, leaving a tombstone."""

    list_display = ("room", "seq", "author", "short_body", "created_at", "deleted_at")
    list_filter = ("room__kind",)
    search_fields = ("body", "author__username", "room__name")
    date_hierarchy = "created_at"
    actions = ["tombstone"]

    @admin.display(description="body")
    def short_body(self, message: Message) -> str:
        return message.body[:80]

    @admin.action(description="Delete the selected messages (leave tombstones)")
    def tombstone(self, request, queryset) -> None:
        ids = list(queryset.filter(deleted_at__isnull=True).values_list("pk", flat=True))
        for pk in ids:
            services.moderate_delete_message(pk)
        self.message_user(request, f"Deleted {len(ids)} messages.", messages.SUCCESS)


@admin.register(Webhook)
class WebhookAdmin(ReadOnly, admin.ModelAdmin):
    """Shown, never their secrets (only a hash is stored); revoked by an action, as the
    room's owner revokes one: the URL stops, the bot leaves the room."""

    list_display = ("name", "room", "bot", "created_by", "created_at", "revoked_at")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    search_fields = ("name", "room__name", "bot__username", "created_by__username")
    exclude = ("secret_hash",)
    actions = ("revoke",)

    @admin.action(description="Revoke the selected webhooks")
    def revoke(self, request, queryset) -> None:
        ids = list(queryset.filter(revoked_at__isnull=True).values_list("pk", flat=True))
        for pk in ids:
            services.moderate_revoke_webhook(pk)
        self.message_user(request, f"Revoked {len(ids)} webhooks.", messages.SUCCESS)


@admin.register(Reaction)
class ReactionAdmin(ReadOnly, admin.ModelAdmin):
    """Read-only: a reaction changes a message's revision, which only the app keeps."""

    list_display = ("emoji", "user", "message", "created_at")
    search_fields = ("emoji", "user__username")


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

    def has_add_permission(self, request) -> bool:
        """Uploads come through the app, which checks and re-encodes them."""
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        """Never moved to another message or room; only deleted."""
        return False

    def delete_model(self, request, obj: Attachment) -> None:
        """Its files go too, and its message is updated on members' screens."""
        services.moderate_delete_attachment(obj.pk)

    def delete_queryset(self, request, queryset) -> None:
        for pk in queryset.values_list("pk", flat=True):
            services.moderate_delete_attachment(pk)
