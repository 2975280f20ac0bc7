import uuid

import pytest
from django.test import Client

from chat import services
from chat.models import Membership, Message, Room
from tests.factories import RoomFactory, UserFactory, direct_room, send

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(user):
    client = Client()
    client.force_login(user)
    return client


def post(client, url, data):
    return client.post(url, data, content_type="application/json")


class TestRooms:
    def test_anonymous_caller_gets_unauthorized(self, client):
        response = client.get("/api/rooms/")
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"

    def test_lists_only_the_callers_rooms_with_unread_and_last_message(self, api, user, other_user):
        mine = RoomFactory(name="mine", members=[user, other_user])
        RoomFactory(name="theirs", members=[other_user])
        send(other_user, mine, "one")
        send(other_user, mine, "two")
        send(user, mine, "mine")
        [room] = api.get("/api/rooms/").json()["rooms"]
        assert room["id"] == mine.pk
        assert (room["name"], room["kind"], room["last_seq"]) == ("mine", "public", 3)
        assert (room["last_read_seq"], room["unread"]) == (0, 2)
        assert room["last_message"]["body"] == "mine"

    def test_direct_rooms_are_named_after_the_other_person(self, api, user, other_user):
        direct_room(user, other_user)
        [room] = api.get("/api/rooms/").json()["rooms"]
        assert (room["kind"], room["name"], room["peer"]["username"]) == ("direct", "Bob", "bob")

    def test_post_creates_then_joins_a_public_room(self, api, other_user):
        created = post(api, "/api/rooms/", {"name": "Lobby"})
        assert created.status_code == 201
        outsider = Client()
        outsider.force_login(other_user)
        joined = post(outsider, "/api/rooms/", {"name": "lobby"})
        assert joined.status_code == 200
        assert joined.json()["id"] == created.json()["id"]
        assert joined.json()["role"] == "member"

    def test_post_can_create_a_private_room(self, api):
        response = post(api, "/api/rooms/", {"name": "staff", "kind": "private"})
        assert response.status_code == 201
        assert response.json()["kind"] == "private"
        assert response.json()["role"] == "owner"

    @pytest.mark.parametrize(
        "body", [{"name": ""}, {"name": 5}, {}, {"name": "ok", "kind": "direct"}, {"name": "a;b"}]
    )
    def test_bad_room_request_is_a_bad_request_and_creates_nothing(self, api, body):
        response = post(api, "/api/rooms/", body)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "bad_request"
        assert not Room.objects.exists()

    @pytest.mark.parametrize("raw", [b"not json", b"[1]", b"{" * 5000])
    def test_malformed_json_is_a_bad_request(self, api, raw):
        response = api.post("/api/rooms/", raw, content_type="application/json")
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "bad_request"

    def test_a_form_instead_of_json_is_a_bad_request_and_creates_nothing(self, api):
        response = api.post("/api/rooms/", {"name": "lobby"})  # multipart
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "bad_request"
        assert not Room.objects.exists()

    def test_oversized_body_is_too_large(self, api):
        response = post(api, "/api/rooms/", {"name": "x" * 70_000})
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "too_large"

    def test_direct_is_get_or_create(self, api, other_user):
        first = post(api, "/api/rooms/direct/", {"username": "bob"})
        second = post(api, "/api/rooms/direct/", {"username": "bob"})
        assert (first.status_code, second.status_code) == (201, 200)
        assert first.json()["id"] == second.json()["id"]

    def test_direct_opened_by_the_other_person_first_is_new_to_the_caller(
        self, api, user, other_user
    ):
        """Neither the status nor the page says that the other person opened it first."""
        services.open_direct(other_user, user.username)
        page = api.get("/dm/bob/")
        assert page.status_code == 200  # the page that opens it, not a redirect into it
        opened = post(api, "/api/rooms/direct/", {"username": "bob"})
        assert opened.status_code == 201

    def test_a_dm_link_leads_into_a_conversation_the_caller_is_in(self, api, other_user):
        room = post(api, "/api/rooms/direct/", {"username": "bob"}).json()
        response = api.get("/dm/bob/")
        assert (response.status_code, response.url) == (302, f"/rooms/{room['id']}/")

    def test_direct_with_unknown_user_is_not_found(self, api):
        response = post(api, "/api/rooms/direct/", {"username": "ghost"})
        assert response.status_code == 404

    def test_api_post_without_csrf_token_gets_a_json_403(self, user):
        client = Client(enforce_csrf_checks=True)
        client.force_login(user)
        response = post(client, "/api/rooms/", {"name": "x"})
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "forbidden"

    def test_api_post_with_csrf_header_is_accepted(self, user):
        client = Client(enforce_csrf_checks=True)
        client.force_login(user)
        client.get("/")
        token = client.cookies["csrftoken"].value
        response = client.post(
            "/api/rooms/", {"name": "x"}, content_type="application/json", HTTP_X_CSRFTOKEN=token
        )
        assert response.status_code == 201


