"""People: a person's card (GET /api/people/<username>) and the people directory (/people/)."""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from chat import services
from chat.models import Block
from chat.protocol.schema import check_shape
from chat.queries.people import MAX_PEOPLE_QUERY, PEOPLE_PAGE
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(user):
    client = Client()
    client.force_login(user)
    return client


def card(client, username: str) -> dict:
    response = client.get(f"/api/people/{username}")
    assert response.status_code == 200, response.content
    return check_shape("Person", response.json())


def usernames(response) -> list[str]:
    return [person.username for person in response.context["people"]]


class TestCard:
    def test_shows_bio_time_zone_and_the_way_to_a_conversation(self, api, other_user):
        other_user.bio = "Tea, maps and <b>bold</b> claims."
        other_user.time_zone = "Asia/Tokyo"
        other_user.save()
        person = card(api, "bob")
        assert person["user"] == {
            "id": other_user.pk,
            "username": "bob",
            "display_name": "Bob",
            "avatar": None,
            "is_bot": False,
        }
        assert (
            person["bio"] == "Tea, maps and <b>bold</b> claims."
        )  # text: the client shows it as text
        assert person["time_zone"] == "Asia/Tokyo"
        assert (person["me"], person["blocked"], person["can_message"]) == (False, False, True)
        assert person["dm_url"] == "/dm/bob/"

    def test_without_a_time_zone_or_bio(self, api, other_user):
        person = card(api, "bob")
        assert (person["bio"], person["time_zone"]) == ("", None)

    def test_ones_own_card_offers_no_conversation(self, api, user):
        person = card(api, "alice")
        assert (person["me"], person["can_message"], person["dm_url"]) == (True, False, None)

    def test_someone_who_blocks_the_viewer_is_shown_but_cannot_be_messaged(
        self, api, user, other_user
    ):
        services.block_user(other_user, "alice")
        person = card(api, "bob")
        assert (person["blocked"], person["can_message"], person["dm_url"]) == (False, False, None)
        # As opening the conversation says: the card promises nothing the server refuses.
        refused = api.post(
            "/api/rooms/direct/", {"username": "bob"}, content_type="application/json"
        )
        assert refused.status_code == 403

    def test_someone_the_viewer_blocks_can_still_be_messaged_and_says_so(self, api, other_user):
        services.block_user(api_user(api), "bob")
        person = card(api, "bob")
        assert (person["blocked"], person["can_message"]) == (True, True)
        assert Block.objects.count() == 1

    @pytest.mark.parametrize("username", ["nobody", "x" * 151])
    def test_an_unknown_person_is_not_found(self, api, username):
        response = api.get(f"/api/people/{username}")
        assert response.status_code == 404
        assert response.json()["error"] == {"code": "not_found", "detail": "No such person."}

    def test_a_deactivated_account_is_not_found_like_an_unknown_one(self, api, other_user):
        other_user.is_active = False
        other_user.save()
        response = api.get("/api/people/bob")
        assert response.status_code == 404
        assert response.json() == api.get("/api/people/nobody").json()

    def test_signed_out_callers_get_unauthorized(self, client, other_user):
        response = client.get("/api/people/bob")
        assert response.status_code == 401

    def test_only_get(self, api, other_user):
        response = api.post("/api/people/bob", {}, content_type="application/json")
        assert response.status_code == 405
        assert response["Allow"] == "GET"

    def test_a_card_costs_a_fixed_number_of_queries(self, api, other_user):
        api.get("/api/people/bob")  # the session and user, once warm
        for blocker in UserFactory.create_batch(3):
            Block.objects.create(blocker=blocker, blocked=other_user)
        with CaptureQueriesContext(connection) as queries:
            card(api, "bob")
        # session, the viewer, the person, the blocks between them
        assert len(queries) <= 4


def api_user(client):
    return get_user_model().objects.get(pk=client.session["_auth_user_id"])


