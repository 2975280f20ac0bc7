"""`POST /hooks/<secret>`: a program posts a message through a room's webhook.

The secret in the path is the only credential: no session, no CSRF token (a program
has neither; the secret cannot be guessed, and a page elsewhere that knew it could post
anyway). The body is a Slack-style payload, `{"text", "client_msg_id"?, "username"?}`,
sent as JSON or as a form whose `payload` field holds that JSON. Bodies are bounded
before they are read (chat/http/middleware.py). Success is `ok` in plain text, as Slack
answers; a refusal is the API's error JSON.
"""

import math

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from accounts.throttle import client_address

from .. import limits, services
from ..errors import ChatError, WebhookNotFound
from ..protocol.commands import load_json, text_field
from .api import error_response, json_body

FORM = "application/x-www-form-urlencoded"


def _payload(request: HttpRequest) -> dict:
    """The payload a request carries, as JSON or as a form's `payload` field."""
    if request.content_type != FORM:
        return json_body(request)
    raw = request.POST.get("payload")
    if raw is None:
        raise ChatError("bad_request", "A form must hold the JSON payload in its `payload` field.")
    data = load_json(raw, "payload")
    if not isinstance(data, dict):
        raise ChatError("bad_request", "The payload must be a JSON object.")
    return data


@csrf_exempt
def hook(request: HttpRequest, secret: str) -> HttpResponse:
    if request.method != "POST":
        response = error_response(ChatError("not_allowed", "Use POST here."))
        response["Allow"] = "POST"
        return response
    # Unknown secrets count against the address that tries them (HOOK_MISS): guessing
    # costs a lookup each, and a program posting to a revoked webhook is told, not served.
    address = client_address(request)
    wait = limits.wait_for("hook_miss", address, cost=0)
    if wait:
        detail = _("Too many unknown webhooks; try again in %(seconds)s s.")
        return error_response(ChatError("rate_limited", detail % {"seconds": math.ceil(wait)}))
    try:
        data = _payload(request)
        services.post_to_webhook(
            secret,
            text_field(data, "text"),
            client_msg_id=data.get("client_msg_id"),
            username=data.get("username"),
        )
    except WebhookNotFound as error:
        limits.wait_for("hook_miss", address)
        return error_response(error)
    except ChatError as error:
        return error_response(error)
    except DatabaseError:
        return error_response(ChatError("unavailable", _("Try again shortly.")))
    return HttpResponse("ok", content_type="text/plain; charset=utf-8")


hook.methods = ("POST",)  # the operations chat/http/openapi.py describes
