import pytest
from django.test import Client
from django.urls import reverse

POST_VIEWS = ["register", "login", "logout", "profile", "password_change"]


@pytest.fixture
def csrf_client(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


@pytest.mark.parametrize("name", POST_VIEWS)
def test_every_post_view_refuses_a_post_without_csrf_token(csrf_client, name):
    assert csrf_client.post(reverse(name), {}).status_code == 403


@pytest.mark.parametrize("name", POST_VIEWS)
def test_every_post_view_accepts_a_post_with_csrf_token(csrf_client, name):
    csrf_client.get(reverse("profile"))
    token = csrf_client.cookies["csrftoken"].value
    assert csrf_client.post(reverse(name), {"csrfmiddlewaretoken": token}).status_code != 403


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
