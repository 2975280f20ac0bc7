import uuid

import pytest
from django.db import connection, transaction
from django.db.models.signals import post_init
from django.utils import timezone

from chat.models import Message, Room
from chat.services import sql
from tests.factories import RoomFactory, UserFactory, direct_room, send

pytestmark = pytest.mark.django_db


def test_next_seq_advances_the_room_and_records_the_time(user):
    room = RoomFactory(members=[user])
    now = timezone.now()
    with transaction.atomic():
        assert sql.take_next_seq(room.pk, now) == (1, None)
        assert sql.take_next_seq(room.pk, now) == (2, None)
    room.refresh_from_db()
    assert (room.last_seq, room.last_message_at) == (2, now)


def test_next_seq_says_which_direct_room_it_is(user, other_user):
    room = direct_room(user, other_user)
    with transaction.atomic():
        assert sql.take_next_seq(room.pk, timezone.now()) == (1, room.direct_key)


def test_next_seq_of_a_missing_room_is_none():
    with transaction.atomic():
        assert sql.take_next_seq(424242, timezone.now()) is None
    assert not Room.objects.exists()


def test_sender_state_gives_the_role_and_an_earlier_send_in_any_room(user):
    room, elsewhere = RoomFactory(members=[user]), RoomFactory(members=[user])
    earlier = send(user, elsewhere)
    assert sql.sender_state(room.pk, user.pk, str(earlier.client_msg_id)) == (
        "owner",
        earlier.pk,
        False,
    )
    assert sql.sender_state(room.pk, user.pk, str(uuid.uuid4())) == ("owner", None, False)


def test_sender_state_of_a_non_member_has_no_role(user):
    room = RoomFactory(members=[UserFactory()])
    assert sql.sender_state(room.pk, user.pk, str(uuid.uuid4())) == (None, None, False)


def test_an_inserted_row_reads_back_the_same_through_the_orm(user):
    room = RoomFactory(members=[user])
    values = {
        "room_id": room.pk,
        "seq": 1,
        "author_id": user.pk,
        "body": "héllo\nthere",
        "created_at": timezone.now(),
        "client_msg_id": str(uuid.uuid4()),
        "html": "<p>héllo<br>there</p>",
        "reply_to_id": None,
    }
    pk = sql.insert_row(Message, values)
    stored = Message.objects.get(pk=pk)
    assert {name: getattr(stored, name) for name in values} == {
        **values,
        "client_msg_id": uuid.UUID(values["client_msg_id"]),
    }


def test_a_new_row_is_the_same_instance_with_or_without_init_listeners(user):
    """`new_row` builds the instance itself unless something listens for `post_init`;
    both ways give what the ORM reads back (every field, defaults included)."""
    room = RoomFactory(members=[user])
    values = {"room_id": room.pk, "author_id": user.pk, "body": "hi", "html": "<p>hi</p>"}
    now = timezone.now()
    built = sql.new_row(Message, {**values, "seq": 1, "created_at": now})
    heard = []

    def listener(instance, **kwargs) -> None:
        heard.append(instance)

    post_init.connect(listener, sender=Message)
    try:
        listened = sql.new_row(Message, {**values, "seq": 2, "created_at": now})
    finally:
        post_init.disconnect(listener, sender=Message)
    assert heard == [listened]
    fields = [f.attname for f in Message._meta.concrete_fields if f.attname not in ("id", "seq")]
    for instance in (built, listened):
        stored = Message.objects.get(pk=instance.pk)
        assert [getattr(instance, f) for f in fields] == [getattr(stored, f) for f in fields]
        assert (instance._state.adding, instance._state.db) == (False, "default")


@pytest.mark.parametrize(
    "value",
    [
        "6f1c0de9-8a3b-4c2d-9e7f-0a1b2c3d4e5f",
        "6F1C0DE9-8A3B-4C2D-9E7F-0A1B2C3D4E5F",
        "6f1c0de98a3b4c2d9e7f0a1b2c3d4e5f",
        uuid.UUID("6f1c0de9-8a3b-4c2d-9e7f-0a1b2c3d4e5f"),
    ],
)
def test_a_client_msg_id_is_stored_as_the_orm_would_store_it(value):
    """The canonical text's shortcut and every other spelling agree with Django's field."""
    field = Message._meta.get_field("client_msg_id")
    assert sql.db_value(Message, "client_msg_id", value) == field.get_db_prep_save(
        value, connection
    )
