"""The HTTP JSON API under /api/: thin callers of queries and services."""

from collections.abc import Callable
from functools import wraps

from django.db import DatabaseError
from django.http import HttpRequest, JsonResponse, RawPostDataException
from django.urls import reverse
from django.utils.translation import gettext as _

from .. import queries, services
from ..errors import ChatError
from ..protocol import frames
from ..protocol.commands import (
    MAX_FRAME_BYTES,
    attachment_ids,
    flag,
    load_json,
    parse_page,
    positive_int,
    text_field,
)


def error_response(error: ChatError) -> JsonResponse:
    return JsonResponse(
        {"error": {"code": error.code, "detail": error.detail}}, status=error.status
    )


def api_view(*methods: str) -> Callable:
    """JSON endpoint for the session's user or an API token's (chat.http.bearer); every
    ChatError becomes its JSON error, and a database that cannot be reached (reading the
    session included) `unavailable` (503)."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs):
            if request.method not in methods:
                error = ChatError("not_allowed", f"Use {', '.join(methods)} here.")
                response = error_response(error)
                response["Allow"] = ", ".join(methods)
                return response
            try:
                if not request.user.is_authenticated:
                    return error_response(ChatError("unauthorized", _("Log in first.")))
                return view(request, *args, **kwargs)
            except ChatError as error:
                return error_response(error)
            except DatabaseError:
                return error_response(ChatError("unavailable", _("Try again shortly.")))

        return wrapper

    return decorate


def json_body(request: HttpRequest) -> dict:
    try:
        raw = request.body
    except RawPostDataException:
        # A multipart form, already consumed by the CSRF check: not JSON.
        raise ChatError("bad_request", "Send the body as JSON (application/json).") from None
    if len(raw) > MAX_FRAME_BYTES:
        raise ChatError("too_large", f"Request bodies are limited to {MAX_FRAME_BYTES} bytes.")
    data = load_json(raw or b"null", "body")
    if not isinstance(data, dict):
        raise ChatError("bad_request", "The body must be a JSON object.")
    return data


PAGE_PARAMS = ("after", "before", "limit", "changed_after")


def int_param(value: str | None, name: str) -> int | None:
    if value is None or value == "":
        return None
    if not (value.isascii() and value.isdigit()) or len(value) > 18:
        raise ChatError("bad_request", f"`{name}` must be a non-negative integer.")
    return int(value)


def _without_type(event: dict) -> dict:
    """An event's frame as an HTTP answer: the same fields, without `type`."""
    return {key: value for key, value in event.items() if key != "type"}


@api_view("GET", "POST")
def rooms(request: HttpRequest) -> JsonResponse:
    if request.method == "GET":
        return JsonResponse({"rooms": queries.rooms_for_user(request.user, with_last_message=True)})
    data = json_body(request)
    if data.get("kind", "public") == "private":
        room, created = services.create_private_room(request.user, data.get("name")), True
    elif data.get("kind", "public") == "public":
        room, created = services.create_or_join_room(request.user, data.get("name"))
    else:
        raise ChatError("bad_request", "`kind` must be 'public' or 'private'.")
    return JsonResponse(
        queries.room_for_user(request.user, room.pk), status=201 if created else 200
    )


@api_view("POST")
def direct(request: HttpRequest) -> JsonResponse:
    room, created = services.open_direct(request.user, json_body(request).get("username"))
    return JsonResponse(
        queries.room_for_user(request.user, room.pk), status=201 if created else 200
    )


@api_view("GET", "PATCH")
def room_detail(request: HttpRequest, room_id: int) -> JsonResponse:
    if request.method == "PATCH":
        data = json_body(request)
        services.update_room(request.user, room_id, name=data.get("name"), topic=data.get("topic"))
    return JsonResponse(queries.room_for_user(request.user, room_id))


