"""A person leaving for good (services.remove_person): reactions taken back, every room
left, each room keeping an owner, and everyone concerned told."""

import pytest

from chat import services
from chat.models import Membership, Message, Reaction, Room
from tests.factories import RoomFactory, UserFactory, direct_room, send

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(user, other_user):
    """Alice owns #general (Bob in it, an admin Carol too) and #alone, has a DM with Bob,
    wrote in #general and reacted twice to a message of Bob's."""
    carol = UserFactory(username="carol")
    general = RoomFactory(name="general", members=[user, other_user, carol])
    Membership.objects.filter(room=general, user=carol).update(role=Membership.Role.ADMIN)
    alone = RoomFactory(name="alone", kind=Room.Kind.PRIVATE, members=[user])
    dm = direct_room(user, other_user)
    send(user, general, "hello from alice")
    bobs = send(other_user, general, "hello from bob")
    for emoji in ("👍", "🎉"):
        Reaction.objects.create(message=bobs, user=user, emoji=emoji)
    Reaction.objects.create(message=bobs, user=other_user, emoji="👍")
    return {"general": general, "alone": alone, "dm": dm, "bobs": bobs, "carol": carol}


def test_every_room_is_left_and_ownership_passes_on(user, other_user, world):
    services.remove_person(user)
    assert not Membership.objects.filter(user=user).exists()
    general = Membership.objects.filter(room=world["general"])
    assert dict(general.values_list("user__username", "role")) == {
        "bob": "member",
        "carol": "owner",  # an admin inherits before an older member
    }
    assert Room.objects.filter(pk=world["alone"].pk).exists()  # left empty, as on leaving
    assert list(Membership.objects.filter(room=world["dm"]).values_list("user", flat=True)) == [
        other_user.pk
    ]


def test_members_and_the_persons_own_sockets_are_told(
    user, world, published, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.remove_person(user)
    rooms = {world[name].pk for name in ("general", "alone", "dm")}
    revoked = {p.room for p in published if p.to == "revoke" and p.target == user.pk}
    assert revoked == rooms
    assert all(p.frame["type"] == "room.removed" for p in published if p.to == "revoke")
    left = {
        p.target
        for p in published
        if p.to == "room" and p.frame["type"] == "member" and p.frame["role"] is None
    }
    assert left == rooms
    taken_back = [
        (p.frame["emoji"], p.frame["on"], p.frame["user"])
        for p in published
        if p.frame["type"] == "reaction"
    ]
    assert sorted(taken_back) == [("🎉", False, user.pk), ("👍", False, user.pk)]
    heir = [p.frame for p in published if p.to == "room" and p.frame.get("role") == "owner"]
    assert [frame["user"]["username"] for frame in heir] == ["carol"]


def test_reactions_go_under_a_new_revision_and_messages_stay(user, other_user, world):
    before = Room.objects.get(pk=world["general"].pk).last_rev
    services.remove_person(user)
    assert list(Reaction.objects.values_list("user__username", "emoji")) == [("bob", "👍")]
    bobs = Message.objects.get(pk=world["bobs"].pk)
    assert bobs.rev == before + 1 == Room.objects.get(pk=world["general"].pk).last_rev
    assert Message.objects.filter(author=user).count() == 1


def test_someone_in_no_room_is_removed_quietly(published, django_capture_on_commit_callbacks):
    loner = UserFactory(username="loner")
    with django_capture_on_commit_callbacks(execute=True):
        services.remove_person(loner)
    assert published == []
