"""Group rooms: rename, topic and roles (chat.services), over HTTP too."""

import pytest

from chat import services
from chat.models import Membership, Message, Room
from tests.factories import RoomFactory, UserFactory, direct_room, send
from tests.support import Published, refused

pytestmark = pytest.mark.django_db


@pytest.fixture
def room(user, other_user):
    return RoomFactory(name="general", kind="private", members=[user, other_user])


def test_an_owner_renames_and_sets_the_topic_and_members_hear_it(
    user, room, published, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.update_room(user, room.pk, name="Team Room", topic="  ship  it ")
    room.refresh_from_db()
    assert (room.name, room.topic) == ("Team Room", "ship it")
    assert published == [
        Published(
            "room",
            room.pk,
            {"type": "room.updated", "room": room.pk, "name": "Team Room", "topic": "ship it"},
        )
    ]


def test_a_plain_member_cannot_rename_and_nothing_changes(other_user, room):
    refused("forbidden", services.update_room, other_user, room.pk, name="mine")
    assert Room.objects.get(pk=room.pk).name == "general"


def test_a_name_taken_by_another_room_is_refused(user, room):
    RoomFactory(name="Lobby")
    refused("bad_request", services.update_room, user, room.pk, name="lobby")
    assert Room.objects.get(pk=room.pk).name == "general"


@pytest.mark.parametrize("topic", ["x" * 251, "bell\x07", 5])
def test_a_bad_topic_is_refused(user, room, topic):
    refused("bad_request", services.update_room, user, room.pk, topic=topic)


def test_a_direct_room_cannot_be_renamed(user, other_user):
    dm = direct_room(user, other_user)
    refused("forbidden", services.update_room, user, dm.pk, topic="x")


def test_a_room_you_cannot_see_is_not_found(room):
    refused("not_found", services.update_room, UserFactory(), room.pk, topic="x")


def test_an_owner_makes_a_member_admin_who_then_may_manage(user, other_user, room):
    services.set_role(user, room.pk, "bob", "admin")
    assert Membership.objects.get(room=room, user=other_user).role == "admin"
    services.update_room(other_user, room.pk, topic="by bob")


def test_an_admin_cannot_change_roles(user, other_user, room):
    services.set_role(user, room.pk, "bob", "admin")
    refused("forbidden", services.set_role, other_user, room.pk, "alice", "member")


def test_the_last_owner_cannot_step_down(user, room):
    refused("bad_request", services.set_role, user, room.pk, "alice", "member")
    assert Membership.objects.get(room=room, user=user).role == "owner"


def test_an_unknown_role_is_refused(user, room):
    refused("bad_request", services.set_role, user, room.pk, "bob", "king")


def test_the_room_and_member_endpoints_rename_and_set_roles(client, user, other_user, room):
    client.force_login(user)
    renamed = client.patch(
        f"/api/rooms/{room.pk}/", {"topic": "hello"}, content_type="application/json"
    )
    assert (renamed.status_code, renamed.json()["topic"]) == (200, "hello")
    role = client.patch(
        f"/api/rooms/{room.pk}/members/bob", {"role": "admin"}, content_type="application/json"
    )
    assert role.json() == {"username": "bob", "role": "admin"}


class TestBlocking:
    def test_a_blocked_user_cannot_open_a_dm_with_the_blocker(self, user, other_user):
        services.block_user(user, "bob")
        refused("forbidden", services.open_direct, other_user, "alice")
        assert not Room.objects.filter(kind="direct").exists()

    def test_a_blocked_user_cannot_write_in_an_existing_dm_and_nothing_is_stored(
        self, user, other_user
    ):
        dm = direct_room(user, other_user)
        services.block_user(user, "bob")
        refused("forbidden", send, other_user, dm)
        assert not Message.objects.exists()
        assert Room.objects.get(pk=dm.pk).last_seq == 0  # the seq was given back

    def test_the_blocker_still_writes_and_unblocking_lets_the_other_write_again(
        self, user, other_user
    ):
        dm = direct_room(user, other_user)
        services.block_user(user, "bob")
        send(user, dm, "I can still talk")
        services.unblock_user(user, "bob")
        assert send(other_user, dm, "me too").seq == 2

    def test_a_blocked_user_cannot_react_type_or_edit_in_the_blockers_dm_and_nothing_is_heard(
        self, user, other_user, published, fresh_cache, django_capture_on_commit_callbacks
    ):
        dm = direct_room(user, other_user)
        theirs, mine = send(other_user, dm, "before"), send(user, dm, "hello")
        services.block_user(user, "bob")
        published.clear()
        with django_capture_on_commit_callbacks(execute=True):
            refused("forbidden", services.react, other_user, mine.pk, "👍", on=True)
            refused("forbidden", services.react, other_user, theirs.pk, "👍", on=True)
            refused("forbidden", services.typing, other_user, dm.pk)
            refused("forbidden", services.edit_message, other_user, theirs.pk, "after")
            services.mark_read(other_user, dm.pk, 2)
        assert Message.objects.get(pk=theirs.pk).body == "before"
        assert not mine.reactions.exists() and not theirs.reactions.exists()
        assert [p for p in published if p.target == user.pk or p.to == "room"] == []

    def test_a_blocked_user_may_still_delete_their_own_message(self, user, other_user):
        dm = direct_room(user, other_user)
        theirs = send(other_user, dm, "regret")
        services.block_user(user, "bob")
        services.delete_message(other_user, theirs.pk)
        assert Message.objects.get(pk=theirs.pk).deleted_at is not None

    def test_blocking_does_not_silence_anyone_in_group_rooms(self, user, other_user, room):
        services.block_user(user, "bob")
        assert send(other_user, room).seq == 1

    def test_blocking_yourself_or_nobody_is_refused(self, user):
        refused("bad_request", services.block_user, user, "alice")
        refused("not_found", services.block_user, user, "nobody")

    def test_the_blocks_endpoint_lists_adds_and_removes(self, client, user, other_user):
        client.force_login(user)
        added = client.post("/api/blocks/", {"username": "bob"}, content_type="application/json")
        assert added.json() == {"blocked": ["bob"]}
        assert client.delete("/api/blocks/bob").json() == {"blocked": []}
