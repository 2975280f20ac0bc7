"""People get Parley's own error pages under DEBUG too.

With DEBUG on (`make run`'s zero-config default) Django answers a page that does not
exist, or a room the user may not see, with its technical 404: the URL patterns, on a
server people use. This middleware gives them the 404 and 403 pages production gives
(templates/404.html, 403.html); `DEBUG_PAGES=true` brings Django's back for a developer.
An error in a view (500) still shows Django's traceback under DEBUG.
"""

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import Resolver404, get_urlconf, resolve
from django.views.defaults import permission_denied

from .api import not_found


def _technical() -> bool:
    return settings.DEBUG and settings.DEBUG_PAGES


class ErrorPages:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if settings.DEBUG and not _technical():
            try:
                resolve(request.path_info, get_urlconf())
            except Resolver404 as exc:
                return not_found(request, exc)
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not settings.DEBUG or _technical():
            return None  # without DEBUG, Django's handlers give the same pages
        if isinstance(exception, Http404):
            return not_found(request, exception)
        if isinstance(exception, PermissionDenied):
            return permission_denied(request, exception)
        return None
