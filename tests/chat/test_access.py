import pytest

from chat.access import room_for_manager, room_for_poster, room_for_reader
from chat.errors import ChatError
from chat.models import Membership, Room
from tests.factories import RoomFactory, UserFactory, direct_room

pytestmark = pytest.mark.django_db


def refusal(check, user, room_id) -> str:
    with pytest.raises(ChatError) as caught:
        check(user, room_id)
    return caught.value.code


def test_member_may_read_post_in_their_private_room(user):
    room = RoomFactory(kind=Room.Kind.PRIVATE, members=[user])
    assert room_for_reader(user, room.pk)[0] == room
    assert room_for_poster(user, room.pk)[1].user == user


def test_outsider_gets_not_found_for_private_and_direct_rooms(user, other_user):
    carol = UserFactory(username="carol")
    private = RoomFactory(kind=Room.Kind.PRIVATE, members=[other_user])
    dm = direct_room(other_user, carol)
    for room in (private, dm):
        for check in (room_for_reader, room_for_poster, room_for_manager):
            assert refusal(check, user, room.pk) == "not_found"


def test_public_room_is_readable_but_not_postable_before_joining(user, other_user):
    room = RoomFactory(members=[other_user])
    room_obj, membership = room_for_reader(user, room.pk)
    assert (room_obj, membership) == (room, None)
    assert refusal(room_for_poster, user, room.pk) == "forbidden"


def test_missing_room_and_anonymous_user_get_not_found(user):
    from django.contrib.auth.models import AnonymousUser

    room = RoomFactory(members=[user])
    assert refusal(room_for_reader, user, 424242) == "not_found"
    assert refusal(room_for_reader, AnonymousUser(), room.pk) == "not_found"


@pytest.mark.parametrize(("role", "allowed"), [("owner", True), ("admin", True), ("member", False)])
def test_only_owners_and_admins_manage_a_group_room(user, role, allowed):
    room = RoomFactory(kind=Room.Kind.PRIVATE, members=[user])
    Membership.objects.filter(user=user).update(role=role)
    if allowed:
        assert room_for_manager(user, room.pk)[0] == room
    else:
        assert refusal(room_for_manager, user, room.pk) == "forbidden"


def test_nobody_manages_a_direct_room(user, other_user):
    dm = direct_room(user, other_user)
    Membership.objects.filter(user=user).update(role="owner")
    assert refusal(room_for_manager, user, dm.pk) == "forbidden"
