import pytest
from django.db import IntegrityError

from chat.models import Room, direct_key, room_name_key
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
