"""Threads (chat.services.threads): replies under a root, its summary, the API and search."""

import uuid

import pytest
from django.test import Client

from chat import queries, services
from chat.models import Message
from chat.protocol.frames import message_dict
from chat.protocol.schema import check_frame
from tests.factories import RoomFactory, UserFactory, send
from tests.support import refused

pytestmark = pytest.mark.django_db


@pytest.fixture
def room(user, other_user):
    return RoomFactory(name="general", members=[user, other_user])


def reply(user, room, root, body="in thread", **extra) -> Message:
    return services.send_message(
        user, room.pk, body, str(uuid.uuid4()), thread_root=root.pk, **extra
    )[0]


def api_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


class TestReplies:
    def test_a_reply_takes_the_rooms_seq_and_the_root_counts_it_with_a_new_rev(
        self, user, other_user, room, published, committed
    ):
        root = send(user, room, "root")
        published.clear()
        answer = committed(reply, other_user, room, root)
        data = message_dict(answer)
        assert (data["seq"], data["thread_root"], data["also_in_room"]) == (2, root.pk, False)
        assert data["thread"] is None
        [created, updated] = published
        assert created.frame == {"type": "message", "message": data}
        assert updated.frame["type"] == "message.updated"
        summary = updated.frame["message"]["thread"]
        assert summary == {
            "replies": 1,
            "last_reply_seq": 2,
            "last_reply_at": data["created_at"],
            "repliers": [message_dict(answer)["author"]],
        }
        root.refresh_from_db()
        room.refresh_from_db()
        assert root.rev == room.last_rev == updated.frame["message"]["rev"] == 1

    def test_repliers_are_named_most_recent_first_once_each(self, user, other_user, room):
        root = send(user, room, "root")
        for author in (other_user, user, other_user):
            reply(author, room, root)
        stored = message_dict(_fresh(root))
        assert stored["thread"]["replies"] == 3
        assert [u["id"] for u in stored["thread"]["repliers"]] == [other_user.pk, user.pk]
        assert stored["thread"]["last_reply_seq"] == 4

    def test_also_in_room_is_kept_on_the_reply(self, user, room):
        root = send(user, room, "root")
        answer = reply(user, room, root, also_in_room=True)
        assert message_dict(answer)["also_in_room"] is True

    @pytest.mark.parametrize("target", ["reply", "other room", "deleted", "missing"])
    def test_a_root_must_be_a_live_top_level_message_of_the_room(
        self, user, other_user, room, target
    ):
        root = send(user, room, "root")
        elsewhere = RoomFactory(name="elsewhere", members=[user])
        roots = {
            "reply": lambda: reply(user, room, root),
            "other room": lambda: send(user, elsewhere, "there"),
            "deleted": lambda: services.delete_message(user, send(user, room, "gone").pk),
            "missing": lambda: Message(pk=2**40),
        }
        bad = roots[target]()
        count = Message.objects.count()
        refused("bad_request", reply, user, room, bad)
        assert Message.objects.count() == count

    def test_only_members_post_in_a_thread(self, user, room):
        root = send(user, room, "root")
        outsider = UserFactory(username="carol")
        refused("forbidden", reply, outsider, room, root)  # a public room: join first

    def test_deleting_a_reply_counts_the_thread_again(
        self, user, other_user, room, published, committed
    ):
        root = send(user, room, "root")
        first = reply(other_user, room, root, "one")
        reply(user, room, root, "two")
        published.clear()
        committed(services.delete_message, user, Message.objects.get(body="two").pk)
        assert [p.frame["type"] for p in published] == ["message.deleted", "message.updated"]
        summary = published[1].frame["message"]["thread"]
        assert (summary["replies"], summary["last_reply_seq"]) == (1, first.seq)
        assert [u["username"] for u in summary["repliers"]] == ["bob"]
        committed(services.delete_message, other_user, first.pk)
        assert published[-1].frame["message"]["thread"] is None


def _fresh(message: Message) -> Message:
    return queries.with_extras([queries.messages_with_authors().get(pk=message.pk)])[0]


class TestUnread:
    def test_hidden_replies_count_as_unread_only_when_they_mention_the_reader(
        self, user, other_user, room
    ):
        root = send(other_user, room, "root")
        reply(other_user, room, root, "quiet")
        reply(other_user, room, root, "hey @alice")
        reply(other_user, room, root, "loud", also_in_room=True)
        [mine] = queries.rooms_for_user(user)
        assert (mine["unread"], mine["unread_mentions"]) == (3, 1)  # root, @alice, loud


class TestApi:
    def test_post_with_thread_root_and_get_the_thread_in_pages(self, user, other_user, room):
        root = send(user, room, "root")
        alice, bob = api_client(user), api_client(other_user)
        for n in range(3):
            response = bob.post(
                f"/api/rooms/{room.pk}/messages",
                {"body": f"r{n}", "client_msg_id": str(uuid.uuid4()), "thread_root": root.pk},
                content_type="application/json",
            )
            assert response.status_code == 201
            check_frame({"type": "message", "message": response.json()})
            assert response.json()["thread_root"] == root.pk
        page = alice.get(f"/api/messages/{root.pk}/thread?limit=2").json()
        assert page["root"]["thread"]["replies"] == 3
        assert [m["body"] for m in page["replies"]] == ["r1", "r2"]
        assert page["has_more"] is True
        older = alice.get(f"/api/messages/{root.pk}/thread?before={page['replies'][0]['seq']}")
        assert [m["body"] for m in older.json()["replies"]] == ["r0"]
        assert older.json()["has_more"] is False
        newer = alice.get(f"/api/messages/{page['replies'][0]['id']}/thread?after=2").json()
        assert newer["root"]["id"] == root.pk  # a reply's id opens its root's thread
        assert [m["body"] for m in newer["replies"]] == ["r1", "r2"]
        check_frame({"type": "message", "message": newer["root"]})

    def test_a_thread_in_a_room_one_may_not_read_is_not_found(self, user, other_user):
        private = RoomFactory(name="staff", kind="private", members=[user])
        root = send(user, private, "secret")
        response = api_client(other_user).get(f"/api/messages/{root.pk}/thread")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
        missing = api_client(other_user).get("/api/messages/999999/thread")
        assert missing.json() == response.json()

    def test_a_public_rooms_thread_is_readable_before_joining(self, user, other_user):
        lobby = RoomFactory(name="lobby", members=[user])
        root = send(user, lobby, "root")
        reply(user, lobby, root)
        page = api_client(other_user).get(f"/api/messages/{root.pk}/thread").json()
        assert [m["body"] for m in page["replies"]] == ["in thread"]

    def test_bad_paging_is_refused(self, user, room):
        root = send(user, room, "root")
        response = api_client(user).get(f"/api/messages/{root.pk}/thread?after=1&before=3")
        assert response.status_code == 400


class TestSearch:
    def test_a_thread_reply_is_found_and_carries_its_root(self, user, other_user, room):
        root = send(user, room, "root")
        reply(other_user, room, root, "needle here")
        [found] = queries.search_messages(user, "needle")["results"]
        assert found["thread_root"] == root.pk
