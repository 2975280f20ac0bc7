"""Invite links over HTTP: the API of a room's links, and the page a link opens."""

import re

import pytest
from django.test import Client

from chat import services
from chat.models import Membership
from tests.factories import PASSWORD, RoomFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def room(user, other_user):
    return RoomFactory(name="hideout", kind="private", members=[user, other_user])


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def section(response) -> str:
    """The page's own part (the rest carries a per-request CSRF token)."""
    return re.search(r"<section.*?</section>", response.content.decode(), re.S).group(0)


def test_an_owner_makes_lists_and_revokes_links_through_the_api(user, room):
    api = signed_in(user)
    made = api.post(
        f"/api/rooms/{room.pk}/invites/",
        {"expires_in": 86400, "max_uses": 3},
        content_type="application/json",
    )
    assert made.status_code == 201
    link = made.json()
    assert link["url"].startswith("http://testserver/invite/")
    assert (link["max_uses"], link["uses"], link["created_by"]["id"]) == (3, 0, user.pk)
    listed = api.get(f"/api/rooms/{room.pk}/invites/").json()["invites"]
    assert [entry["id"] for entry in listed] == [link["id"]]
    assert "url" not in listed[0]
    assert api.delete(f"/api/rooms/{room.pk}/invites/{link['id']}").status_code == 200
    assert api.get(f"/api/rooms/{room.pk}/invites/").json() == {"invites": []}


def test_a_plain_member_is_refused_by_the_api(other_user, room):
    response = signed_in(other_user).post(
        f"/api/rooms/{room.pk}/invites/", {}, content_type="application/json"
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"


def test_signed_in_the_link_names_the_room_and_its_button_joins(user, room):
    _invite, token = services.create_invite(user, room.pk)
    guest = signed_in(UserFactory(username="guest"))
    page = guest.get(f"/invite/{token}/")
    assert page.status_code == 200
    assert b"hideout" in page.content
    assert not Membership.objects.filter(room=room, user__username="guest").exists()
    joined = guest.post(f"/invite/{token}/")
    assert joined.status_code == 302
    assert joined["Location"] == f"/rooms/{room.pk}/"
    assert Membership.objects.filter(room=room, user__username="guest").exists()
    assert guest.get(f"/invite/{token}/")["Location"] == f"/rooms/{room.pk}/"


def test_dead_and_unknown_links_get_the_same_page(user, room):
    invite, token = services.create_invite(user, room.pk)
    services.revoke_invite(user, room.pk, invite.pk)
    guest = signed_in(UserFactory(username="guest"))
    revoked, unknown = guest.get(f"/invite/{token}/"), guest.get(f"/invite/{'q' * 32}/")
    assert revoked.status_code == unknown.status_code == 404
    assert b"hideout" not in revoked.content
    assert section(revoked) == section(unknown)
    assert guest.post(f"/invite/{token}/").status_code == 404


def test_signed_out_the_link_leads_through_login_and_back(user, room):
    _invite, token = services.create_invite(user, room.pk)
    UserFactory(username="guest")
    client = Client()
    link = f"/invite/{token}/"
    response = client.get(link)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/invite/")
    assert b"hideout" not in response.content
    login_page = client.get(response["Location"])
    assert f"/accounts/register/?next=/invite/{token}/".encode() in login_page.content
    logged_in = client.post(
        "/accounts/login/", {"username": "guest", "password": PASSWORD, "next": link}
    )
    assert logged_in["Location"] == link


def test_registration_keeps_the_link_to_follow(user, room):
    _invite, token = services.create_invite(user, room.pk)
    client = Client()
    link = f"/invite/{token}/"
    form = client.get(f"/accounts/register/?next={link}")
    assert f'name="next" value="{link}"'.encode() in form.content
    registered = client.post(
        "/accounts/register/",
        {
            "username": "newcomer",
            "display_name": "Newcomer",
            "password1": PASSWORD,
            "password2": PASSWORD,
            "next": link,
        },
    )
    assert registered.status_code == 302, registered.content.decode()[:2000]
    assert registered["Location"] == link
    assert client.post(link)["Location"] == f"/rooms/{room.pk}/"


def test_registration_ignores_a_next_on_another_site():
    client = Client()
    registered = client.post(
        "/accounts/register/",
        {
            "username": "newcomer",
            "display_name": "Newcomer",
            "password1": PASSWORD,
            "password2": PASSWORD,
            "next": "https://evil.example/",
        },
    )
    assert registered["Location"] == "/"


def test_the_link_page_and_its_refusal_speak_german(user, room):
    _invite, token = services.create_invite(user, room.pk)
    guest = signed_in(UserFactory(username="guest"))
    page = guest.get(f"/invite/{token}/", HTTP_ACCEPT_LANGUAGE="de")
    assert "#hideout beitreten?" in page.content.decode()
    dead = guest.get(f"/invite/{'q' * 32}/", HTTP_ACCEPT_LANGUAGE="de")
    assert "Dieser Einladungslink ist nicht gültig." in dead.content.decode()
