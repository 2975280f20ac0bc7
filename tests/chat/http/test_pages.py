"""Pages: where logging in lands, and the chat page's client config."""

import json
import re

import pytest
from django.contrib.staticfiles import finders
from django.templatetags.static import static
from django.test import Client, RequestFactory
from django.urls import reverse

from chat.http.pages import LAST_ROOM_COOKIE, resume
from tests.factories import PASSWORD, RoomFactory, UserFactory

pytestmark = pytest.mark.django_db


def log_in(client, user, cookie: str | None = None):
    if cookie is not None:
        client.cookies[LAST_ROOM_COOKIE] = cookie
    response = client.post(reverse("login"), {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    assert response.url == reverse("resume")
    return client.get(response.url)


def test_logging_in_lands_in_the_room_this_browser_last_showed():
    alice = UserFactory(username="alice")
    room = RoomFactory(members=[alice])
    response = log_in(Client(), alice, f"{alice.pk}:{room.pk}")
    assert response.status_code == 302
    assert response.url == reverse("room", args=[room.pk])


@pytest.mark.parametrize(
    "cookie",
    [
        None,
        "",
        "garbage",
        "{other}:{room}",  # another person's last room on this browser
        "{me}:{private}",  # a private room they are not in (any more)
        "{me}:999999",
        "{me}:99999999999999999999999",
        "{me}:-1",
    ],
)
def test_anything_else_lands_on_the_home_page(cookie):
    alice = UserFactory(username="alice")
    bob = UserFactory(username="bob")
    room = RoomFactory(members=[alice, bob])
    private = RoomFactory(kind="private", members=[bob])
    if cookie is not None:
        cookie = cookie.format(me=alice.pk, other=bob.pk, room=room.pk, private=private.pk)
    response = log_in(Client(), alice, cookie)
    assert response.status_code == 302
    assert response.url == reverse("home")


def test_resume_needs_a_login(client):
    response = client.get(reverse("resume"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


@pytest.mark.parametrize("digits", ["١٢", "²"])
def test_digits_that_are_not_ascii_land_on_the_home_page(digits):
    alice = UserFactory(username="alice")
    RoomFactory(members=[alice])
    request = RequestFactory().get(reverse("resume"))
    request.user = alice
    request.COOKIES[LAST_ROOM_COOKIE] = f"{alice.pk}:{digits}"
    assert resume(request).url == reverse("home")


def client_config(html: str) -> dict:
    tag = re.search(r'<script id="parley-config" type="application/json">(.*?)</script>', html)
    return json.loads(tag.group(1))


def test_the_room_page_names_the_emoji_data_it_fetches_on_first_use(client, user):
    room = RoomFactory(members=[user])
    client.force_login(user)
    response = client.get(f"/rooms/{room.pk}/")
    assert response.status_code == 200
    config = client_config(response.content.decode())
    assert config["emoji_url"] == static("chat/emoji.json")
    assert finders.find("chat/emoji.json")