class TestMessages:
    @pytest.fixture
    def room(self, user):
        room = RoomFactory(members=[user])
        for i in range(1, 8):
            send(user, room, f"m{i}")
        return room

    def url(self, room_id, query=""):
        return f"/api/rooms/{room_id}/messages{query}"

    def test_newest_page_by_default(self, api, room):
        data = api.get(self.url(room.pk, "?limit=3")).json()
        assert [m["seq"] for m in data["messages"]] == [5, 6, 7]
        assert data["has_more"] is True

    def test_after_and_before_pages(self, api, room):
        after = api.get(self.url(room.pk, "?after=5")).json()
        assert [m["seq"] for m in after["messages"]] == [6, 7]
        assert after["has_more"] is False
        before = api.get(self.url(room.pk, "?before=3")).json()
        assert [m["seq"] for m in before["messages"]] == [1, 2]
        assert before["has_more"] is False

    def test_message_shape(self, api, room, user):
        [message] = api.get(self.url(room.pk, "?after=6")).json()["messages"]
        assert set(message) == {
            "id",
            "room",
            "seq",
            "author",
            "body",
            "created_at",
            "client_msg_id",
            "html",
            "edited_at",
            "rev",
            "deleted",
            "reply_to",
            "mentions",
            "reactions",
            "attachments",
            "thread_root",
            "also_in_room",
            "thread",
            "via",
        }
        assert (
            message["thread_root"],
            message["also_in_room"],
            message["thread"],
            message["via"],
        ) == (None, False, None, None)
        assert message["author"] == {
            "id": user.pk,
            "username": "alice",
            "display_name": "Alice",
            "avatar": None,
            "is_bot": False,
        }
        assert message["created_at"].endswith("Z")

    @pytest.mark.parametrize(
        "query",
        [
            "?limit=0",
            "?limit=201",
            "?limit=x",
            "?after=-1",
            "?after=1&before=3",
            "?before=0",
            "?after=%C2%B2",
            "?limit=%E2%91%A0",
        ],
    )
    def test_bad_paging_is_a_bad_request(self, api, room, query):
        response = api.get(self.url(room.pk, query))
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "bad_request"

    @pytest.mark.parametrize("room_id", ["0", "9" * 30])
    def test_impossible_room_ids_are_not_found_not_a_crash(self, api, room_id):
        assert api.get(f"/api/rooms/{room_id}/messages").status_code == 404
        assert api.get(f"/api/rooms/{room_id}/").status_code == 404
        assert api.get(f"/rooms/{room_id}/").status_code == 404

    def test_post_is_idempotent_by_client_msg_id(self, api, room):
        data = {"body": "hello", "client_msg_id": str(uuid.uuid4())}
        first = post(api, self.url(room.pk), data)
        second = post(api, self.url(room.pk), data)
        assert (first.status_code, second.status_code) == (201, 200)
        assert first.json() == second.json()
        assert first.json()["seq"] == 8
        assert Message.objects.filter(room=room).count() == 8

    def test_hidden_room_is_indistinguishable_from_a_missing_one(self, api, other_user):
        carol = UserFactory(username="carol")
        private = RoomFactory(kind=Room.Kind.PRIVATE, members=[other_user])
        dm = direct_room(other_user, carol)
        for hidden in (private.pk, dm.pk):
            for method in ("get", "post"):
                answers = []
                for room_id in (hidden, 999_999):
                    if method == "get":
                        response = api.get(self.url(room_id))
                    else:
                        response = post(
                            api,
                            self.url(room_id),
                            {"body": "x", "client_msg_id": "00000000-0000-4000-8000-000000000002"},
                        )
                    answers.append((response.status_code, response.json()))
                assert answers[0] == answers[1]
                assert answers[0][0] == 404
        assert not Message.objects.filter(room__in=[private, dm]).exists()


