"""The JSON API for programs: one's API tokens (`/api/tokens/`) and bots (`/api/bots/`),
thin callers of accounts.tokens and accounts.bots. A bot manages neither: its owner does."""

from django.http import HttpRequest, JsonResponse

from accounts import bots, tokens
from chat.protocol import frames

from .api import api_view, json_body


@api_view("GET", "POST")
def token_list(request: HttpRequest) -> JsonResponse:
    """GET: one's tokens without secrets; POST {"name"}: a new one, its secret shown once."""
    bots.refuse_bot_owner(request.user)
    if request.method == "GET":
        return JsonResponse({"tokens": tokens.user_tokens(request.user)})
    token, secret = tokens.make_token(request.user, name=json_body(request).get("name"))
    return JsonResponse(tokens.made_dict(token, secret), status=201)


@api_view("DELETE")
def token_detail(request: HttpRequest, token_id: int) -> JsonResponse:
    """Revoke: requests with it are refused at once, its sockets close within moments."""
    bots.refuse_bot_owner(request.user)
    tokens.revoke_token(request.user, token_id)
    return JsonResponse({})


@api_view("GET", "POST")
def bot_list(request: HttpRequest) -> JsonResponse:
    """GET: one's bots with their tokens; POST {"username", "display_name"}: a new bot and
    its first token (secret shown once)."""
    bots.refuse_bot_owner(request.user)
    if request.method == "GET":
        return JsonResponse({"bots": [bots.bot_dict(b) for b in bots.owned_bots(request.user)]})
    data = json_body(request)
    bot, token, secret = bots.new_bot(
        request.user, username=data.get("username"), display_name=data.get("display_name")
    )
    return JsonResponse(
        {"user": frames.user_dict(bot), "token": tokens.made_dict(token, secret)}, status=201
    )


@api_view("GET", "PATCH", "DELETE")
def bot_detail(request: HttpRequest, bot_id: int) -> JsonResponse:
    """GET the bot, PATCH {"username"?, "display_name"?} renames it, DELETE deletes it."""
    owner = request.user
    bots.refuse_bot_owner(owner)
    if request.method == "DELETE":
        bots.delete_bot(owner, bot_id)
        return JsonResponse({})
    if request.method == "PATCH":
        bot = bots.rename_bot(owner, bot_id, json_body(request))
    else:
        bot = bots.owned_bot(owner, bot_id)
    return JsonResponse(bots.bot_dict(bot))


@api_view("POST")
def bot_tokens(request: HttpRequest, bot_id: int) -> JsonResponse:
    """A new token for the bot ({"name"} optional), its secret shown once."""
    bots.refuse_bot_owner(request.user)
    name = json_body(request).get("name", bots.FIRST_TOKEN_NAME)
    token, secret = bots.new_bot_token(request.user, bot_id, name=name)
    return JsonResponse(tokens.made_dict(token, secret), status=201)


@api_view("DELETE")
def bot_token(request: HttpRequest, bot_id: int, token_id: int) -> JsonResponse:
    bots.refuse_bot_owner(request.user)
    bots.revoke_bot_token(request.user, bot_id, token_id)
    return JsonResponse({})
