"""The notification settings page: the user's default level, kept on the server."""

import pytest
from django.urls import reverse

from chat import queries
from tests.factories import RoomFactory

pytestmark = pytest.mark.django_db
URL = "/accounts/notifications/"


def test_the_page_needs_a_login(client):
    assert client.get(URL).status_code == 302


def test_the_page_shows_the_default_chosen_and_every_level(client, user):
    client.force_login(user)
    page = client.get(URL)
    assert page.status_code == 200
    assert page.context["form"]["notify_default"].value() == "mentions"
    html = page.content.decode()
    for level in ("all", "mentions", "nothing"):
        assert f'value="{level}"' in html
    assert 'id="notify-enable"' in html


def test_saving_a_level_keeps_it_and_tells_every_tab(
    client, user, published, django_capture_on_commit_callbacks
):
    room = RoomFactory(name="general", members=[user])
    client.force_login(user)
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(URL, {"notify_default": "all"}, follow=True)
    assert answer.redirect_chain == [(reverse("notification_settings"), 302)]
    assert "Your notification settings were saved." in answer.content.decode()
    user.refresh_from_db()
    assert user.notify_default == "all"
    assert queries.room_for_user(user, room.pk)["notify_default"] == "all"
    assert [p.brief for p in published] == [("user", user.pk, "room")]


def test_an_unknown_level_is_refused_and_nothing_changes(client, user):
    client.force_login(user)
    answer = client.post(URL, {"notify_default": "default"})
    assert answer.status_code == 200
    assert answer.context["form"].errors["notify_default"]
    user.refresh_from_db()
    assert user.notify_default == "mentions"


def test_a_spent_budget_is_said_on_the_page(client, user, settings, fresh_cache):
    # fresh_cache: with Redis, budgets outlive the test database and its user ids.
    settings.PARLEY_LIMITS = {**settings.PARLEY_LIMITS, "room_change": (1, 3600)}
    client.force_login(user)
    assert client.post(URL, {"notify_default": "all"}).status_code == 302
    answer = client.post(URL, {"notify_default": "nothing"})
    assert answer.status_code == 200
    assert answer.context["form"].non_field_errors()
    user.refresh_from_db()
    assert user.notify_default == "all"


def test_the_profile_page_links_to_it(client, user):
    client.force_login(user)
    assert f'href="{URL}"' in client.get(reverse("profile")).content.decode()
