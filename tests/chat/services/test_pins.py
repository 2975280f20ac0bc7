"""Pinned messages: who may pin, what can be pinned, the cap, what a deletion or an edit
does to a pin, and the frames members get, through the service, the API and the socket."""

import pytest
from asgiref.sync import sync_to_async
from django.test import Client

from chat import access, queries, services
from chat.models import Membership, Pin
from chat.protocol.commands import MAX_PINS
from tests.factories import RoomFactory, UserFactory, direct_room, send
from tests.support import refused
from tests.wsclient import open_tab

pytestmark = pytest.mark.django_db


@pytest.fixture
def room(user, other_user):
    """A group room: alice (`user`) owns it, bob is a member."""
    return RoomFactory(name="general", members=[user, other_user])


def pinned_ids(room) -> list[int]:
    return [pin["message"]["id"] for pin in queries.room_pins(room.pk)]


class TestWhoMayPin:
    def test_owners_and_admins_of_a_group_room_may_and_members_may_not(
        self, user, other_user, room
    ):
        message = send(other_user, room, "worth keeping")
        error = refused("forbidden", services.pin_message, other_user, room.pk, message.pk, on=True)
        assert "owners and admins" in error.detail
        services.pin_message(user, room.pk, message.pk, on=True)
        refused("forbidden", services.pin_message, other_user, room.pk, message.pk, on=False)
        services.set_role(user, room.pk, "bob", "admin")
        services.pin_message(other_user, room.pk, message.pk, on=False)
        assert pinned_ids(room) == []

    def test_both_people_of_a_direct_room_may(self, user, other_user):
        dm = direct_room(user, other_user)
        mine, theirs = send(user, dm, "mine"), send(other_user, dm, "theirs")
        services.pin_message(other_user, dm.pk, mine.pk, on=True)
        services.pin_message(user, dm.pk, theirs.pk, on=True)
        assert pinned_ids(dm) == [theirs.pk, mine.pk]  # newest pin first

    def test_an_outsider_of_a_public_room_may_not_and_of_a_private_room_cannot_see_it(
        self, user, other_user, room
    ):
        carol = UserFactory(username="carol")
        message = send(user, room, "public words")
        refused("forbidden", services.pin_message, carol, room.pk, message.pk, on=True)
        private = RoomFactory(kind="private", members=[user])
        hidden = send(user, private, "private words")
        refused("not_found", services.pin_message, carol, private.pk, hidden.pk, on=True)
        assert not Pin.objects.exists()

    def test_a_blocked_person_pins_nothing_in_the_direct_room(self, user, other_user):
        dm = direct_room(user, other_user)
        message = send(user, dm, "hi")
        services.block_user(other_user, user.username)
        refused("forbidden", services.pin_message, user, dm.pk, message.pk, on=True)

    def test_access_decides_with_may_pin(self, user, other_user, room):
        alice = Membership.objects.get(room=room, user=user)
        bob = Membership.objects.get(room=room, user=other_user)
        assert access.may_pin(room, alice) and not access.may_pin(room, bob)
        assert not access.may_pin(room, None)
        dm = direct_room(user, other_user)
        assert access.may_pin(dm, Membership.objects.get(room=dm, user=other_user))


class TestWhatCanBePinned:
    def test_a_message_of_another_room_is_refused(self, user, room):
        elsewhere = RoomFactory(name="elsewhere", members=[user])
        message = send(user, elsewhere, "not here")
        error = refused("bad_request", services.pin_message, user, room.pk, message.pk, on=True)
        assert "of this room" in error.detail
        refused("bad_request", services.pin_message, user, room.pk, 2**63, on=True)
        assert not Pin.objects.exists()

    def test_a_deleted_message_is_refused(self, user, room):
        message = send(user, room, "gone soon")
        services.delete_message(user, message.pk)
        error = refused("bad_request", services.pin_message, user, room.pk, message.pk, on=True)
        assert "deleted" in error.detail

    def test_pinning_twice_and_unpinning_what_is_not_pinned_change_nothing(
        self, user, room, published, committed
    ):
        message = send(user, room, "once")
        published.clear()
        first = committed(services.pin_message, user, room.pk, message.pk, on=True)
        again = committed(services.pin_message, user, room.pk, message.pk, on=True)
        assert first == again
        assert [p.brief for p in published] == [("room", room.pk, "pins")]
        committed(services.pin_message, user, room.pk, message.pk, on=False)
        published.clear()
        frame = committed(services.pin_message, user, room.pk, message.pk, on=False)
        assert frame == {"type": "pins", "room": room.pk, "pins": []}
        assert published == []

    def test_a_room_holds_at_most_the_cap(self, user, room):
        messages = [send(user, room, f"message {n}") for n in range(MAX_PINS + 1)]
        Pin.objects.bulk_create(
            Pin(room=room, message=m, pinned_by=user, pinned_at=m.created_at)
            for m in messages[:MAX_PINS]
        )
        last = messages[-1]
        error = refused("bad_request", services.pin_message, user, room.pk, last.pk, on=True)
        assert f"at most {MAX_PINS}" in error.detail
        services.pin_message(user, room.pk, messages[0].pk, on=True)  # already pinned: fine
        services.pin_message(user, room.pk, messages[0].pk, on=False)
        services.pin_message(user, room.pk, last.pk, on=True)
        assert Pin.objects.count() == MAX_PINS

    def test_pins_spend_from_their_budget(self, user, room, settings, fresh_cache):
        first, second = send(user, room, "one"), send(user, room, "two")
        settings.PARLEY_LIMITS = {**settings.PARLEY_LIMITS, "pin": (1, 3600)}
        services.pin_message(user, room.pk, first.pk, on=True)
        refused("rate_limited", services.pin_message, user, room.pk, second.pk, on=True)
        assert pinned_ids(room) == [first.pk]


