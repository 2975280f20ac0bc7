"""Replies, mentions, rich text, edits, deletions, reactions and typing (chat.services)."""

import uuid
from datetime import timedelta

import pytest

from chat import queries, services
from chat.models import Message, Reaction
from chat.protocol.frames import message_dict
from chat.queries import message_page
from tests.factories import RoomFactory, UserFactory, direct_room, send
from tests.support import Published, refused

pytestmark = pytest.mark.django_db


@pytest.fixture
def room(user, other_user):
    return RoomFactory(name="general", members=[user, other_user])


class TestRichText:
    def test_a_sent_message_carries_sanitised_html_beside_its_body(self, user, room):
        message = send(user, room, "**bold** <script>alert(1)</script>")
        data = message_dict(message)
        assert data["body"] == "**bold** <script>alert(1)</script>"
        assert "<strong>bold</strong>" in data["html"]
        assert "<script" not in data["html"]

    def test_history_carries_the_same_html_as_the_live_event(self, user, room):
        live = message_dict(send(user, room, "see https://example.com"))
        [stored] = message_page(user, room.pk)["messages"]
        assert stored["html"] == live["html"]
        assert 'rel="noopener noreferrer nofollow"' in stored["html"]


class TestMentions:
    def test_a_mention_of_a_member_is_stored_and_highlighted(self, user, other_user, room):
        message = send(user, room, "hi @bob")
        assert message_dict(message)["mentions"] == [other_user.pk]
        assert 'data-username="bob"' in message.html
        assert list(Message.objects.get(pk=message.pk).mentions.all()) == [other_user]

    def test_a_mention_of_someone_outside_the_room_is_plain_text(self, user, room):
        UserFactory(username="carol")
        message = send(user, room, "hi @carol")
        assert message_dict(message)["mentions"] == []
        assert "mention" not in message.html

    def test_mentions_are_counted_separately_in_unread_state(self, user, other_user, room):
        send(user, room, "hello")
        send(user, room, "@bob look")
        listed = queries.room_for_user(other_user, room.pk)
        assert (listed["unread"], listed["unread_mentions"]) == (2, 1)
        services.mark_read(other_user, room.pk, 2)
        assert queries.room_for_user(other_user, room.pk)["unread_mentions"] == 0


class TestReplies:
    def test_a_reply_carries_a_quote_of_its_parent(self, user, other_user, room):
        parent = send(other_user, room, "first line\nsecond line")
        reply, _ = services.send_message(
            user, room.pk, "yes", str(uuid.uuid4()), reply_to=parent.pk
        )
        quote = message_dict(reply)["reply_to"]
        assert quote["id"] == parent.pk
        assert quote["seq"] == parent.seq
        assert quote["author"]["username"] == "bob"
        assert quote["excerpt"] == "first line"
        [_, stored] = message_page(user, room.pk)["messages"]
        assert stored["reply_to"] == quote

    @pytest.mark.parametrize(
        ("body", "excerpt"),
        [
            ("**bold** and _slanted_ `code`", "bold and slanted code"),
            ("see [the docs](https://example.com) & <this>", "see the docs & <this>"),
            ("> quoted first\n\nthen mine", "quoted first"),
            ("```\nprint(1)\n```", "print(1)"),
            ("- one\n- two", "one"),
            ("~~gone~~ @bob", "gone @bob"),
        ],
    )
    def test_a_quote_is_the_rendered_text_of_its_parent_not_its_markdown(
        self, user, other_user, room, body, excerpt
    ):
        parent = send(other_user, room, body)
        reply, _ = services.send_message(
            user, room.pk, "yes", str(uuid.uuid4()), reply_to=parent.pk
        )
        assert message_dict(reply)["reply_to"]["excerpt"] == excerpt

    def test_a_reply_to_a_message_of_another_room_is_refused_and_stores_nothing(self, user, room):
        elsewhere = send(user, RoomFactory(members=[user]))
        refused(
            "bad_request",
            lambda: services.send_message(
                user, room.pk, "x", str(uuid.uuid4()), reply_to=elsewhere.pk
            ),
        )
        assert not Message.objects.filter(room=room).exists()

    def test_the_quote_of_a_deleted_parent_shows_no_text(self, user, room):
        parent = send(user, room, "secret")
        services.send_message(user, room.pk, "re", str(uuid.uuid4()), reply_to=parent.pk)
        services.delete_message(user, parent.pk)
        [_, stored] = message_page(user, room.pk)["messages"]
        assert stored["reply_to"]["deleted"] is True
        assert stored["reply_to"]["excerpt"] == ""


