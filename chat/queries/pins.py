"""Read side: a room's pinned messages, as its header lists them."""

from django.contrib.auth.base_user import AbstractBaseUser

from ..access import room_for_reader
from ..models import Pin
from ..protocol.frames import pin_dict


def _pins():
    return Pin.objects.select_related("message__author", "pinned_by").order_by("-pinned_at", "-pk")


def room_pins(room_id: int) -> list[dict]:
    """The room's pins, newest first (at most MAX_PINS: the service keeps it so)."""
    return [pin_dict(pin) for pin in _pins().filter(room_id=room_id)]


def pins_by_room(user: AbstractBaseUser) -> dict[int, list[dict]]:
    """The pins of every room the user is in, in one query: room id -> pins, newest first."""
    by_room: dict[int, list[dict]] = {}
    for pin in _pins().filter(room__memberships__user=user):
        by_room.setdefault(pin.room_id, []).append(pin_dict(pin))
    return by_room


def pins_for_reader(user: AbstractBaseUser, room_id: int) -> list[dict]:
    """The room's pins, if the caller may read the room (else RoomNotFound)."""
    room, _membership = room_for_reader(user, room_id)
    return room_pins(room.pk)
