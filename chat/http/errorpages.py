"""People get Parley's own error pages under DEBUG too.

With DEBUG on (`make run`'s zero-config default) Django answers a page that does not
exist, or a room the user may not see, with its technical 404: the URL patterns, on a
server people use. This middleware gives them the 404 and 403 pages production gives
(templates/404.html, 403.html); `DEBUG_PAGES=true` brings Django's back for a developer.
A database that cannot be reached is no bug of the page: it answers 503 with Parley's
"back in a moment" page (templates/503.html) and `Retry-After`, in production and under
DEBUG alike. Any other error in a view (500) still shows Django's traceback under DEBUG.
"""

import sys
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse
from django.template import loader
from django.urls import Resolver404, get_urlconf, resolve
from django.views.defaults import permission_denied
from django.views.defaults import server_error as default_server_error

from .api import not_found

# The errors of a database that is down or unreachable, as opposed to a bug in a query.
UNREACHABLE = (OperationalError, InterfaceError)
RETRY_AFTER_SECONDS = 5


def _technical() -> bool:
    return settings.DEBUG and settings.DEBUG_PAGES


def unavailable() -> HttpResponse:
    """The 503 page, rendered without a request: its context processors would read the
    database (the user, the session) that is not there."""
    response = HttpResponse(loader.get_template("503.html").render(), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: an unreachable database anywhere in the request (a middleware saving the
    session included) is a 503, anything else Django's 500 with Parley's page."""
    if isinstance(sys.exception(), UNREACHABLE):
        return unavailable()
    return default_server_error(request)


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
        if isinstance(exception, UNREACHABLE) and not _technical():
            return unavailable()
        if not settings.DEBUG or _technical():
            return None  # without DEBUG, Django's handlers give the same pages
        if isinstance(exception, Http404):
            return not_found(request, exception)
        if isinstance(exception, PermissionDenied):
            return permission_denied(request, exception)
        return None
