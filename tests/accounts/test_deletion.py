"""Deleting one's account: the password is asked, the person leaves every room through
chat.services (members are told), messages stay as by "Deleted user"."""

from pathlib import Path

import pytest
from django.contrib.admin.sites import site
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from chat import queries
from chat.models import Membership, Message
from tests.accounts.test_views import png_bytes
from tests.factories import PASSWORD, RoomFactory, direct_room, send

pytestmark = pytest.mark.django_db

User = get_user_model()


@pytest.fixture
def room(user, other_user):
    return RoomFactory(name="general", members=[user, other_user])


def test_the_page_needs_a_login(client):
    assert client.get(reverse("delete_account")).url.startswith(reverse("login"))


def test_a_wrong_password_deletes_nothing(client, user):
    client.force_login(user)
    response = client.post(reverse("delete_account"), {"password": "wrong"})
    assert response.status_code == 200
    assert response.context["form"].errors.as_data()["password"][0].code == "wrong_password"
    assert User.objects.filter(pk=user.pk).exists()


def test_wrong_passwords_count_as_failed_logins(client, user, settings, fresh_cache):
    settings.PARLEY_LIMITS = {**settings.PARLEY_LIMITS, "login_account": (2, 900)}
    client.force_login(user)
    for _ in range(2):
        client.post(reverse("delete_account"), {"password": "wrong"})
    response = client.post(reverse("delete_account"), {"password": PASSWORD})
    assert response.context["form"].errors.as_data()["password"][0].code == "throttled"
    assert User.objects.filter(pk=user.pk).exists()


def test_the_account_goes_its_messages_stay_and_the_rooms_hear_it(
    client, user, other_user, room, published, django_capture_on_commit_callbacks
):
    message = send(user, room, "I was here")
    dm = direct_room(user, other_user)
    client.force_login(user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("delete_account"), {"password": PASSWORD})
    assert response.url == reverse("login")
    assert not User.objects.filter(username="alice").exists()
    assert not Membership.objects.filter(room__in=[room, dm], user_id=user.pk).exists()
    stored = Message.objects.get(pk=message.pk)
    assert (stored.body, stored.author_id, stored.seq) == ("I was here", None, 1)
    [shown] = queries.message_page(other_user, room.pk)["messages"]
    assert shown["author"] == {
        "id": None,
        "username": "",
        "display_name": "Deleted user",
        "avatar": None,
        "is_bot": False,
    }
    told = {p.target for p in published if p.to == "room" and p.frame["type"] == "member"}
    assert told == {room.pk, dm.pk}
    assert {p.room for p in published if p.to == "revoke"} == {room.pk, dm.pk}
    # The session is over; the other person's direct room is with "Deleted user".
    assert client.get(reverse("home")).status_code == 302
    assert queries.room_for_user(other_user, dm.pk)["name"] == "Deleted user"


def test_the_avatar_file_goes_too(
    client, user, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.MEDIA_ROOT = tmp_path
    client.force_login(user)
    avatar = SimpleUploadedFile("a.png", png_bytes(), content_type="image/png")
    client.post(reverse("profile"), {"display_name": "Alice", "bio": "", "avatar": avatar})
    user.refresh_from_db()
    path = Path(user.avatar.path)
    assert path.exists()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("delete_account"), {"password": PASSWORD})
    assert not path.exists()


def test_staff_deleting_an_account_do_what_the_person_would(user, other_user, room):
    send(user, room, "kept")
    admin = site._registry[User]
    admin.delete_model(None, user)
    admin.delete_queryset(None, User.objects.filter(pk=other_user.pk))
    assert not Membership.objects.filter(room=room).exists()
    assert list(Message.objects.values_list("body", "author")) == [("kept", None)]
