"""Error pages: Parley's own 404, 403 and 500 pages, under DEBUG too (`make run`), unless a
developer asks for Django's technical ones (DEBUG_PAGES)."""

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, OperationalError
from django.test import Client, RequestFactory
from django.urls import include, path
from django.utils import translation
from django.views.defaults import permission_denied, server_error

from tests.factories import PASSWORD, RoomFactory

pytestmark = pytest.mark.django_db

TECHNICAL = "Using the URLconf"  # Django's debug 404 lists the URL patterns


def forbidden_view(request):
    raise PermissionDenied


urlpatterns = [path("forbidden/", forbidden_view), path("", include("config.urls"))]


@pytest.fixture
def signed_in(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture(params=[False, True], ids=["production", "make run"])
def debug(request, settings):
    settings.DEBUG = request.param
    return request.param


def assert_parley_page(response, status: int, heading: str) -> None:
    html = response.content.decode()
    assert response.status_code == status
    assert response["Content-Type"].startswith("text/html")
    assert TECHNICAL not in html and "Traceback" not in html
    assert f"<h1>{heading}</h1>" in html
    assert 'class="brand"' in html  # the app's layout, with its way home


def test_an_unknown_page_is_parleys_404(debug, signed_in):
    assert_parley_page(signed_in.get("/no/such/page/"), 404, "Page not found")


def test_a_room_the_user_may_not_see_is_parleys_404(debug, signed_in, other_user):
    hidden = RoomFactory(name="hidden", kind="private", members=[other_user])
    assert_parley_page(signed_in.get(f"/rooms/{hidden.pk}/"), 404, "Page not found")


def test_an_unknown_api_path_stays_json(debug, signed_in):
    response = signed_in.get("/api/no/such/thing")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_a_missing_slash_is_still_added(debug, signed_in):
    response = signed_in.get("/accounts/profile")
    assert (response.status_code, response.url) == (301, "/accounts/profile/")


def test_a_refusal_is_parleys_403(debug, settings, signed_in):
    settings.ROOT_URLCONF = __name__
    assert_parley_page(signed_in.get("/forbidden/"), 403, "Not allowed")


def test_the_pages_speak_german(debug, client):
    response = client.get("/no/such/page/", HTTP_ACCEPT_LANGUAGE="de")
    assert_parley_page(response, 404, "Seite nicht gefunden")


def test_the_403_and_500_handlers_render_parleys_pages():
    request = RequestFactory().get("/")
    with translation.override("en"):
        assert_parley_page(permission_denied(request, PermissionDenied()), 403, "Not allowed")
        assert_parley_page(server_error(request), 500, "Something went wrong")


def test_a_developer_can_ask_for_djangos_technical_404(settings, signed_in):
    settings.DEBUG = True
    settings.DEBUG_PAGES = True
    response = signed_in.get("/no/such/page/")
    assert response.status_code == 404
    assert TECHNICAL in response.content.decode()


def unreachable(*args, **kwargs):
    raise OperationalError("connection refused")


def duplicate(*args, **kwargs):
    raise IntegrityError("duplicate key")


def assert_back_in_a_moment(response) -> None:
    assert_parley_page(response, 503, "Back in a moment")
    assert response["Retry-After"] == "5"


def test_a_page_while_the_database_is_down_is_a_503_to_try_again(debug, signed_in, monkeypatch):
    """Reading the session (the first thing a signed-in page does) fails: not a 500, and
    under `make run` not a traceback either."""
    monkeypatch.setattr(SessionStore, "load", unreachable)
    with translation.override("en"):
        assert_back_in_a_moment(signed_in.get("/"))


def test_a_database_down_past_the_view_is_a_503_too(monkeypatch, user):
    """The session saved on the way out (a login), outside any view: handler500's case."""
    client = Client(raise_request_exception=False)
    monkeypatch.setattr(SessionStore, "save", unreachable)
    with translation.override("en"):
        response = client.post(
            "/accounts/login/", {"username": user.username, "password": PASSWORD}
        )
    assert_back_in_a_moment(response)


def test_a_bug_in_a_query_is_still_a_500(monkeypatch, signed_in):
    """Only an unreachable database means "try again": an integrity error is a bug."""
    client = Client(raise_request_exception=False)
    client.cookies = signed_in.cookies
    monkeypatch.setattr(SessionStore, "load", duplicate)
    with translation.override("en"):
        assert_parley_page(client.get("/"), 500, "Something went wrong")


def test_the_503_page_speaks_german(signed_in, monkeypatch):
    monkeypatch.setattr(SessionStore, "load", unreachable)
    response = signed_in.get("/", HTTP_ACCEPT_LANGUAGE="de")
    assert response.status_code == 503
    assert "<h1>Gleich wieder da</h1>" in response.content.decode()
