"""Bots: accounts a person makes for their programs. A bot has an owner, a "bot" badge
wherever its name shows, no usable password (it signs in only by a token, accounts.tokens)
and is managed by its owner (the Bots page, the API) or by staff (the admin)."""

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from chat import limits
from chat.errors import ChatError
from chat.protocol import frames

from . import tokens
from .deletion import delete_account
from .forms import BotForm
from .models import Token, User

MAX_BOTS = 25  # bots one person may own
FIRST_TOKEN_NAME = "bot"  # noqa: S105 (a label, not a secret)


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


def bot_dict(bot: User) -> dict:
    """A bot as its owner sees it: its user payload and its tokens (without secrets)."""
    return {"user": frames.user_dict(bot), "tokens": tokens.user_tokens(bot)}


def _managed(owner: User):
    """The bots their owner manages here: not a webhook's (chat.services.webhooks), which
    its room's owners and admins manage through the webhook."""
    return User.objects.filter(bot_owner=owner, is_bot=True, webhook__isnull=True)


def owned_bots(owner: User) -> list[User]:
    return list(_managed(owner).order_by("username"))


def owned_bot(owner: User, bot_id: int) -> User:
    """The owner's bot; `not_found` alike for no such account, someone else's and a
    webhook's."""
    bot = _managed(owner).filter(pk=bot_id).first()
    if bot is None:
        raise ChatError("not_found", _("No such bot."))
    return bot


def refuse_bot_owner(owner: User) -> None:
    if owner.is_bot:
        raise ChatError("forbidden", _("A bot cannot manage bots or tokens of its own."))


def new_bot(owner: User, *, username: object, display_name: object) -> tuple[User, Token, str]:
    """A bot of `owner` (budget `bot_create`, at most MAX_BOTS) with a first token:
    the bot, the token and its secret (shown once)."""
    refuse_bot_owner(owner)
    if not isinstance(username, str) or not isinstance(display_name, str | None):
        raise ChatError("bad_request", _("`username` and `display_name` must be text."))
    limits.spend("bot_create", owner.pk)
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=owner.pk).first()  # one maker at a time
        if _managed(owner).count() >= MAX_BOTS:
            raise ChatError(
                "bad_request",
                _("You own %(count)s bots, the most there may be: delete one first.")
                % {"count": MAX_BOTS},
            )
        bot = create_bot(owner, username=username, display_name=display_name or "")
        token, secret = tokens.make_token(bot, name=FIRST_TOKEN_NAME, spender=owner)
    return bot, token, secret


def rename_bot(owner: User, bot_id: int, data: dict) -> User:
    """A new username and/or display name for the owner's bot, under create_bot's rules."""
    bot = owned_bot(owner, bot_id)
    fields = {"username": bot.username, "display_name": bot.display_name}
    for name in fields:
        if name in data:
            if not isinstance(data[name], str):
                raise ChatError("bad_request", _("`%(name)s` must be text.") % {"name": name})
            fields[name] = data[name]
    form = BotForm(data=fields, instance=bot)
    if not form.is_valid():
        raise form_error(form)
    try:
        with transaction.atomic():
            form.save()
    except IntegrityError as exc:
        raise ChatError(
            "bad_request", bot.unique_error_message(User, ["username"]).messages[0]
        ) from exc
    return bot


def new_bot_token(
    owner: User, bot_id: int, *, name: object = FIRST_TOKEN_NAME
) -> tuple[Token, str]:
    return tokens.make_token(owned_bot(owner, bot_id), name=name, spender=owner)


def revoke_bot_token(owner: User, bot_id: int, token_id: int) -> None:
    tokens.revoke_token(owned_bot(owner, bot_id), token_id)


def delete_bot(owner: User, bot_id: int) -> None:
    """Delete the owner's bot as any account is deleted (its rooms are told; its messages
    stay, by "Deleted user"); its sockets close."""
    delete_account(owned_bot(owner, bot_id))
