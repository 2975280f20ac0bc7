"""Middleware for every request: a body over the limit is refused before it is read."""

from collections.abc import Callable
from inspect import iscoroutinefunction

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.utils import translation
from django.utils.decorators import sync_and_async_middleware
from django.utils.translation import gettext as _

from ..errors import ChatError
from .api import error_response

# Room for the multipart framing and a CSRF field around an upload of the largest size.
BODY_SLACK_BYTES = 64 * 1024


def _too_large(request: HttpRequest) -> JsonResponse | None:
    if not request.path.startswith("/api/"):
        return None
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    limit = settings.PARLEY_UPLOAD_MAX_BYTES
    if length <= limit + BODY_SLACK_BYTES:
        return None
    # This runs before LocaleMiddleware, so the caller's language is chosen here.
    with translation.override(translation.get_language_from_request(request)):
        detail = _("Files are limited to %(limit)s bytes.") % {"limit": limit}
    return error_response(ChatError("too_large", detail))


@sync_and_async_middleware
def body_limit_middleware(get_response: Callable) -> Callable:
    """Refuse an API request whose declared body is over the upload limit before anything
    (the CSRF check first of all) reads it: a JSON 413 instead of spooling it to disk."""
    if iscoroutinefunction(get_response):

        async def middleware(request: HttpRequest):
            return _too_large(request) or await get_response(request)

    else:

        def middleware(request: HttpRequest):
            return _too_large(request) or get_response(request)

    return middleware