@api_view("GET", "POST")
def messages(request: HttpRequest, room_id: int) -> JsonResponse:
    if request.method == "GET":
        after, before, limit, changed_after = parse_page(
            *(int_param(request.GET.get(name), name) for name in PAGE_PARAMS)
        )
        page = queries.message_page(
            request.user,
            room_id,
            after=after,
            before=before,
            changed_after=changed_after,
            limit=limit,
        )
        return JsonResponse({"messages": page["messages"], "has_more": page["has_more"]})
    data = json_body(request)
    message, created = services.send_message(
        request.user,
        room_id,
        text_field(data, "body"),
        data.get("client_msg_id"),
        reply_to=positive_int(data, "reply_to", required=False),
        attachments=attachment_ids(data),
        thread_root=positive_int(data, "thread_root", required=False),
        also_in_room=flag(data, "also_in_room", False),
    )
    return JsonResponse(frames.message_dict(message), status=201 if created else 200)


@api_view("GET")
def thread(request: HttpRequest, message_id: int) -> JsonResponse:
    after, before, limit, _changed = parse_page(
        *(int_param(request.GET.get(name), name) for name in ("after", "before", "limit"))
    )
    return JsonResponse(
        queries.thread_page(request.user, message_id, after=after, before=before, limit=limit)
    )


@api_view("POST")
def upload(request: HttpRequest, room_id: int) -> JsonResponse:
    files = request.FILES.getlist("file")
    if len(files) > 1:
        raise ChatError("bad_request", "Send one file per upload.")
    attachment = services.upload_attachment(request.user, room_id, files[0] if files else None)
    return JsonResponse(frames.attachment_dict(attachment), status=201)


@api_view("PATCH", "DELETE")
def message(request: HttpRequest, message_id: int) -> JsonResponse:
    if request.method == "PATCH":
        body = text_field(json_body(request), "body")
        message = services.edit_message(request.user, message_id, body)
        return JsonResponse(frames.message_dict(message))
    event = frames.message_deleted(services.delete_message(request.user, message_id))
    return JsonResponse(_without_type(event))


@api_view("POST")
def reactions(request: HttpRequest, message_id: int) -> JsonResponse:
    data = json_body(request)
    event = services.react(request.user, message_id, data.get("emoji"), on=flag(data, "on", True))
    return JsonResponse(_without_type(event))


@api_view("GET")
def pins(request: HttpRequest, room_id: int) -> JsonResponse:
    """The room's pinned messages, newest first."""
    return JsonResponse({"room": room_id, "pins": queries.pins_for_reader(request.user, room_id)})


@api_view("POST", "DELETE")
def pin(request: HttpRequest, room_id: int, message_id: int) -> JsonResponse:
    """POST pins the message, DELETE unpins it; both answer with the room's pins."""
    on = request.method == "POST"
    event = services.pin_message(request.user, room_id, message_id, on=on)
    return JsonResponse(_without_type(event))


@api_view("GET", "POST")
def members(request: HttpRequest, room_id: int) -> JsonResponse:
    if request.method == "GET":
        match = request.GET.get("q", "")
        return JsonResponse(queries.room_members(request.user, room_id, match=match))
    services.add_member(request.user, room_id, json_body(request).get("username"))
    return JsonResponse(queries.room_for_user(request.user, room_id))


@api_view("PATCH", "DELETE")
def member(request: HttpRequest, room_id: int, username: str) -> JsonResponse:
    if request.method == "PATCH":
        membership = services.set_role(
            request.user, room_id, username, json_body(request).get("role")
        )
        return JsonResponse({"username": username, "role": membership.role})
    if username == request.user.username:
        services.leave_room(request.user, room_id)
    else:
        services.remove_member(request.user, room_id, username)
    return JsonResponse({}, status=200)


@api_view("PATCH")
def membership(request: HttpRequest, room_id: int) -> JsonResponse:
    services.set_room_notify(request.user, room_id, json_body(request).get("notify"))
    return JsonResponse(queries.room_for_user(request.user, room_id))


