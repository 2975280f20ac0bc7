"""Notification settings (chat.services.notifications): a member's level per room and
the user's default, kept on the server and heard by every tab; over HTTP too."""

import pytest

from chat import queries, services
from chat.models import Membership
from tests.factories import RoomFactory, UserFactory, direct_room
from tests.support import refused

pytestmark = pytest.mark.django_db


@pytest.fixture
def room(user, other_user):
    return RoomFactory(name="general", kind="private", members=[user, other_user])


def levels(user, room_id: int) -> tuple[str, str]:
    listed = queries.room_for_user(user, room_id)
    return listed["notify"], listed["notify_default"]


class TestRoomLevel:
    def test_a_member_starts_at_default_which_is_mentions_in_a_group_room_and_all_in_a_dm(
        self, user, other_user, room
    ):
        assert levels(user, room.pk) == ("default", "mentions")
        assert levels(user, direct_room(user, other_user).pk) == ("default", "all")

    def test_a_member_sets_a_level_and_every_tab_of_theirs_hears_it(
        self, user, room, published, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            assert services.set_room_notify(user, room.pk, "nothing") == "nothing"
        assert Membership.objects.get(room=room, user=user).notify == "nothing"
        [(to, target, frame, _room)] = published
        assert (to, target, frame["type"], frame["room"]["id"]) == (
            "user",
            user.pk,
            "room",
            room.pk,
        )
        assert (frame["room"]["notify"], frame["room"]["notify_default"]) == (
            "nothing",
            "mentions",
        )

    def test_each_level_is_taken_and_anything_else_refused(self, user, room):
        for level in ("all", "mentions", "nothing", "default"):
            services.set_room_notify(user, room.pk, level)
            assert levels(user, room.pk)[0] == level
        for bad in ("everything", "", None, True, ["all"]):
            refused("bad_request", services.set_room_notify, user, room.pk, bad)
        assert levels(user, room.pk)[0] == "default"

    def test_the_level_is_the_members_own(self, user, other_user, room):
        services.set_room_notify(user, room.pk, "all")
        assert levels(other_user, room.pk)[0] == "default"

    def test_a_room_you_cannot_see_is_not_found(self, room):
        refused("not_found", services.set_room_notify, UserFactory(), room.pk, "all")

    def test_a_public_room_you_only_preview_cannot_be_set(self, user):
        lobby = RoomFactory(name="lobby")
        refused("forbidden", services.set_room_notify, user, lobby.pk, "all")
        assert levels(user, lobby.pk) == ("default", "mentions")

    def test_the_membership_endpoint_sets_the_level(self, client, user, room):
        client.force_login(user)
        url = f"/api/rooms/{room.pk}/membership"
        answer = client.patch(url, {"notify": "all"}, content_type="application/json")
        assert answer.status_code == 200
        assert (answer.json()["notify"], answer.json()["notify_default"]) == ("all", "mentions")
        bad = client.patch(url, {"notify": "loud"}, content_type="application/json")
        assert bad.status_code == 400
        assert bad.json()["error"]["code"] == "bad_request"
        assert client.patch(url, {}, content_type="application/json").status_code == 400
        assert Membership.objects.get(room=room, user=user).notify == "all"


class TestDefault:
    def test_the_default_changes_what_default_rooms_notify_and_leaves_chosen_ones(
        self, user, other_user, room
    ):
        dm = direct_room(user, other_user)
        chosen = RoomFactory(name="chosen", members=[user])
        services.set_room_notify(user, chosen.pk, "mentions")
        services.set_notify_default(user, "all")
        assert levels(user, room.pk) == ("default", "all")
        assert levels(user, chosen.pk) == ("mentions", "all")
        services.set_notify_default(user, "nothing")
        # A direct message counts as a mention, so only "nothing" silences it by default.
        assert levels(user, dm.pk) == ("default", "nothing")
        assert levels(user, room.pk) == ("default", "nothing")
        services.set_notify_default(user, "mentions")
        assert levels(user, dm.pk) == ("default", "all")

    def test_every_tab_gets_every_room_again_with_the_new_default(
        self, user, other_user, room, published, django_capture_on_commit_callbacks
    ):
        dm = direct_room(user, other_user)
        with django_capture_on_commit_callbacks(execute=True):
            services.set_notify_default(user, "nothing")
        assert sorted((p.to, p.target, p.frame["room"]["id"]) for p in published) == sorted(
            [("user", user.pk, room.pk), ("user", user.pk, dm.pk)]
        )
        assert {p.frame["room"]["notify_default"] for p in published} == {"nothing"}

    def test_a_stale_user_object_still_reads_the_stored_default(self, user, room):
        # A socket holds the user read at its handshake; its rooms must follow a change
        # made elsewhere since.
        stale = type(user).objects.get(pk=user.pk)
        services.set_notify_default(user, "all")
        assert stale.notify_default == "mentions"
        assert queries.room_for_user(stale, room.pk)["notify_default"] == "all"
        assert [r["notify_default"] for r in queries.rooms_for_user(stale)] == ["all"]

    def test_an_unknown_level_is_refused(self, user):
        for bad in ("default", "loud", None):
            refused("bad_request", services.set_notify_default, user, bad)
        user.refresh_from_db()
        assert user.notify_default == "mentions"
