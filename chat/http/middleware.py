"""Every HTTP request's body is judged before it is read (ASGI, in front of Django).

Django reads a request's whole body (to a temporary file past a few megabytes) before
any middleware or view can refuse it. Here a body declared larger than its path
allows is answered 413 at once, unread; a body without a declared length (chunked)
is counted as it streams and cut off at the limit, with the same answer.
"""

import json
import re
from types import SimpleNamespace

from django.conf import settings
from django.http.cookie import parse_cookie
from django.utils import translation
from django.utils.translation import gettext as _

# Room for the multipart framing and a CSRF field around a file of the largest size.
BODY_SLACK_BYTES = 64 * 1024
DRAIN_BYTES = 16 * 1024 * 1024  # over the limit by at most this: read and dropped, not cut
UPLOAD_PATH = re.compile(r"/api/rooms/\d+/uploads")
AVATAR_PATH = "/accounts/profile/"
HOOK_PATH = re.compile(r"/hooks/[^/]*")
# A webhook's payload: 4,000 characters of text, each up to 9 bytes once a form
# percent-encodes its UTF-8, and room for the rest.
HOOK_MAX_BYTES = 64 * 1024
# Paths whose refusal is the API's error JSON.
JSON_PATHS = ("/api/", "/hooks/")


def body_limit(path: str) -> int:
    """The largest body a request to this path may carry."""
    if UPLOAD_PATH.fullmatch(path):
        return settings.PARLEY_UPLOAD_MAX_BYTES + BODY_SLACK_BYTES
    if path == AVATAR_PATH:
        return settings.AVATAR_MAX_BYTES + BODY_SLACK_BYTES
    if HOOK_PATH.fullmatch(path):
        return HOOK_MAX_BYTES
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


class BodyLimit:
    """ASGI middleware: a 413 for a body over its path's limit, before Django reads it."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = body_limit(scope["path"])
        headers = dict(scope.get("headers") or [])
        try:
            declared = int(headers.get(b"content-length", b"0"))
        except ValueError:
            declared = 0
        if declared > limit:
            # A body a little over the limit is left for the server to drain, so a proxy
            # still sending it gets the 413, not a broken pipe; a huge one is cut off.
            close = declared > limit + DRAIN_BYTES
            return await _refuse(scope, send, limit, close=close)
        received, refused = 0, False

        async def counted_receive():
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request" and not refused:
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    await _refuse(scope, send, limit, close=True)
                    return {"type": "http.disconnect"}  # Django stops reading, answers nothing
            return message

        async def guarded_send(message):
            if not refused:
                await send(message)

        return await self.app(scope, counted_receive, guarded_send)


def _language(scope: dict) -> str:
    """The caller's language, as Django's LocaleMiddleware (which has not run) would pick it."""
    headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
    request = SimpleNamespace(
        COOKIES=parse_cookie(headers.get("cookie", "")),
        META={"HTTP_ACCEPT_LANGUAGE": headers.get("accept-language", "")},
    )
    return translation.get_language_from_request(request)


async def _refuse(scope: dict, send, limit: int, *, close: bool) -> None:
    with translation.override(_language(scope)):
        if UPLOAD_PATH.fullmatch(scope["path"]):
            files_limit = limit - BODY_SLACK_BYTES
            detail = _("Files are limited to %(limit)s bytes.") % {"limit": files_limit}
        else:
            detail = _("Requests are limited to %(limit)s bytes.") % {"limit": limit}
    if scope["path"].startswith(JSON_PATHS):
        body = json.dumps({"error": {"code": "too_large", "detail": detail}}).encode()
        content_type = b"application/json"
    else:
        body, content_type = detail.encode(), b"text/plain; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                *([(b"connection", b"close")] if close else []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
