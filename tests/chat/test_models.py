import re

import pytest
from django.db import IntegrityError, connection, transaction

from chat.models import CHANGED, Message, Room, direct_key, room_name_key
from tests.factories import RoomFactory


def test_room_name_key_ignores_case_and_width():
    assert room_name_key("Straße") == room_name_key("STRASSE")
    assert room_name_key("Ｌｏｂｂｙ") == room_name_key("lobby")


def test_direct_key_is_the_same_for_both_orders():
    assert direct_key(7, 3) == direct_key(3, 7) == "3:7"


@pytest.mark.django_db
def test_database_refuses_two_public_rooms_with_the_same_name_key():
    RoomFactory(name="Lobby")
    with pytest.raises(IntegrityError):
        RoomFactory(name="LOBBY")


@pytest.mark.django_db
def test_database_takes_private_rooms_with_any_name():
    RoomFactory(name="Lobby")
    RoomFactory(name="lobby", kind="private")
    RoomFactory(name="LOBBY", kind="private")
    assert Room.objects.filter(name_key="lobby").count() == 3


@pytest.mark.django_db
def test_database_refuses_a_direct_room_without_its_pair_key():
    with pytest.raises(IntegrityError):
        Room.objects.create(kind=Room.Kind.DIRECT)


def _plan(queryset) -> str:
    """The database's plan for the queryset; on PostgreSQL with sequential scans priced
    out, so an index the query may use shows even on a table of a few rows."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL enable_seqscan = off")
        return queryset.explain()


PARTIAL_INDEX_LOOKUPS = {
    "message_room_changed": lambda: (
        Message.objects.filter(room_id=1).filter(CHANGED, rev__gt=3).order_by("rev")
    ),
    "message_reply_to": lambda: Message.objects.filter(reply_to_id=5),
    "message_thread_seq": lambda: Message.objects.filter(thread_root_id=5).order_by("seq"),
}


@pytest.mark.django_db
@pytest.mark.parametrize("index", sorted(PARTIAL_INDEX_LOOKUPS))
def test_each_partial_message_index_serves_its_lookup(index):
    assert re.search(rf"\b{index}\b", _plan(PARTIAL_INDEX_LOOKUPS[index]()))


@pytest.mark.django_db
@pytest.mark.parametrize("column", ["room_id", "author_id"])
def test_a_lookup_by_a_column_with_no_index_of_its_own_still_uses_one(column):
    plan = _plan(Message.objects.filter(**{column: 1}))
    assert ("Seq Scan" not in plan) if connection.vendor == "postgresql" else ("SEARCH" in plan)


@pytest.mark.django_db
def test_no_message_index_repeats_the_leading_columns_of_another():
    """Every index of the message table is written by every send: a plain index whose
    columns lead another index is only a cost."""
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, Message._meta.db_table)
    indexes = {
        name: tuple(c["columns"])
        for name, c in found.items()
        if (c["index"] or c["unique"])
        and not (c["primary_key"] or c["foreign_key"] or c["check"])
        and c["columns"]
        and all(c["columns"])  # an expression index has no column names
    }
    repeated = [
        (name, other)
        for name, columns in indexes.items()
        if not found[name]["unique"]
        for other, longer in indexes.items()
        if other != name and longer[: len(columns)] == columns
    ]
    assert len(indexes) >= 5
    assert repeated == []