class TestMembersAndRead:
    def test_owner_adds_and_removes_a_member(self, api, user, other_user):
        room_id = post(api, "/api/rooms/", {"name": "team", "kind": "private"}).json()["id"]
        assert post(api, f"/api/rooms/{room_id}/members/", {"username": "bob"}).status_code == 200
        assert Room.objects.get(pk=room_id).members.filter(pk=other_user.pk).exists()
        assert api.delete(f"/api/rooms/{room_id}/members/bob").status_code == 200
        assert not Room.objects.get(pk=room_id).members.filter(pk=other_user.pk).exists()

    def test_member_leaves_by_deleting_their_own_membership(self, api, user):
        room_id = post(api, "/api/rooms/", {"name": "team"}).json()["id"]
        assert api.delete(f"/api/rooms/{room_id}/members/alice").status_code == 200
        assert not Room.objects.get(pk=room_id).members.exists()

    def test_members_lists_owners_first_with_roles(self, api, user, other_user):
        room_id = post(api, "/api/rooms/", {"name": "team", "kind": "private"}).json()["id"]
        post(api, f"/api/rooms/{room_id}/members/", {"username": "bob"})
        UserFactory(username="aaron")
        post(api, f"/api/rooms/{room_id}/members/", {"username": "aaron"})
        answer = api.get(f"/api/rooms/{room_id}/members/").json()
        assert answer["room"] == room_id and answer["has_more"] is False
        listed = [(m["user"]["username"], m["role"]) for m in answer["members"]]
        assert listed == [("alice", "owner"), ("aaron", "member"), ("bob", "member")]

    def test_members_of_a_room_you_cannot_see_is_not_found(self, api, other_user):
        private = RoomFactory(kind=Room.Kind.PRIVATE, members=[other_user])
        hidden = api.get(f"/api/rooms/{private.pk}/members/")
        missing = api.get("/api/rooms/999999/members/")
        assert hidden.status_code == missing.status_code == 404
        assert hidden.json() == missing.json()

    def test_members_of_a_public_room_are_listed_to_a_visitor(self, api, other_user):
        public = RoomFactory(name="open", members=[other_user])
        answer = api.get(f"/api/rooms/{public.pk}/members/").json()
        assert [m["user"]["username"] for m in answer["members"]] == ["bob"]

    def test_members_matching_a_name_are_found_in_any_case(self, api, user):
        room = RoomFactory(members=[user])
        for username, display_name in [
            ("zoe", "Zoë Quinn"),
            ("quentin", "Q"),
            ("bea", "Beatrice Quist"),
            ("max", "Max"),
        ]:
            Membership.objects.create(
                room=room, user=UserFactory(username=username, display_name=display_name)
            )
        answer = api.get(f"/api/rooms/{room.pk}/members/", {"q": "QU"}).json()
        # Usernames by their start, display names anywhere: not Max, not Zoë's "zoe".
        found = sorted(m["user"]["username"] for m in answer["members"])
        assert found == ["bea", "quentin", "zoe"]
        assert answer["has_more"] is False
        # Wildcards are text: nobody's name holds a "%".
        assert api.get(f"/api/rooms/{room.pk}/members/", {"q": "%"}).json()["members"] == []

    def test_a_member_match_is_bounded_and_a_longer_one_refused(self, api, user):
        room = RoomFactory(members=[user])
        response = api.get(f"/api/rooms/{room.pk}/members/", {"q": "a" * 65})
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "bad_request"
        assert api.get(f"/api/rooms/{room.pk}/members/", {"q": "a" * 64}).status_code == 200

    def test_read_moves_the_pointer_forward_only(self, api, user):
        room = RoomFactory(members=[user])
        for _ in range(3):
            send(user, room)
        assert post(api, f"/api/rooms/{room.pk}/read", {"seq": 2}).json()["last_read_seq"] == 2
        assert post(api, f"/api/rooms/{room.pk}/read", {"seq": 1}).json()["last_read_seq"] == 2
        assert post(api, f"/api/rooms/{room.pk}/read", {"seq": "3"}).status_code == 400