class TestEdit:
    def test_the_author_edits_and_every_member_hears_it(self, user, room, published, committed):
        message = send(user, room, "helo")
        edited = committed(services.edit_message, user, message.pk, "hello *there*")
        data = message_dict(edited)
        assert (data["body"], data["edited_at"] is not None) == ("hello *there*", True)
        assert "<em>there</em>" in data["html"]
        assert published == [
            Published("room", room.pk, {"type": "message.updated", "message": data})
        ]

    def test_someone_else_cannot_edit_and_nothing_changes(self, user, other_user, room, published):
        message = send(user, room, "mine")
        published.clear()
        refused("forbidden", services.edit_message, other_user, message.pk, "theirs")
        assert Message.objects.get(pk=message.pk).body == "mine"
        assert published == []

    def test_an_edit_after_the_window_is_refused(self, user, room, settings):
        settings.PARLEY_EDIT_WINDOW = 60
        message = send(user, room, "old")
        Message.objects.filter(pk=message.pk).update(
            created_at=message.created_at - timedelta(seconds=61)
        )
        refused("forbidden", services.edit_message, user, message.pk, "new")

    def test_an_edit_updates_the_mentions(self, user, other_user, room):
        message = send(user, room, "hi @bob")
        edited = services.edit_message(user, message.pk, "hi all")
        assert message_dict(edited)["mentions"] == []

    def test_a_message_in_a_room_you_cannot_see_is_not_found_like_a_missing_one(self, user):
        outsider = UserFactory(username="eve")
        private = RoomFactory(kind="private", members=[user])
        message = send(user, private)
        refused("not_found", services.edit_message, outsider, message.pk, "x")
        refused("not_found", services.edit_message, outsider, 424242, "x")


class TestDelete:
    def test_the_author_deletes_leaving_a_tombstone_with_its_seq(
        self, user, room, published, committed
    ):
        message = send(user, room, "oops")
        Reaction.objects.create(message=message, user=user, emoji="👍")
        committed(services.delete_message, user, message.pk)
        stored = Message.objects.get(pk=message.pk)
        assert (stored.body, stored.html, stored.seq) == ("", "", message.seq)
        assert not Reaction.objects.exists()
        [page] = message_page(user, room.pk)["messages"]
        assert (page["deleted"], page["body"], page["html"], page["reactions"]) == (
            True,
            "",
            "",
            [],
        )
        assert published == [
            Published(
                "room",
                room.pk,
                {"type": "message.deleted", "room": room.pk, "id": message.pk, "seq": 1},
            )
        ]

    def test_a_plain_member_cannot_delete_someone_elses_message(self, user, other_user, room):
        message = send(user, room, "mine")
        refused("forbidden", services.delete_message, other_user, message.pk)
        assert Message.objects.get(pk=message.pk).body == "mine"

    def test_a_room_owner_deletes_someone_elses_message(self, user, other_user, room):
        message = send(other_user, room, "spam")
        services.delete_message(user, message.pk)  # user owns the room
        assert Message.objects.get(pk=message.pk).deleted_at is not None

    def test_in_a_direct_room_only_the_author_deletes(self, user, other_user):
        dm = direct_room(user, other_user)
        message = send(user, dm, "mine")
        refused("forbidden", services.delete_message, other_user, message.pk)

    def test_deleted_messages_are_not_unread(self, user, other_user, room):
        message = send(user, room, "gone")
        services.delete_message(user, message.pk)
        assert queries.room_for_user(other_user, room.pk)["unread"] == 0