class TestDirectory:
    def test_lists_every_active_person_with_a_way_to_message_them(self, api, other_user):
        UserFactory(username="carol", is_active=False)
        response = api.get("/people/")
        assert response.status_code == 200
        assert usernames(response) == ["alice", "bob"]
        page = response.content.decode()
        assert 'href="/dm/bob/"' in page
        assert 'href="/dm/alice/"' not in page  # not oneself
        assert f'data-peer="{other_user.pk}"' in page

    def test_searches_usernames_and_display_names_in_any_case(self, api, other_user):
        UserFactory(username="carol", display_name="Caroline Bobbington")
        UserFactory(username="dave")
        assert usernames(api.get("/people/", {"q": "BOB"})) == ["bob", "carol"]
        assert usernames(api.get("/people/", {"q": "  line "})) == ["carol"]
        empty = api.get("/people/", {"q": "zebra"})
        assert usernames(empty) == []
        assert "Nobody matches this search." in empty.content.decode()

    def test_pages_by_username_with_a_capped_size(self, api):
        UserFactory.create_batch(PEOPLE_PAGE + 5)
        first = api.get("/people/")
        assert len(usernames(first)) == PEOPLE_PAGE
        after = first.context["next"]
        assert after == usernames(first)[-1]
        second = api.get("/people/", {"after": after})
        rest = usernames(second)
        assert len(rest) == 6  # alice and the batch: PEOPLE_PAGE + 6 in all
        assert rest[0] > after
        assert second.context["next"] is None
        assert 'rel="next"' in first.content.decode()
        assert 'rel="next"' not in second.content.decode()

    def test_a_page_reads_in_a_fixed_number_of_queries(self, api):
        UserFactory.create_batch(PEOPLE_PAGE * 2)
        api.get("/people/")
        with CaptureQueriesContext(connection) as few:
            api.get("/people/", {"q": "user"})
        UserFactory.create_batch(PEOPLE_PAGE)
        with CaptureQueriesContext(connection) as more:
            api.get("/people/", {"q": "user"})
        assert len(more) == len(few) <= 8

    @pytest.mark.parametrize(
        ("params", "reason"),
        [
            ({"q": "x" * (MAX_PEOPLE_QUERY + 1)}, "Search for at most 64 characters."),
            ({"after": "x" * 151}, "This is not a page of the directory."),
            ({"q": "bo\x00b"}, "This is not a page of the directory."),
        ],
    )
    def test_bad_input_is_a_clear_400_and_changes_nothing(self, api, other_user, params, reason):
        before = list(get_user_model().objects.values_list("username", "display_name"))
        response = api.get("/people/", params)
        assert response.status_code == 400
        assert reason in response.content.decode()
        assert usernames(response) == []
        assert list(get_user_model().objects.values_list("username", "display_name")) == before

    def test_needs_a_login(self, client):
        response = client.get("/people/")
        assert response.status_code == 302
        assert "/accounts/login/" in response["Location"]

    def test_linked_from_the_header_and_the_home_pages_people_card(self, api):
        page = api.get("/").content.decode()
        assert page.count('href="/people/"') == 2


class TestTimeZone:
    def profile(self, client, **changes):
        data = {"display_name": "Alice", "bio": "", "email": "", "time_zone": "", **changes}
        return client.post("/accounts/profile/", data)

    def test_a_known_zone_is_saved(self, api, user):
        response = self.profile(api, time_zone="Europe/Berlin")
        assert response.status_code == 302
        user.refresh_from_db()
        assert user.time_zone == "Europe/Berlin"

    def test_blank_is_no_zone(self, api, user):
        user.time_zone = "Europe/Berlin"
        user.save()
        assert self.profile(api, time_zone="  ").status_code == 302
        user.refresh_from_db()
        assert user.time_zone == ""

    @pytest.mark.parametrize("zone", ["Mars/Olympus", "europe/berlin", "../etc/passwd", "x" * 65])
    def test_an_unknown_zone_is_refused_and_nothing_saved(self, api, user, zone):
        response = self.profile(api, time_zone=zone, bio="changed")
        assert response.status_code == 200
        assert response.context["form"].errors["time_zone"]
        user.refresh_from_db()
        assert (user.time_zone, user.bio) == ("", "")

    def test_the_page_offers_the_zones(self, api):
        page = api.get("/accounts/profile/").content.decode()
        assert '<datalist id="time-zones">' in page
        assert '<option value="Europe/Berlin">' in page
