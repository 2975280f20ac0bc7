"""The pages for API tokens (a section of the profile page) and bots (the Bots page):
thin callers of accounts.tokens and accounts.bots, as the API is. A new secret is shown
once, in the answer to the POST that made it (never stored, never put in a redirect or
a message), with `Cache-Control: no-store`."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from chat.errors import ChatError

from . import bots, tokens
from .forms import BotEditForm, BotForm, TokenNameForm
from .models import Token, User


def _secret_page(request: HttpRequest, *, token: Token, secret: str, bot: User | None):
    response = render(
        request, "accounts/token_made.html", {"token": token, "secret": secret, "bot": bot}
    )
    response["Cache-Control"] = "private, no-store"
    return response


def _people_only(request: HttpRequest) -> None:
    bots.refuse_bot_owner(request.user)  # a bot never has a session: a guard, not a path


@login_required
@require_POST
def new_token(request: HttpRequest) -> HttpResponse:
    _people_only(request)
    form = TokenNameForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the token a name of at most 64 characters."))
        return redirect("profile")
    try:
        token, secret = tokens.make_token(request.user, name=form.cleaned_data["name"])
    except ChatError as error:
        messages.error(request, error.detail)
        return redirect("profile")
    return _secret_page(request, token=token, secret=secret, bot=None)


@login_required
@require_POST
def revoke_token(request: HttpRequest, token_id: int) -> HttpResponse:
    _people_only(request)
    try:
        tokens.revoke_token(request.user, token_id)
    except ChatError as error:
        messages.error(request, error.detail)
    else:
        messages.success(request, _("The token was revoked."))
    return redirect("profile")


@login_required
@require_http_methods(["GET", "POST"])
def bot_list(request: HttpRequest) -> HttpResponse:
    """The user's bots, each with its forms; POST makes a new one."""
    _people_only(request)
    form = BotForm()
    if request.method == "POST":
        form = BotForm(request.POST)
        try:
            bot, token, secret = bots.new_bot(
                request.user,
                username=request.POST.get("username", ""),
                display_name=request.POST.get("display_name", ""),
            )
        except ChatError as error:
            form.is_valid()  # the fields' own messages, where they apply
            if not form.errors:
                form.add_error(None, error.detail)
        else:
            return _secret_page(request, token=token, secret=secret, bot=bot)
    owned = [
        {
            "bot": bot,
            "form": BotEditForm(instance=bot, prefix=f"bot{bot.pk}"),
            "tokens": bot.tokens.order_by("-created_at", "-pk"),
        }
        for bot in bots.owned_bots(request.user)
    ]
    return render(request, "accounts/bots.html", {"form": form, "owned": owned})


@login_required
@require_POST
def edit_bot(request: HttpRequest, bot_id: int) -> HttpResponse:
    _people_only(request)
    bot = _owned_or_none(request, bot_id)
    if bot is None:
        return redirect("bots")
    old_avatar = bot.avatar.name
    form = BotEditForm(request.POST, request.FILES, instance=bot, prefix=f"bot{bot.pk}")
    if not form.is_valid():
        for errors in form.errors.values():
            messages.error(request, f"@{bot.username}: {errors[0]}")
        return redirect("bots")
    form.save()
    if old_avatar and "avatar" in form.changed_data:
        storage = bot.avatar.storage
        transaction.on_commit(lambda: storage.delete(old_avatar))
    messages.success(request, _("The bot was saved."))
    return redirect("bots")


@login_required
@require_POST
def new_bot_token(request: HttpRequest, bot_id: int) -> HttpResponse:
    _people_only(request)
    try:
        bot = bots.owned_bot(request.user, bot_id)
        token, secret = bots.new_bot_token(request.user, bot_id)
    except ChatError as error:
        messages.error(request, error.detail)
        return redirect("bots")
    return _secret_page(request, token=token, secret=secret, bot=bot)


@login_required
@require_POST
def revoke_bot_token(request: HttpRequest, bot_id: int, token_id: int) -> HttpResponse:
    _people_only(request)
    try:
        bots.revoke_bot_token(request.user, bot_id, token_id)
    except ChatError as error:
        messages.error(request, error.detail)
    else:
        messages.success(request, _("The token was revoked."))
    return redirect("bots")


@login_required
@require_POST
def delete_bot(request: HttpRequest, bot_id: int) -> HttpResponse:
    """Deletes the bot once its box is ticked: one click on the page must not do it."""
    _people_only(request)
    if request.POST.get("confirm") != "yes":
        messages.error(request, _("Tick “Yes, delete it” to delete the bot."))
        return redirect("bots")
    try:
        bots.delete_bot(request.user, bot_id)
    except ChatError as error:
        messages.error(request, error.detail)
    else:
        messages.success(request, _("The bot was deleted."))
    return redirect("bots")


def _owned_or_none(request: HttpRequest, bot_id: int) -> User | None:
    try:
        return bots.owned_bot(request.user, bot_id)
    except ChatError as error:
        messages.error(request, error.detail)
        return None