class TestMessageActions:
    @pytest.fixture
    def room(self, user, other_user):
        return RoomFactory(name="general", members=[user, other_user])

    def test_patch_edits_your_message(self, api, user, room):
        message = send(user, room, "helo")
        response = api.patch(
            f"/api/messages/{message.pk}", {"body": "hello"}, content_type="application/json"
        )
        assert response.status_code == 200
        assert (response.json()["body"], response.json()["edited_at"] is not None) == (
            "hello",
            True,
        )

    def test_patch_of_someone_elses_message_is_forbidden(self, api, other_user, room):
        message = send(other_user, room, "theirs")
        response = api.patch(
            f"/api/messages/{message.pk}", {"body": "mine"}, content_type="application/json"
        )
        assert response.status_code == 403
        assert Message.objects.get(pk=message.pk).body == "theirs"

    def test_delete_leaves_a_tombstone(self, api, user, room):
        message = send(user, room, "oops")
        response = api.delete(f"/api/messages/{message.pk}")
        assert response.json() == {"room": room.pk, "id": message.pk, "seq": message.seq}
        assert Message.objects.get(pk=message.pk).body == ""

    def test_a_reaction_is_added_and_taken_back(self, api, user, room):
        message = send(user, room)
        url = f"/api/messages/{message.pk}/reactions"
        added = post(api, url, {"emoji": "🎉"})
        assert (added.status_code, added.json()["on"]) == (200, True)
        post(api, url, {"emoji": "🎉", "on": False})
        assert api.get(f"/api/rooms/{room.pk}/messages").json()["messages"][0]["reactions"] == []

    def test_a_message_in_a_room_you_cannot_see_is_not_found_like_a_missing_one(self, api):
        private = RoomFactory(kind="private", members=[UserFactory()])
        message = send(private.memberships.get().user, private, "secret")
        for url in (f"/api/messages/{message.pk}", "/api/messages/424242"):
            response = api.patch(url, {"body": "x"}, content_type="application/json")
            assert response.status_code == 404
            assert response.json()["error"] == {"code": "not_found", "detail": "No such message."}
        assert Message.objects.get(pk=message.pk).body == "secret"

    def test_changes_since_a_revision_are_fetched_over_http(self, api, user, room):
        message = send(user, room, "a")
        api.patch(f"/api/messages/{message.pk}", {"body": "b"}, content_type="application/json")
        page = api.get(f"/api/rooms/{room.pk}/messages?changed_after=0").json()
        assert [m["body"] for m in page["messages"]] == ["b"]


def test_a_lone_surrogate_in_a_json_body_is_refused_and_stores_nothing(api, user):
    room = RoomFactory(name="general", members=[user])
    body = f'{{"body": "a\\ud800", "client_msg_id": "{uuid.uuid4()}"}}'
    response = post(api, f"/api/rooms/{room.pk}/messages", body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"
    assert not room.messages.exists()


def test_a_database_that_cannot_be_reached_answers_unavailable_even_for_the_session(
    user, monkeypatch
):
    """The session is read from the database before the view runs: PostgreSQL being away
    must still be a JSON 503 `unavailable`, never a 500 page."""
    from django.contrib.sessions.backends.db import SessionStore
    from django.db import OperationalError

    client = Client()
    client.force_login(user)
    room = RoomFactory(name="general", members=[user])

    def away(self):
        raise OperationalError("connection refused")

    monkeypatch.setattr(SessionStore, "load", away)
    response = post(
        client, f"/api/rooms/{room.pk}/messages", {"body": "hi", "client_msg_id": str(uuid.uuid4())}
    )
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "unavailable"
    assert not Message.objects.exists()
