"""Bots: accounts a person makes for their programs. A bot has an owner, a "bot" badge
wherever its name shows, no usable password (it signs in only by a token, accounts.tokens)
and is managed by its owner (the Bots page, the API) or by staff (the admin)."""

from django.db import IntegrityError, transaction

from chat.errors import ChatError

from .forms import BotForm
from .models import User


def form_error(form: BotForm) -> ChatError:
    """A refused bot form as the API's error: the first field's first message."""
    field, errors = next(iter(form.errors.items()))
    detail = errors[0]
    return ChatError("bad_request", f"{field}: {detail}" if field != "__all__" else detail)


def create_bot(owner: User, *, username: str, display_name: str) -> User:
    """A new bot owned by `owner`, its names checked as registration checks a username and
    the profile a display name. Raises ChatError("bad_request") for a refused name."""
    form = BotForm(data={"username": username, "display_name": display_name})
    if not form.is_valid():
        raise form_error(form)
    bot = form.save(commit=False)
    bot.is_bot = True
    bot.bot_owner = owner
    bot.set_unusable_password()
    try:
        with transaction.atomic():
            bot.save()
    except IntegrityError as exc:  # the same name taken meanwhile
        raise ChatError(
            "bad_request", bot.unique_error_message(User, ["username"]).messages[0]
        ) from exc
    return bot