class TestChangesToAPinnedMessage:
    def test_deleting_a_pinned_message_unpins_it_and_tells_the_room(
        self, user, other_user, room, published, committed
    ):
        message = send(other_user, room, "to be removed")
        services.pin_message(user, room.pk, message.pk, on=True)
        published.clear()
        committed(services.delete_message, user, message.pk)
        assert [p.brief for p in published] == [
            ("room", room.pk, "message.deleted"),
            ("room", room.pk, "pins"),
        ]
        assert published[1].frame["pins"] == []
        assert not Pin.objects.exists()

    def test_deleting_an_unpinned_message_sends_no_pins(self, user, room, published, committed):
        message = send(user, room, "plain")
        published.clear()
        committed(services.delete_message, user, message.pk)
        assert [p.frame["type"] for p in published] == ["message.deleted"]

    def test_editing_a_pinned_message_sends_its_new_excerpt(self, user, room, published, committed):
        message = send(user, room, "draft")
        services.pin_message(user, room.pk, message.pk, on=True)
        published.clear()
        committed(services.edit_message, user, message.pk, "**final** words\nmore")
        assert [p.frame["type"] for p in published] == ["message.updated", "pins"]
        assert published[1].frame["pins"][0]["message"]["excerpt"] == "final words"

    def test_the_author_and_pinner_leaving_for_good_leaves_the_pin(self, user, other_user, room):
        message = send(other_user, room, "kept")
        services.set_role(user, room.pk, "bob", "admin")
        services.pin_message(other_user, room.pk, message.pk, on=True)
        other_user.delete()
        [pin] = queries.room_pins(room.pk)
        assert pin["message"]["author"]["id"] is None
        assert pin["pinned_by"]["display_name"] == "Deleted user"


class TestApi:
    @pytest.fixture
    def api(self, user):
        client = Client()
        client.force_login(user)
        return client

    def test_pin_list_and_unpin(self, api, user, room):
        message = send(user, room, "the plan")
        url = f"/api/rooms/{room.pk}/pins/{message.pk}"
        pinned = api.post(url)
        assert pinned.status_code == 200
        [pin] = pinned.json()["pins"]
        assert pinned.json()["room"] == room.pk
        assert (pin["message"]["id"], pin["message"]["excerpt"]) == (message.pk, "the plan")
        assert pin["pinned_by"]["username"] == "alice"
        listed = api.get(f"/api/rooms/{room.pk}/pins/").json()
        assert listed == pinned.json()
        assert api.get(f"/api/rooms/{room.pk}/").json()["pins"] == listed["pins"]
        assert api.delete(url).json() == {"room": room.pk, "pins": []}

    def test_refusals_are_json_errors(self, api, user, other_user, room):
        message = send(user, room, "x")
        bob = Client()
        bob.force_login(other_user)
        refusal = bob.post(f"/api/rooms/{room.pk}/pins/{message.pk}")
        assert (refusal.status_code, refusal.json()["error"]["code"]) == (403, "forbidden")
        private = RoomFactory(kind="private", members=[other_user])
        assert api.get(f"/api/rooms/{private.pk}/pins/").status_code == 404
        assert api.put(f"/api/rooms/{room.pk}/pins/{message.pk}").status_code == 405
        assert api.post(f"/api/rooms/{room.pk}/pins/").status_code == 405
        assert Client().get(f"/api/rooms/{room.pk}/pins/").status_code == 401


@pytest.mark.django_db(transaction=True)
class TestSocket:
    async def test_the_owner_pins_and_every_member_hears_the_list(self, user, other_user):
        room = await sync_to_async(RoomFactory)(name="general", members=[user, other_user])
        message = await sync_to_async(send)(other_user, room, "pin me")
        async with open_tab(user) as alice, open_tab(other_user) as bob:
            [hello_room] = bob.hello["rooms"]
            assert hello_room["pins"] == []
            pin = {"type": "pin", "room": room.pk, "message": message.pk, "request_id": "p1"}
            await alice.send(pin)
            # The answer, and the room's frame every member's tabs get, in either order.
            both = [await alice.receive_type("pins"), await alice.receive_type("pins")]
            [answer] = [frame for frame in both if frame.get("request_id") == "p1"]
            heard = await bob.receive_type("pins")
            assert heard["pins"] == answer["pins"]
            assert heard["pins"][0]["message"]["id"] == message.pk
            refusal = await bob.request({**pin, "on": False}, "error")
            assert refusal["code"] == "forbidden"
            unpin = {"type": "pin", "room": room.pk, "message": message.pk, "on": False}
            await alice.request(unpin, "pins")
            assert (await bob.receive_type("pins"))["pins"] == []

    async def test_a_reconnecting_client_gets_the_pins_with_hello(self, user, other_user):
        dm = await sync_to_async(direct_room)(user, other_user)
        message = await sync_to_async(send)(user, dm, "our address")
        await sync_to_async(services.pin_message)(other_user, dm.pk, message.pk, on=True)
        async with open_tab(user) as alice:
            [hello_room] = alice.hello["rooms"]
        assert [pin["message"]["id"] for pin in hello_room["pins"]] == [message.pk]
        assert hello_room["pins"][0]["pinned_by"]["username"] == "bob"

    async def test_a_bad_pin_frame_is_refused(self, user):
        async with open_tab(user) as alice:
            error = await alice.request({"type": "pin", "room": 1, "message": "x"}, "error")
        assert error["code"] == "bad_request"
