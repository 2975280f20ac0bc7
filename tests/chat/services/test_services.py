import uuid

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from chat import queries, services
from chat.errors import ChatError, RoomNotFound
from chat.models import Membership, Message, Room
from chat.realtime import fanout
from tests.factories import RoomFactory, UserFactory, direct_room, send
from tests.support import Published, refused

pytestmark = pytest.mark.django_db


@pytest.fixture
def room(user):
    return RoomFactory(name="general", members=[user])


class TestSendMessage:
    def test_seq_starts_at_one_and_counts_up_without_gaps(self, user, room):
        seqs = [send(user, room, f"m{i}").seq for i in range(5)]
        assert seqs == [1, 2, 3, 4, 5]
        room.refresh_from_db()
        assert room.last_seq == 5
        assert room.last_message_at is not None

    def test_seq_is_per_room(self, user, room):
        other = RoomFactory(members=[user])
        send(user, room)
        send(user, room)
        assert send(user, other).seq == 1

    def test_body_is_trimmed(self, user, room):
        assert send(user, room, "  hi there \n").body == "hi there"

    def test_retried_client_msg_id_returns_the_original_and_stores_nothing(self, user, room):
        cid = str(uuid.uuid4())
        first, created = services.send_message(user, room.pk, "once", cid)
        again, created_again = services.send_message(user, room.pk, "once", cid.upper())
        assert (created, created_again) == (True, False)
        assert again.pk == first.pk
        assert Message.objects.count() == 1

    def test_a_retry_after_removal_from_a_private_room_is_not_found(self, user, other_user):
        private = services.create_private_room(other_user, "team")
        services.add_member(other_user, private.pk, "alice")
        cid = str(uuid.uuid4())
        services.send_message(user, private.pk, "once", cid)
        services.remove_member(other_user, private.pk, "alice")
        with pytest.raises(ChatError) as caught:
            services.send_message(user, private.pk, "once", cid)
        assert caught.value.code == "not_found"

    def test_client_msg_id_reused_in_another_room_is_refused(self, user, room):
        cid = str(uuid.uuid4())
        services.send_message(user, room.pk, "once", cid)
        other = RoomFactory(members=[user])
        with pytest.raises(ChatError) as caught:
            services.send_message(user, other.pk, "twice", cid)
        assert caught.value.code == "bad_request"
        assert caught.value.client_msg_id == cid

    def test_same_client_msg_id_from_two_authors_is_two_messages(self, user, other_user, room):
        Membership.objects.create(room=room, user=other_user)
        cid = str(uuid.uuid4())
        services.send_message(user, room.pk, "a", cid)
        services.send_message(other_user, room.pk, "b", cid)
        assert Message.objects.count() == 2

    @pytest.mark.parametrize(
        ("body", "code"),
        [
            ("", "bad_request"),
            ("   \n\t ", "bad_request"),
            ("x" * 4001, "too_large"),
            ("nul \x00 here", "bad_request"),
            ("bell \x07", "bad_request"),
            ("escape \x1b[31m", "bad_request"),
            ("lone surrogate \ud800", "bad_request"),
        ],
    )
    def test_bad_body_is_refused_and_nothing_is_stored(self, user, room, body, code):
        with pytest.raises(ChatError) as caught:
            services.send_message(user, room.pk, body, str(uuid.uuid4()))
        assert caught.value.code == code
        assert Message.objects.count() == 0
        room.refresh_from_db()
        assert room.last_seq == 0

    def test_body_of_exactly_4000_characters_with_newlines_and_tabs_is_stored(self, user, room):
        body = ("a\tb\n" * 1000)[:4000]
        assert len(send(user, room, body).body) == 3999  # the trailing newline is trimmed

    def test_bad_client_msg_id_is_refused(self, user, room):
        with pytest.raises(ChatError) as caught:
            services.send_message(user, room.pk, "hi", "not-a-uuid")
        assert caught.value.code == "bad_request"

    def test_non_member_cannot_post_in_a_public_room(self, other_user, room):
        with pytest.raises(ChatError) as caught:
            send(other_user, room)
        assert caught.value.code == "forbidden"

    def test_non_member_posting_in_a_private_room_gets_not_found(self, user, other_user):
        private = RoomFactory(kind=Room.Kind.PRIVATE, members=[user])
        with pytest.raises(ChatError) as caught:
            send(other_user, private)
        assert caught.value.code == "not_found"
        assert Message.objects.count() == 0

    def test_missing_room_gets_not_found(self, user):
        with pytest.raises(ChatError) as caught:
            services.send_message(user, 999_999, "hi", str(uuid.uuid4()))
        assert caught.value.code == "not_found"

    def test_sending_faster_than_the_limit_is_rate_limited(self, user, room, settings, fresh_cache):
        settings.PARLEY_SEND_RATE = (3, 60)
        for _ in range(3):
            send(user, room)
        with pytest.raises(ChatError) as caught:
            send(user, room)
        assert caught.value.code == "rate_limited"
        assert Message.objects.count() == 3

    def test_retried_send_is_answered_even_when_rate_limited(
        self, user, room, settings, fresh_cache
    ):
        settings.PARLEY_SEND_RATE = (1, 60)
        cid = str(uuid.uuid4())
        first, _ = services.send_message(user, room.pk, "x", cid)
        again, created = services.send_message(user, room.pk, "x", cid)
        assert (again.pk, created) == (first.pk, False)

    def test_message_is_published_only_after_commit(
        self, user, room, published, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            message = send(user, room)
        assert published == []
        for callback in callbacks:
            callback()
        assert [p.brief for p in published] == [("room", room.pk, "message")]
        assert published[0].frame["message"]["seq"] == message.seq

    def test_rolled_back_send_publishes_nothing(
        self, user, room, published, django_capture_on_commit_callbacks
    ):
        with (
            django_capture_on_commit_callbacks(execute=True),
            pytest.raises(RuntimeError),
            transaction.atomic(),
        ):
            send(user, room)
            raise RuntimeError("abort")
        assert published == []
        assert Message.objects.count() == 0

    def test_failing_publish_does_not_fail_or_undo_the_send(
        self, user, room, monkeypatch, django_capture_on_commit_callbacks, caplog
    ):
        def broken(group, message):
            raise ConnectionError("bus down")

        monkeypatch.setattr(fanout.buses, "publish_blocking", broken)
        with django_capture_on_commit_callbacks(execute=True):
            message = send(user, room, "kept")
        assert Message.objects.get(pk=message.pk).body == "kept"
        assert "publish to room." in caplog.text


class TestRooms:
    def test_create_or_join_creates_a_public_room_owned_by_its_creator(self, user):
        room, created = services.create_or_join_room(user, "  Café   Talk ")
        assert created
        assert (room.kind, room.name) == (Room.Kind.PUBLIC, "Café Talk")
        assert Membership.objects.get(room=room, user=user).role == Membership.Role.OWNER

    def test_create_or_join_joins_the_existing_room_whatever_the_case(self, user, other_user):
        room, _ = services.create_or_join_room(user, "Café Talk")
        again, created = services.create_or_join_room(other_user, "CAFÉ TALK")
        assert not created
        assert again.pk == room.pk
        assert Membership.objects.get(room=room, user=other_user).role == Membership.Role.MEMBER

    def test_joining_twice_keeps_one_membership(self, user):
        services.create_or_join_room(user, "dup")
        services.create_or_join_room(user, "dup")
        assert Membership.objects.filter(user=user).count() == 1

    def test_joining_announces_the_room_to_the_users_sockets(
        self, user, published, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            room, _ = services.create_or_join_room(user, "fresh")
        assert (published[0].to, published[0].target, published[0].room) == (
            "grant",
            user.pk,
            room.pk,
        )
        assert published[0].frame["room"]["id"] == room.pk

    @pytest.mark.parametrize("name", ["", "   ", "x" * 65, "semi;colon", "new\nline", "<b>", "a/b"])
    def test_bad_room_name_is_refused(self, user, name):
        with pytest.raises(ChatError) as caught:
            services.create_or_join_room(user, name)
        assert caught.value.code == "bad_request"
        assert not Room.objects.exists()

    @pytest.mark.parametrize("name", ["général", "日本語", "a-b_c 1", "x" * 64, "Ünïcödé"])
    def test_unicode_letters_digits_spaces_dash_underscore_are_fine(self, user, name):
        assert services.create_or_join_room(user, name)[0].name == name

    def test_a_private_rooms_name_leads_outsiders_to_a_public_room_of_their_own(
        self, user, other_user
    ):
        secret = services.create_private_room(user, "secret")
        room, created = services.create_or_join_room(other_user, "Secret")
        assert created and room.kind == "public"
        assert not Membership.objects.filter(room=secret, user=other_user).exists()


class TestDirect:
    def test_open_direct_creates_one_room_per_pair(self, user, other_user):
        room, created = services.open_direct(user, "bob")
        again, created_again = services.open_direct(other_user, "alice")
        # `created`: the conversation is new to its caller (it says nothing of the other).
        assert (created, created_again) == (True, True)
        assert services.open_direct(other_user, "alice") == (room, False)
        assert room.pk == again.pk
        assert set(room.members.values_list("username", flat=True)) == {"alice", "bob"}

    def test_open_direct_with_oneself_is_refused(self, user):
        with pytest.raises(ChatError) as caught:
            services.open_direct(user, "alice")
        assert caught.value.code == "bad_request"

    def test_open_direct_with_unknown_user_is_not_found(self, user):
        with pytest.raises(ChatError) as caught:
            services.open_direct(user, "nobody")
        assert caught.value.code == "not_found"

    def test_opening_a_dm_shows_it_to_the_opener_only_until_the_first_message(
        self, user, other_user, published, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            room, _created = services.open_direct(user, "bob")
        assert [p.brief for p in published if p.to in ("grant", "user")] == [
            ("grant", user.pk, "room")
        ]
        assert queries.rooms_for_user(other_user) == []
        with pytest.raises(RoomNotFound):
            queries.room_for_user(other_user, room.pk)
        assert queries.room_for_user(user, room.pk)["name"] == "Bob"
        assert queries.room_for_user(user, room.pk)["peer"]["username"] == "bob"

        published.clear()
        with django_capture_on_commit_callbacks(execute=True):
            send(user, room, "first")
        assert [p.brief for p in published] == [
            ("grant", other_user.pk, "room"),
            ("room", room.pk, "member"),
            ("room", room.pk, "message"),
        ]
        granted = published[0].frame["room"]
        assert (granted["id"], granted["name"], granted["unread"]) == (room.pk, "Alice", 1)
        assert [r["id"] for r in queries.rooms_for_user(other_user)] == [room.pk]

        published.clear()
        with django_capture_on_commit_callbacks(execute=True):
            send(user, room, "second")
        assert [p.brief for p in published] == [("room", room.pk, "message")]

    def test_the_other_persons_first_open_shows_it_to_them(self, user, other_user):
        room, _created = services.open_direct(user, "bob")
        assert services.open_direct(other_user, "alice") == (room, True)
        assert [r["id"] for r in queries.rooms_for_user(other_user)] == [room.pk]

    def test_a_block_after_the_dm_was_opened_refuses_its_first_message(self, user, other_user):
        room, _created = services.open_direct(user, "bob")
        services.block_user(other_user, "alice")
        refused("forbidden", send, user, room, "let me in")
        assert not Message.objects.exists()
        assert queries.rooms_for_user(other_user) == []

    def test_a_first_message_to_a_deleted_account_stays_with_the_opener(self, user, other_user):
        room, _created = services.open_direct(user, "bob")
        other_user.delete()
        send(user, room, "anyone there?")
        assert list(room.members.values_list("username", flat=True)) == ["alice"]
        assert queries.room_for_user(user, room.pk)["name"] == "Deleted user"


class TestMembers:
    @pytest.fixture
    def private(self, user):
        return services.create_private_room(user, "team")

    def test_owner_adds_a_member_who_then_sees_the_room(self, user, other_user, private):
        services.add_member(user, private.pk, "bob")
        assert Membership.objects.filter(room=private, user=other_user).exists()

    def test_plain_member_cannot_add_anyone(self, user, other_user, private):
        services.add_member(user, private.pk, "bob")
        UserFactory(username="carol")
        with pytest.raises(ChatError) as caught:
            services.add_member(other_user, private.pk, "carol")
        assert caught.value.code == "forbidden"

    def test_outsider_adding_to_a_private_room_gets_not_found(self, other_user, private):
        with pytest.raises(ChatError) as caught:
            services.add_member(other_user, private.pk, "bob")
        assert caught.value.code == "not_found"

    def test_owner_removes_a_member_and_their_sockets_are_told(
        self, user, other_user, private, published, django_capture_on_commit_callbacks
    ):
        services.add_member(user, private.pk, "bob")
        with django_capture_on_commit_callbacks(execute=True):
            services.remove_member(user, private.pk, "bob")
        assert not Membership.objects.filter(room=private, user=other_user).exists()
        assert (
            Published(
                "revoke", other_user.pk, {"type": "room.removed", "room": private.pk}, private.pk
            )
            in published
        )

    def test_the_rooms_members_hear_who_joins_changes_role_and_is_removed(
        self, user, other_user, private, published, django_capture_on_commit_callbacks
    ):
        for change in (
            lambda: services.add_member(user, private.pk, "bob"),
            lambda: services.set_role(user, private.pk, "bob", Membership.Role.ADMIN),
            lambda: services.remove_member(user, private.pk, "bob"),
        ):
            with django_capture_on_commit_callbacks(execute=True):
                change()
        told = [
            (p.frame["user"]["username"], p.frame["role"])
            for p in published
            if p.to == "room" and p.frame["type"] == "member"
        ]
        assert told == [("bob", "member"), ("bob", "admin"), ("bob", None)]
        assert all(p.target == private.pk for p in published if p.to == "room")

    def test_a_refused_removal_tells_the_room_nothing(
        self, user, other_user, private, published, django_capture_on_commit_callbacks
    ):
        services.add_member(user, private.pk, "bob")
        with django_capture_on_commit_callbacks(execute=True), pytest.raises(ChatError):
            services.remove_member(other_user, private.pk, "alice")
        assert published == []

    def test_admin_cannot_remove_an_owner(self, user, other_user, private):
        services.add_member(user, private.pk, "bob")
        Membership.objects.filter(user=other_user).update(role=Membership.Role.ADMIN)
        with pytest.raises(ChatError) as caught:
            services.remove_member(other_user, private.pk, "alice")
        assert caught.value.code == "forbidden"

    def test_last_owner_leaving_hands_ownership_on(self, user, other_user, private):
        services.add_member(user, private.pk, "bob")
        services.leave_room(user, private.pk)
        assert Membership.objects.get(room=private, user=other_user).role == Membership.Role.OWNER

    def test_the_heir_of_a_leaving_owner_and_the_room_are_told(
        self, user, other_user, private, published, django_capture_on_commit_callbacks
    ):
        services.add_member(user, private.pk, "bob")
        with django_capture_on_commit_callbacks(execute=True):
            services.leave_room(user, private.pk)
        members = [p.frame for p in published if p.to == "room"]
        assert [(m["user"]["username"], m["role"]) for m in members] == [
            ("alice", None),
            ("bob", "owner"),
        ]
        [(heir, frame)] = [(p.target, p.frame) for p in published if p.to == "user"]
        assert (heir, frame["room"]["role"]) == (other_user.pk, "owner")

    def test_an_admin_inherits_ownership_before_an_older_plain_member(
        self, user, other_user, private
    ):
        services.add_member(user, private.pk, "bob")
        carol = UserFactory(username="carol")
        services.add_member(user, private.pk, "carol")
        Membership.objects.filter(user=carol).update(role=Membership.Role.ADMIN)
        services.leave_room(user, private.pk)
        roles = dict(Membership.objects.filter(room=private).values_list("user__username", "role"))
        assert roles == {"bob": Membership.Role.MEMBER, "carol": Membership.Role.OWNER}

    def test_direct_rooms_cannot_be_left(self, user, other_user):
        room = direct_room(user, other_user)
        with pytest.raises(ChatError) as caught:
            services.leave_room(user, room.pk)
        assert caught.value.code == "bad_request"


class TestMarkRead:
    def test_read_pointer_moves_forward_only_and_is_clamped(self, user, room):
        for _ in range(3):
            send(user, room)
        assert services.mark_read(user, room.pk, 2) == 2
        assert services.mark_read(user, room.pk, 1) == 2
        assert services.mark_read(user, room.pk, 99) == 3
        assert Membership.objects.get(user=user, room=room).last_read_seq == 3

    def test_read_in_a_dm_is_told_to_both_people(
        self, user, other_user, published, django_capture_on_commit_callbacks
    ):
        room = direct_room(user, other_user)
        send(other_user, room)
        with django_capture_on_commit_callbacks(execute=True):
            services.mark_read(user, room.pk, 1)
        told = sorted(p.target for p in published if p.to == "user")
        assert told == sorted([user.pk, other_user.pk])


class TestQueryCounts:
    @pytest.mark.django_db(transaction=True)  # the send's own transaction, not a savepoint
    def test_a_plain_send_is_three_statements_in_one_transaction(
        self, user, room, published, django_assert_num_queries
    ):
        with django_assert_num_queries(5) as captured:
            services.send_message(user, room.pk, "hello", str(uuid.uuid4()))
        # docs/architecture.md, "The send path": the seq (taking the room's lock), the
        # sender's role and earlier send, the message; BEGIN is BEGIN IMMEDIATE on SQLite.
        assert [q["sql"].split()[0] for q in captured] == [
            "BEGIN",
            "UPDATE",
            "SELECT",
            "INSERT",
            "COMMIT",
        ]
        assert [p.brief for p in published] == [("room", room.pk, "message")]  # after commit

    def test_send_costs_the_same_queries_in_a_room_of_2_or_200_members(self, user):
        counts = []
        for size in (2, 200):
            members = [user, *(UserFactory() for _ in range(size - 1))]
            room = RoomFactory(members=members)
            send(user, room)  # warm any first-use query
            with CaptureQueriesContext(connection) as captured:
                send(user, room)
            counts.append([q["sql"].split()[0] for q in captured if "SAVEPOINT" not in q["sql"]])
        assert counts[0] == counts[1]
        # The seq (taking the room's lock), the sender's role and earlier send, the message.
        assert counts[0] == ["UPDATE", "SELECT", "INSERT"]
