"""`Authorization: Bearer <token>` for the JSON API (accounts.tokens).

On a request under `/api/` that carries a bearer token, the token alone says who is
asking: its user becomes `request.user` whatever session cookie came along, and Django's
CSRF check is waived (a page on another site cannot make a browser send this header, so
there is no forgery to guard against). A token that is malformed, unknown or revoked is
a 401 at once: the request never falls back to the session. Requests without the header
(the web client's) are left to the session and its CSRF check. Other schemes (Basic, say,
from a proxy in front) are not ours and are ignored.

Placed after AuthenticationMiddleware (whose lazy user it replaces) and, like every
middleware's request phase, run before CsrfViewMiddleware's view check.
"""

from django.http import HttpRequest
from django.utils.deprecation import MiddlewareMixin
from django.utils.translation import gettext as _

from accounts import tokens

from ..errors import ChatError
from .api import error_response

API_PREFIX = "/api/"


class BearerTokenMiddleware(MiddlewareMixin):
    def process_request(self, request: HttpRequest):
        if not request.path.startswith(API_PREFIX):
            return None
        secret = tokens.bearer_secret(request.headers.get("Authorization", ""))
        if secret is None:
            return None
        token = tokens.authenticate(secret)
        if token is None:
            response = error_response(
                ChatError(
                    "unauthorized",
                    _(
                        "This API token is not valid: it may have been revoked. No cookie "
                        "is used in its place."
                    ),
                )
            )
            response["WWW-Authenticate"] = 'Bearer error="invalid_token"'
            return response
        request.user = token.user
        request._dont_enforce_csrf_checks = True
        return None
