import pytest

from chat import queries, services
from tests.factories import RoomFactory, UserFactory, direct_room, send

pytestmark = pytest.mark.django_db


def test_rooms_are_listed_most_recently_active_first(user):
    quiet = RoomFactory(name="quiet", members=[user])
    busy = RoomFactory(name="busy", members=[user])
    send(user, quiet)
    send(user, busy)
    assert [r["name"] for r in queries.rooms_for_user(user)] == ["busy", "quiet"]


def test_rooms_without_messages_come_after_active_ones_on_every_database(user):
    RoomFactory(name="empty", members=[user])
    active = RoomFactory(name="active", members=[user])
    send(user, active)
    assert [r["name"] for r in queries.rooms_for_user(user)] == ["active", "empty"]


def test_unread_counts_only_others_messages_after_the_read_pointer(user, other_user):
    room = RoomFactory(members=[user, other_user])
    for _ in range(3):
        send(other_user, room)
    send(user, room)
    services.mark_read(user, room.pk, 1)
    [listed] = queries.rooms_for_user(user)
    assert (listed["last_seq"], listed["last_read_seq"], listed["unread"]) == (4, 1, 2)
    assert queries.room_for_user(user, room.pk)["unread"] == 2


def test_rooms_for_user_costs_a_fixed_number_of_queries(user, django_assert_max_num_queries):
    for n in range(5):
        other = UserFactory(username=f"peer{n}")
        dm = direct_room(user, other)
        services.pin_message(user, dm.pk, send(other, dm).pk, on=True)
        group = RoomFactory(members=[user])
        services.pin_message(user, group.pk, send(user, group).pk, on=True)
    # memberships with counts, direct peers, pins, last messages, their reactions,
    # mentions and attachments
    with django_assert_max_num_queries(7):
        rooms = queries.rooms_for_user(user, with_last_message=True)
    assert len(rooms) == 10
    assert all(r["last_message"] for r in rooms)
    assert all(len(r["pins"]) == 1 for r in rooms)


def test_public_rooms_lists_only_rooms_not_joined(user, other_user):
    RoomFactory(name="joined", members=[user])
    RoomFactory(name="open", members=[other_user])
    assert [r.name for r in queries.public_rooms(user)] == ["open"]


def test_direct_room_id_finds_the_pairs_room(user, other_user):
    assert queries.direct_room_id(user, other_user) is None
    room = direct_room(user, other_user)
    assert queries.direct_room_id(other_user, user) == room.pk


@pytest.mark.parametrize("length", [3, 60])
def test_a_history_page_costs_six_queries_however_long_the_room(
    user, length, django_assert_num_queries
):
    room = RoomFactory(members=[user])
    for n in range(length):
        send(user, room, f"m{n}")
    # The room, the caller's membership and the page, then one query each for the
    # page's reactions, mentions and attachments: never one per message.
    with django_assert_num_queries(6):
        page = queries.message_page(user, room.pk, limit=50)
    assert len(page["messages"]) == min(length, 50)


def test_presence_peers_cost_two_queries_however_many_rooms(user, django_assert_num_queries):
    """One for the members of the user's rooms, one for the other person of each direct
    room the user opened that nobody wrote in yet (not a member until then)."""
    for _ in range(5):
        RoomFactory(members=[user, UserFactory()])
    for _ in range(3):
        services.open_direct(user, UserFactory().username)
    with django_assert_num_queries(2):
        peers = queries.presence_peers(user.pk)
    assert len(peers) == 8
