import pytest
from django.test import Client
from django.urls import URLResolver, get_resolver, reverse

# Every view that changes state, with the arguments its URL needs and its method.
UNSAFE_VIEWS = [
    ("register", {}, "post"),
    ("login", {}, "post"),
    ("logout", {}, "post"),
    ("logout_everywhere", {}, "post"),
    ("profile", {}, "post"),
    ("notification_settings", {}, "post"),
    ("password_change", {}, "post"),
    ("send_confirmation", {}, "post"),
    ("delete_account", {}, "post"),
    ("confirm_email", {"token": "x"}, "post"),
    ("password_reset", {}, "post"),
    ("password_reset_confirm", {"uidb64": "x", "token": "y"}, "post"),
    ("join", {}, "post"),
    ("api-rooms", {}, "post"),
    ("api-direct", {}, "post"),
    ("api-messages", {"room_id": 1}, "post"),
    ("api-uploads", {"room_id": 1}, "post"),
    ("api-members", {"room_id": 1}, "post"),
    ("api-member", {"room_id": 1, "username": "bob"}, "delete"),
    ("api-read", {"room_id": 1}, "post"),
    ("api-membership", {"room_id": 1}, "patch"),
    ("api-room", {"room_id": 1}, "patch"),
    ("api-member", {"room_id": 1, "username": "bob"}, "patch"),
    ("api-message", {"message_id": 1}, "patch"),
    ("api-message", {"message_id": 1}, "delete"),
    ("api-reactions", {"message_id": 1}, "post"),
    ("api-blocks", {}, "post"),
    ("api-block", {"username": "bob"}, "delete"),
    ("api-pin", {"room_id": 1, "message_id": 1}, "post"),
    ("api-pin", {"room_id": 1, "message_id": 1}, "delete"),
    ("api-invites", {"room_id": 1}, "post"),
    ("api-invite", {"room_id": 1, "invite_id": 1}, "delete"),
    ("invite", {"token": "x"}, "post"),
    ("set_language", {}, "post"),
    ("api-webhooks", {"room_id": 1}, "post"),
    ("api-webhook", {"room_id": 1, "webhook_id": 1}, "delete"),
    ("api-tokens", {}, "post"),
    ("api-token", {"token_id": 1}, "delete"),
    ("api-bots", {}, "post"),
    ("api-bot", {"bot_id": 1}, "patch"),
    ("api-bot", {"bot_id": 1}, "delete"),
    ("api-bot-tokens", {"bot_id": 1}, "post"),
    ("api-bot-token", {"bot_id": 1, "token_id": 1}, "delete"),
    ("new_token", {}, "post"),
    ("revoke_token", {"token_id": 1}, "post"),
    ("bots", {}, "post"),
    ("edit_bot", {"bot_id": 1}, "post"),
    ("new_bot_token", {"bot_id": 1}, "post"),
    ("revoke_bot_token", {"bot_id": 1, "token_id": 1}, "post"),
    ("delete_bot", {"bot_id": 1}, "post"),
]
# Unsafe, and deliberately without CSRF: no session is used (a webhook's secret URL).
CSRF_EXEMPT_VIEWS = {"hook"}
# Named routes that only read.
SAFE_VIEWS = {
    "home",
    "resume",
    "room",
    "direct",
    "api-search",
    "api-person",
    "people",
    "api-pins",
    "api-thread",
    "attachment-file",
    "attachment-thumb",
    "healthz",
    "password_change_done",
    "password_reset_done",
    "password_reset_complete",
    "download_data",
}


def route_names(resolver: URLResolver | None = None) -> set[str]:
    names = set()
    for pattern in (resolver or get_resolver()).url_patterns:
        if isinstance(pattern, URLResolver):
            if pattern.app_name != "admin":
                names |= route_names(pattern)
        elif pattern.name:
            names.add(pattern.name)
    return names


def test_every_named_route_is_classified_as_safe_or_unsafe():
    classified = SAFE_VIEWS | CSRF_EXEMPT_VIEWS | {name for name, _, _ in UNSAFE_VIEWS}
    assert route_names() == classified


@pytest.fixture
def csrf_client(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


@pytest.mark.parametrize(("name", "kwargs", "method"), UNSAFE_VIEWS)
def test_every_unsafe_view_refuses_a_request_without_csrf_token(csrf_client, name, kwargs, method):
    response = getattr(csrf_client, method)(reverse(name, kwargs=kwargs), {})
    assert response.status_code == 403


@pytest.mark.parametrize(("name", "kwargs", "method"), UNSAFE_VIEWS)
def test_every_unsafe_view_accepts_a_request_with_csrf_token(csrf_client, name, kwargs, method):
    csrf_client.get(reverse("profile"))
    token = csrf_client.cookies["csrftoken"].value
    response = getattr(csrf_client, method)(
        reverse(name, kwargs=kwargs), {"csrfmiddlewaretoken": token}, HTTP_X_CSRFTOKEN=token
    )
    assert response.status_code != 403


def test_healthz_answers_without_login(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok"


@pytest.mark.django_db
def test_pages_send_a_content_security_policy_without_inline_script(client):
    policy = client.get(reverse("login")).headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "ws://127.0.0.1:8000" in policy
