import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chat import services
from chat.errors import ChatError
from chat.queries import search_messages
from tests.factories import RoomFactory, UserFactory, send

pytestmark = pytest.mark.django_db


def found(user, text, **kwargs) -> list[str]:
    return [m["body"] for m in search_messages(user, text, **kwargs)["results"]]


def test_search_finds_matching_messages_in_your_rooms_newest_first(user):
    room = RoomFactory(members=[user])
    send(user, room, "the deploy failed")
    send(user, room, "lunch at noon")
    send(user, room, "deploy fixed now")
    assert found(user, "deploy") == ["deploy fixed now", "the deploy failed"]


def test_every_word_must_match(user):
    room = RoomFactory(members=[user])
    send(user, room, "deploy failed")
    send(user, room, "deploy fixed")
    assert found(user, "deploy fixed") == ["deploy fixed"]


def test_search_never_reaches_a_room_you_cannot_read(user):
    outsider_room = RoomFactory(kind="private", members=[UserFactory()])
    send(outsider_room.memberships.get().user, outsider_room, "secret deploy plan")
    assert found(user, "deploy") == []
    with pytest.raises(ChatError) as caught:
        search_messages(user, "deploy", room_id=outsider_room.pk)
    assert caught.value.code == "not_found"


def test_a_public_room_can_be_searched_before_joining(user):
    public = RoomFactory(members=[UserFactory()])
    send(public.memberships.get().user, public, "open deploy notes")
    assert found(user, "deploy") == []  # not one of your rooms
    assert found(user, "deploy", room_id=public.pk) == ["open deploy notes"]


def test_deleted_messages_are_not_found(user):
    room = RoomFactory(members=[user])
    message = send(user, room, "deploy oops")
    services.delete_message(user, message.pk)
    assert found(user, "deploy") == []


def test_results_page_on_by_the_last_id(user):
    room = RoomFactory(members=[user])
    ids = [send(user, room, f"deploy {n}").pk for n in range(5)]
    first = search_messages(user, "deploy", limit=2)
    assert [m["id"] for m in first["results"]] == [ids[4], ids[3]]
    assert first["has_more"] is True
    rest = search_messages(user, "deploy", before=ids[3], limit=10)
    assert [m["id"] for m in rest["results"]] == [ids[2], ids[1], ids[0]]
    assert rest["has_more"] is False


@pytest.mark.parametrize("text", ["", "   ", "x" * 201])
def test_an_empty_or_huge_search_is_a_bad_request(user, text):
    with pytest.raises(ChatError) as caught:
        search_messages(user, text)
    assert caught.value.code == "bad_request"


def test_the_search_endpoint_answers_json(client, user):
    room = RoomFactory(members=[user])
    send(user, room, "deploy done")
    client.force_login(user)
    response = client.get("/api/search", {"q": "deploy"})
    assert response.status_code == 200
    assert [m["body"] for m in response.json()["results"]] == ["deploy done"]
    assert client.get("/api/search", {"q": "deploy", "limit": "51"}).status_code == 400


@pytest.mark.parametrize("text", ["\x00", "a\x00", "%00\x00", "\x1b[0m", "\ud800"])
def test_control_characters_in_a_search_are_a_bad_request(user, text):
    room = RoomFactory(members=[user])
    send(user, room, "anything at all")
    with pytest.raises(ChatError) as refused:
        search_messages(user, text)
    assert refused.value.code == "bad_request"


def test_a_search_in_one_room_reads_it_newest_first_without_sorting_it(user):
    """The room's (room, seq) index hands its matches out newest first, so the search
    stops at the page's last one rather than sorting every match in the room."""
    room = RoomFactory(members=[user])
    for n in range(3):
        send(user, room, f"deploy {n}")
    with CaptureQueriesContext(connection) as queries:
        assert found(user, "deploy", room_id=room.pk, limit=2) == ["deploy 2", "deploy 1"]
    if connection.vendor == "sqlite":  # PostgreSQL's plan depends on the table's statistics
        [search] = [q["sql"] for q in queries.captured_queries if " LIKE " in q["sql"]]
        with connection.cursor() as cursor:
            plan = str(cursor.execute(f"EXPLAIN QUERY PLAN {search}").fetchall())
        assert "sqlite_autoindex_chat_message_1" in plan  # the (room, seq) constraint
        assert "TEMP B-TREE" not in plan
