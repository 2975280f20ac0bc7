from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from chat.errors import ChatError

from . import tokens
from .deletion import delete_account
from .forms import AdminLoginForm, AdminUserForm
from .models import Token, User

# Failed logins to the admin count like those to the site (accounts.throttle).
admin.site.login_form = AdminLoginForm


class TokenInline(admin.TabularInline):
    """A user's API tokens: never their secrets. Deleting one revokes it (its sockets
    close: chat.services.sessions); a new one is made by the action "Make a new API
    token", which shows its secret once."""

    model = Token
    fields = ("name", "created_at", "last_used_at")
    readonly_fields = ("name", "created_at", "last_used_at")
    extra = 0
    max_num = 0  # none added here: a secret has to be shown once, by the action
    can_delete = True


@admin.action(description=_("Make a new API token (shown once)"))
def make_token(modeladmin, request, queryset):
    """A new token for one user (a bot, typically), its secret on the page that answers."""
    if queryset.count() != 1:
        modeladmin.message_user(request, _("Choose one user."), messages.WARNING)
        return None
    user = queryset.get()
    try:
        token, secret = tokens.make_token(user, name="admin", spender=request.user)
    except ChatError as error:
        modeladmin.message_user(request, error.detail, messages.ERROR)
        return None
    response = render(
        request,
        "accounts/token_made.html",
        {"token": token, "secret": secret, "bot": user if user.is_bot else None},
    )
    response["Cache-Control"] = "private, no-store"
    return response


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = (
        "username",
        "display_name",
        "email",
        "is_active",
        "is_staff",
        "is_bot",
        "last_login",
        "date_joined",
    )
    list_filter = ("is_active", "is_staff", "is_superuser", "is_bot")
    search_fields = ("username", "display_name", "email")
    ordering = ("username",)
    fieldsets = (
        *BaseUserAdmin.fieldsets,
        (
            _("Profile"),
            {"fields": ("display_name", "bio", "time_zone", "avatar", "verified_email")},
        ),
        (_("Bot"), {"fields": ("is_bot", "bot_owner")}),
    )
    readonly_fields = ("verified_email", "is_bot", "bot_owner")
    form = AdminUserForm
    inlines = (TokenInline,)
    actions = (make_token,)

    # Staff deleting an account do what the person would (accounts.deletion): the rooms
    # hear them leave, and their messages stay as by "Deleted user".
    def delete_model(self, request, obj):
        delete_account(obj)

    def delete_queryset(self, request, queryset):
        for user in queryset:
            delete_account(user)