class TestReactions:
    def test_a_reaction_is_aggregated_on_the_message_and_published(
        self, user, other_user, room, published, committed
    ):
        message = send(user, room)
        committed(services.react, user, message.pk, "👍", on=True)
        services.react(other_user, message.pk, "👍", on=True)
        services.react(other_user, message.pk, "🎉", on=True)
        [page] = message_page(user, room.pk)["messages"]
        assert page["reactions"] == [
            {"emoji": "👍", "count": 2, "users": [user.pk, other_user.pk]},
            {"emoji": "🎉", "count": 1, "users": [other_user.pk]},
        ]
        assert published[0] == Published(
            "room",
            room.pk,
            {
                "type": "reaction",
                "message": message.pk,
                "room": room.pk,
                "emoji": "👍",
                "user": user.pk,
                "on": True,
            },
        )

    def test_reacting_twice_stores_once_and_publishes_once(self, user, room, published, committed):
        message = send(user, room)
        committed(services.react, user, message.pk, "👍", on=True)
        committed(services.react, user, message.pk, "👍", on=True)
        assert Reaction.objects.count() == 1
        assert len(published) == 1

    def test_taking_a_reaction_back_removes_it(self, user, room):
        message = send(user, room)
        services.react(user, message.pk, "👍", on=True)
        services.react(user, message.pk, "👍", on=False)
        assert not Reaction.objects.exists()

    @pytest.mark.parametrize(
        "emoji",
        ["", "ok", "👍👍", "a👍", "<b>", "👍" + "\u0301" * 40, "🏻", "👍🏽🏽", "👍\u200d" * 9, 7],
    )
    def test_anything_but_one_emoji_is_refused(self, user, room, emoji):
        message = send(user, room)
        refused("bad_request", services.react, user, message.pk, emoji, on=True)
        assert not Reaction.objects.exists()

    @pytest.mark.parametrize(
        "emoji",
        ["👍🏽", "👨‍👩‍👧", "🇫🇷", "❤️", "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "🧑🏿‍🤝‍🧑🏻", "👩🏻‍❤️‍💋‍👨🏼", "#️⃣", "🫠"],
    )
    def test_skin_tones_flags_and_joined_emoji_are_one_emoji(self, user, room, emoji):
        message = send(user, room)
        services.react(user, message.pk, emoji, on=True)
        assert Reaction.objects.get().emoji == emoji

    @pytest.mark.parametrize(("typed", "stored"), [("❤", "❤️"), ("☺", "☺️"), ("👁‍🗨", "👁️‍🗨️")])
    def test_an_emoji_not_fully_qualified_is_stored_in_its_fully_qualified_form(
        self, user, room, typed, stored
    ):
        message = send(user, room)
        services.react(user, message.pk, typed, on=True)
        services.react(user, message.pk, stored, on=True)
        assert list(Reaction.objects.values_list("emoji", flat=True)) == [stored]

    def test_a_reaction_in_a_private_room_you_are_not_in_is_not_found(self, user):
        private = RoomFactory(kind="private", members=[user])
        message = send(user, private)
        refused("not_found", services.react, UserFactory(), message.pk, "👍", on=True)
        assert not Reaction.objects.exists()

    def test_a_reaction_in_a_public_room_before_joining_is_forbidden(self, user):
        public = RoomFactory(members=[user])
        message = send(user, public)
        refused("forbidden", services.react, UserFactory(), message.pk, "👍", on=True)


class TestTyping:
    def test_typing_is_published_to_the_room_and_stores_nothing(
        self, user, room, published, fresh_cache
    ):
        services.typing(user, room.pk)
        [(_to, room_id, frame, _room)] = published
        assert (room_id, frame["type"], frame["user"]["username"]) == (room.pk, "typing", "alice")
        assert not Message.objects.exists()

    def test_typing_is_published_at_most_once_per_interval(
        self, user, room, published, fresh_cache
    ):
        services.typing(user, room.pk)
        services.typing(user, room.pk)
        assert len(published) == 1

    def test_a_typing_frame_within_the_interval_costs_no_query(
        self, user, room, published, fresh_cache, django_assert_num_queries
    ):
        services.typing(user, room.pk)
        with django_assert_num_queries(0):
            services.typing(user, room.pk)
        assert len(published) == 1

    def test_typing_into_a_room_you_cannot_see_is_not_found(self, published, fresh_cache):
        private = RoomFactory(kind="private", members=[UserFactory()])
        refused("not_found", services.typing, UserFactory(), private.pk)
        assert published == []


class TestChangesSinceARevision:
    def test_every_edit_delete_and_reaction_takes_the_rooms_next_revision(self, user, room):
        first, second, third = send(user, room, "a"), send(user, room, "b"), send(user, room, "c")
        services.edit_message(user, first.pk, "a2")
        services.react(user, second.pk, "👍", on=True)
        services.delete_message(user, third.pk)
        room.refresh_from_db()
        assert room.last_rev == 3
        changed = message_page(user, room.pk, changed_after=0)["messages"]
        assert [(m["id"], m["body"]) for m in changed] == [
            (first.pk, "a2"),
            (second.pk, "b"),
            (third.pk, ""),
        ]
        assert changed[1]["reactions"][0]["emoji"] == "👍"

    def test_a_client_that_saw_a_revision_gets_only_later_changes(self, user, room):
        message = send(user, room, "a")
        services.edit_message(user, message.pk, "a2")
        services.edit_message(user, message.pk, "a3")
        page = message_page(user, room.pk, changed_after=2)
        assert page["messages"] == []
        assert page["has_more"] is False

    def test_new_messages_are_not_changes(self, user, room):
        send(user, room, "fresh")
        assert message_page(user, room.pk, changed_after=0)["messages"] == []
        assert queries.room_for_user(user, room.pk)["last_rev"] == 0
