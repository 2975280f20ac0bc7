"""The browser client's translations, and the language of a WebSocket.

Django's own strings (templates, forms, error details) are translated with
gettext from locale/<lang>/LC_MESSAGES/django.po. The client's strings are
keyed by their English text in chat/static/chat/i18n.js; their translations
are one JSON object per language, locale/<lang>/client.json, which every page
carries in a json_script tag (CSP forbids inline script, and there is no build
step), so the client has them before its first paint without a request.
"""

import json
from functools import cache
from pathlib import Path

from django.conf import settings
from django.http import HttpRequest
from django.utils import translation


def client_catalog_path(language: str) -> Path:
    return Path(settings.LOCALE_PATHS[0]) / language / "client.json"


@cache
def load_client_catalog(language: str) -> dict[str, str]:
    """The client's translations for `language`; empty for English (the keys are English)."""
    path = client_catalog_path(language)
    if not path.is_file():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def client_catalog(request: HttpRequest) -> dict:
    """Context processor: the active language's client catalogue, for base.html."""
    return {"client_catalog": load_client_catalog(translation.get_language() or "en")}


def language_from_handshake(headers: list[tuple[bytes, bytes]], cookies: dict[str, str]) -> str:
    """The language of a WebSocket handshake, chosen as LocaleMiddleware chooses for a page:
    the language cookie set by the chooser, else Accept-Language, else LANGUAGE_CODE."""
    request = HttpRequest()
    request.COOKIES = cookies
    for name, value in headers:
        if name == b"accept-language":
            request.META["HTTP_ACCEPT_LANGUAGE"] = value.decode("latin-1")
    return translation.get_language_from_request(request)