@api_view("POST")
def read(request: HttpRequest, room_id: int) -> JsonResponse:
    seq = json_body(request).get("seq")
    if type(seq) is not int or seq < 0:
        raise ChatError("bad_request", "`seq` must be a non-negative integer.")
    return JsonResponse(
        {"room": room_id, "last_read_seq": services.mark_read(request.user, room_id, seq)}
    )


@api_view("GET", "POST")
def blocks(request: HttpRequest) -> JsonResponse:
    if request.method == "POST":
        services.block_user(request.user, text_field(json_body(request), "username"))
    return JsonResponse({"blocked": services.blocked_usernames(request.user)})


@api_view("DELETE")
def block(request: HttpRequest, username: str) -> JsonResponse:
    services.unblock_user(request.user, username)
    return JsonResponse({"blocked": services.blocked_usernames(request.user)})


@api_view("GET")
def search(request: HttpRequest) -> JsonResponse:
    params = request.GET
    limit = int_param(params.get("limit"), "limit") or 20
    if limit > 50:
        raise ChatError("bad_request", "`limit` must be at most 50.")
    return JsonResponse(
        queries.search_messages(
            request.user,
            params.get("q", ""),
            room_id=int_param(params.get("room"), "room"),
            before=int_param(params.get("before"), "before"),
            limit=limit,
        )
    )


@api_view("GET")
def person(request: HttpRequest, username: str) -> JsonResponse:
    """A person's card: who they are, bio, time zone, and whether one may message them."""
    return JsonResponse(queries.person_card(request.user, username))


def not_found(request: HttpRequest, exception: Exception | None = None):
    """404s: JSON under /api/, Django's page elsewhere."""
    from django.views.defaults import page_not_found

    if request.path.startswith("/api/"):
        return error_response(ChatError("not_found", "No such API path."))
    return page_not_found(request, exception)


def csrf_failure(request: HttpRequest, reason: str = "") -> JsonResponse:
    """CSRF refusals: JSON under /api/, Django's page elsewhere."""
    from django.views.csrf import csrf_failure as default_failure

    if request.path.startswith("/api/"):
        return error_response(ChatError("forbidden", f"CSRF check failed: {reason}"))
    return default_failure(request, reason)


@api_view("GET", "POST")
def invites(request: HttpRequest, room_id: int) -> JsonResponse:
    """A room's live invite links; POST makes one, answered once with its URL."""
    if request.method == "GET":
        return JsonResponse(queries.room_invites(request.user, room_id))
    data = json_body(request)
    invite, token = services.create_invite(
        request.user,
        room_id,
        expires_in=data.get("expires_in", services.invites.DEFAULT_EXPIRY),
        max_uses=data.get("max_uses"),
    )
    url = request.build_absolute_uri(reverse("invite", args=[token]))
    return JsonResponse({**frames.invite_dict(invite), "url": url}, status=201)


@api_view("DELETE")
def invite(request: HttpRequest, room_id: int, invite_id: int) -> JsonResponse:
    services.revoke_invite(request.user, room_id, invite_id)
    return JsonResponse({}, status=200)


@api_view("GET", "POST")
def webhooks(request: HttpRequest, room_id: int) -> JsonResponse:
    """A room's live webhooks; POST makes one, answered once with its URL."""
    if request.method == "GET":
        return JsonResponse(queries.room_webhooks(request.user, room_id))
    webhook, secret = services.create_webhook(request.user, room_id, json_body(request).get("name"))
    url = request.build_absolute_uri(reverse("hook", args=[secret]))
    return JsonResponse({"id": webhook.pk, "name": webhook.name, "url": url}, status=201)


@api_view("DELETE")
def webhook(request: HttpRequest, room_id: int, webhook_id: int) -> JsonResponse:
    services.revoke_webhook(request.user, room_id, webhook_id)
    return JsonResponse({}, status=200)
