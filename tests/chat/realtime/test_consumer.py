import asyncio
import threading
import uuid
from types import SimpleNamespace

import pytest
from asgiref.sync import sync_to_async

from chat import services
from chat.models import Message, Room
from chat.protocol import frames
from chat.realtime.consumer import (
    MAX_BACKLOG,
    MAX_BUFFERED_BYTES,
    MAX_PENDING_FRAMES,
    ChatConsumer,
)
from chat.realtime.framewriter import DirectWriter, Event
from chat.realtime.hub import Hub
from tests.factories import RoomFactory, UserFactory, direct_room
from tests.support import UnreachablePresence, until
from tests.wsclient import open_tab

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
async def alice(db):
    return await sync_to_async(UserFactory)(username="alice")


@pytest.fixture
async def bob(db):
    return await sync_to_async(UserFactory)(username="bob")


@pytest.fixture
async def general(alice, bob):
    return await sync_to_async(RoomFactory)(name="general", members=[alice, bob])


def send_frame(room_id: int, body: str = "hello", cid: str | None = None) -> dict:
    return {
        "type": "send",
        "room": room_id,
        "body": body,
        "client_msg_id": cid or str(uuid.uuid4()),
    }


count_messages = sync_to_async(lambda: Message.objects.count())


class TestHandshake:
    async def test_anonymous_handshake_is_rejected(self):
        async with open_tab(None) as tab:
            assert not tab.connected

    @pytest.mark.parametrize(
        "origin", [None, "http://127.0.0.1:8001", "https://127.0.0.1:8000", "http://evil.example"]
    )
    async def test_handshake_from_a_foreign_origin_is_rejected(self, alice, origin):
        async with open_tab(alice, origin=origin) as tab:
            assert not tab.connected

    async def test_hello_carries_the_user_and_their_rooms_with_heads(self, alice, bob, general):
        await sync_to_async(services.send_message)(bob, general.pk, "hi", str(uuid.uuid4()))
        async with open_tab(alice) as tab:
            assert tab.connected
            assert tab.hello["user"]["username"] == "alice"
            [room] = tab.hello["rooms"]
            assert (room["id"], room["name"], room["kind"]) == (general.pk, "general", "public")
            assert (room["last_seq"], room["last_read_seq"], room["unread"]) == (1, 0, 1)

    async def test_an_open_socket_keeps_its_user_but_not_its_scope(self, alice, general):
        """Kept for the socket's life, the scope (≈ 1 KiB) would cost every idle tab;
        nothing reads it after connect (the session's key is kept as its id)."""
        async with open_tab(alice) as tab:
            assert tab.connected
            [consumer] = [s for s in Hub.current().sockets if s.user_id == alice.pk]
            assert consumer.scope == {} and tab.communicator.scope == {}
            assert consumer.user.pk == alice.pk and consumer.session_id is not None
            assert consumer.language == "en"
            frame = send_frame(general.pk)
            await tab.send(frame)  # and it still chats
            assert (await tab.receive_type("ack"))["client_msg_id"] == frame["client_msg_id"]


class TestSend:
    async def test_send_is_acked_and_reaches_every_tab_of_every_member_once(
        self, alice, bob, general
    ):
        """The sending tab has the message in its ack; the room's event goes to every
        other tab, the sender's own other tabs included, and not to it again."""
        async with open_tab(alice) as a1, open_tab(alice) as a2, open_tab(bob) as b1:
            cid = str(uuid.uuid4())
            await a1.send(send_frame(general.pk, "hello all", cid))
            ack = await a1.receive_type("ack")
            assert ack["client_msg_id"] == cid
            assert ack["message"]["seq"] == 1
            assert ack["message"]["body"] == "hello all"
            for tab in (a2, b1):
                event = await tab.receive_type("message")
                assert event["message"] == ack["message"]
            # The hub wrote to a2 and b1, so whatever it wrote to a1 is already on its way.
            assert [f["type"] for f in await a1.before_pong() if f["type"] == "message"] == []

    async def test_a_send_stored_on_its_own_skips_the_socket_that_sent_it_too(
        self, alice, bob, general
    ):
        """A mention and a thread reply are stored a send at a time, not with their
        group's statements: the sending socket still has them only in its ack."""
        async with open_tab(alice) as a1, open_tab(alice) as a2:
            root = (await a1.request(send_frame(general.pk, "root"), "ack"))["message"]
            await a2.receive_type("message")
            for extra in ({"body": "hi @bob"}, {"body": "threaded", "thread_root": root["id"]}):
                ack = await a1.request({**send_frame(general.pk), **extra}, "ack")
                assert (await a2.receive_type("message"))["message"] == ack["message"]
            heard = [f["message"]["body"] for f in await a1.before_pong() if f["type"] == "message"]
            assert heard == []

    async def test_non_member_tab_hears_nothing(self, alice, bob, general):
        carol = await sync_to_async(UserFactory)(username="carol")
        async with open_tab(alice) as a1, open_tab(carol) as c1:
            await a1.request(send_frame(general.pk), "ack")
            assert await c1.nothing()

    async def test_retried_client_msg_id_gets_the_same_ack_and_stores_once(self, alice, general):
        async with open_tab(alice) as tab:
            frame = send_frame(general.pk, "once")
            first = await tab.request(frame, "ack")
            second = await tab.request(frame, "ack")
            assert second == first
            assert await tab.nothing()
        assert await count_messages() == 1

    async def test_send_from_the_http_api_reaches_sockets(self, alice, bob, general, client):
        """No socket sent it, so every one hears it, the sender's own tabs included."""
        async with open_tab(bob) as tab, open_tab(alice) as own:
            await sync_to_async(client.force_login)(alice)
            response = await sync_to_async(client.post)(
                f"/api/rooms/{general.pk}/messages",
                {"body": "via http", "client_msg_id": str(uuid.uuid4())},
                content_type="application/json",
            )
            assert response.status_code == 201
            for each in (tab, own):
                assert (await each.receive_type("message"))["message"]["body"] == "via http"


class TestMessageActions:
    async def test_an_edit_reaches_every_tab_and_answers_the_editor(self, alice, bob, general):
        async with open_tab(alice) as a1, open_tab(alice) as a2, open_tab(bob) as b1:
            sent = (await a1.request(send_frame(general.pk, "helo"), "ack"))["message"]
            edit = {"type": "edit", "message": sent["id"], "body": "hello", "request_id": "e1"}
            await a1.send(edit)
            reply = await a1.receive_type("message.updated")
            assert reply["message"]["body"] == "hello"
            for tab in (a2, b1):
                event = await tab.receive_type("message.updated")
                assert event["message"]["edited_at"] == reply["message"]["edited_at"]

    async def test_someone_elses_edit_is_refused_and_changes_nothing(self, alice, bob, general):
        async with open_tab(alice) as a1, open_tab(bob) as b1:
            sent = (await a1.request(send_frame(general.pk, "mine"), "ack"))["message"]
            error = await b1.request({"type": "edit", "message": sent["id"], "body": "x"}, "error")
            assert error["code"] == "forbidden"
            assert (await b1.request({"type": "ping"}, "pong")) == {"type": "pong"}

    async def test_a_delete_reaches_every_member_as_a_tombstone(self, alice, bob, general):
        async with open_tab(alice) as a1, open_tab(bob) as b1:
            sent = (await a1.request(send_frame(general.pk, "oops"), "ack"))["message"]
            await a1.send({"type": "delete", "message": sent["id"]})
            event = await b1.receive_type("message.deleted")
            assert event == {"type": "message.deleted", "room": general.pk, "id": sent["id"],
                             "seq": sent["seq"]}  # fmt: skip
            page = await b1.request({"type": "fetch", "room": general.pk}, "messages")
            assert page["messages"][-1]["deleted"] is True

    async def test_a_reaction_reaches_every_member(self, alice, bob, general):
        async with open_tab(alice) as a1, open_tab(bob) as b1:
            sent = (await a1.request(send_frame(general.pk), "ack"))["message"]
            await b1.send({"type": "react", "message": sent["id"], "emoji": "🎉", "on": True})
            event = await a1.receive_type("reaction")
            assert (event["emoji"], event["user"], event["on"]) == ("🎉", bob.pk, True)

    async def test_typing_reaches_the_other_members_and_is_not_stored(self, alice, bob, general):
        async with open_tab(alice) as a1, open_tab(bob) as b1:
            await a1.send({"type": "typing", "room": general.pk})
            event = await b1.receive_type("typing")
            assert (event["room"], event["user"]["username"]) == (general.pk, "alice")
        assert await count_messages() == 0


class TestFetch:
    async def test_fetch_pages_forward_and_backward_by_seq(self, alice, general):
        for i in range(7):
            await sync_to_async(services.send_message)(
                alice, general.pk, f"m{i + 1}", str(uuid.uuid4())
            )
        async with open_tab(alice) as tab:
            newest = await tab.request(
                {"type": "fetch", "room": general.pk, "limit": 3}, "messages"
            )
            assert [m["seq"] for m in newest["messages"]] == [5, 6, 7]
            assert newest["has_more"] is True
            older = await tab.request(
                {"type": "fetch", "room": general.pk, "before": 5, "limit": 3}, "messages"
            )
            assert [m["seq"] for m in older["messages"]] == [2, 3, 4]
            after = await tab.request(
                {"type": "fetch", "room": general.pk, "after": 4, "limit": 2}, "messages"
            )
            assert [m["seq"] for m in after["messages"]] == [5, 6]
            assert after["has_more"] is True
            tail = await tab.request({"type": "fetch", "room": general.pk, "after": 6}, "messages")
            assert [m["seq"] for m in tail["messages"]] == [7]
            assert tail["has_more"] is False
            assert tail["room"] == general.pk

    async def test_member_may_read_a_public_room_before_joining(self, alice, general):
        carol = await sync_to_async(UserFactory)(username="carol")
        await sync_to_async(services.send_message)(alice, general.pk, "hi", str(uuid.uuid4()))
        async with open_tab(carol) as tab:
            page = await tab.request({"type": "fetch", "room": general.pk}, "messages")
            assert [m["body"] for m in page["messages"]] == ["hi"]


class TestPrivacy:
    @pytest.fixture
    async def hidden_rooms(self, alice, bob):
        carol = await sync_to_async(UserFactory)(username="carol")
        private = await sync_to_async(RoomFactory)(
            kind=Room.Kind.PRIVATE, name="secret", members=[bob]
        )
        dm = await sync_to_async(direct_room)(bob, carol)
        return {"private": private.pk, "dm": dm.pk, "missing": 987654}

    @pytest.mark.parametrize("which", ["private", "dm"])
    async def test_hidden_room_answers_exactly_like_a_missing_room(
        self, alice, hidden_rooms, which
    ):
        async with open_tab(alice) as tab:
            for kind in ("send", "fetch"):
                answers = {}
                for name in (which, "missing"):
                    room = hidden_rooms[name]
                    frame = (
                        send_frame(room, cid="00000000-0000-4000-8000-000000000001")
                        if kind == "send"
                        else {"type": "fetch", "room": room}
                    )
                    answers[name] = await tab.request(frame, "error")
                assert answers[which] == answers["missing"]
                assert answers[which]["code"] == "not_found"
        assert await count_messages() == 0

    async def test_outsider_is_not_subscribed_to_hidden_rooms(self, alice, bob, hidden_rooms):
        async with open_tab(alice) as a1, open_tab(bob) as b1:
            await b1.request(send_frame(hidden_rooms["private"]), "ack")
            assert await a1.nothing()


class TestMembershipChanges:
    async def test_joining_subscribes_open_tabs_at_once(self, alice):
        async with open_tab(alice) as a1, open_tab(alice) as a2:
            room, _ = await sync_to_async(services.create_or_join_room)(alice, "lobby")
            for tab in (a1, a2):
                frame = await tab.receive_type("room")
                assert frame["room"]["id"] == room.pk
                assert frame["room"]["role"] == "owner"
            await a1.request(send_frame(room.pk), "ack")
            assert (await a2.receive_type("message"))["message"]["room"] == room.pk

    async def test_a_dm_reaches_the_other_person_with_its_first_message(self, alice, bob):
        async with open_tab(bob) as b1:
            room, _ = await sync_to_async(services.open_direct)(alice, "bob")
            assert await b1.nothing(0.3)
            error = await b1.request({"type": "fetch", "room": room.pk}, "error")
            assert error["code"] == "not_found"
            await sync_to_async(services.send_message)(alice, room.pk, "psst", str(uuid.uuid4()))
            frame = await b1.receive_type("room")
            assert frame["room"]["kind"] == "direct"
            assert frame["room"]["name"] == "Alice"
            assert (frame["room"]["last_seq"], frame["room"]["unread"]) == (1, 1)
            # The message may also arrive live (the subscription and the publish race, as for
            # any grant); the room's last_seq is what the client catches up from.
            fetch = {"type": "fetch", "room": room.pk, "after": 0}
            page = await b1.request(fetch, "messages")
            assert [m["body"] for m in page["messages"]] == ["psst"]

    async def test_removed_member_stops_hearing_the_room_at_once(self, alice, bob):
        room = await sync_to_async(services.create_private_room)(alice, "team")
        await sync_to_async(services.add_member)(alice, room.pk, "bob")
        async with open_tab(alice) as a1, open_tab(bob) as b1:
            await sync_to_async(services.remove_member)(alice, room.pk, "bob")
            assert (await b1.receive_type("room.removed"))["room"] == room.pk
            await a1.request(send_frame(room.pk), "ack")
            assert await b1.nothing()
            error = await b1.request({"type": "fetch", "room": room.pk}, "error")
            assert error["code"] == "not_found"


class TestKeepAlive:
    async def test_ping_gets_pong(self, alice):
        async with open_tab(alice) as tab:
            assert await tab.request({"type": "ping"}, "pong") == {"type": "pong"}

    async def test_frames_answered_without_waiting_leave_the_next_ones_answered(
        self, alice, general
    ):
        """A ping's worker finishes as it starts (eagerly): the socket must not keep it
        as the worker still running, or nothing after it would be answered."""
        async with open_tab(alice) as tab:
            for request_id in ("p1", "p2", "p3"):
                await tab.send({"type": "ping", "request_id": request_id})
            pongs = [await tab.receive_type("pong") for _ in range(3)]
            assert [pong["request_id"] for pong in pongs] == ["p1", "p2", "p3"]
            assert (await tab.request(send_frame(general.pk), "ack"))["type"] == "ack"
            assert (await tab.request({"type": "ping"}, "pong")) == {"type": "pong"}

    async def test_heads_report_each_rooms_last_seq(self, alice, general, settings):
        settings.PARLEY_HEADS_INTERVAL = 0.1
        await sync_to_async(services.send_message)(alice, general.pk, "hi", str(uuid.uuid4()))
        async with open_tab(alice) as tab:
            heads = await tab.receive_type("heads")
            assert heads["rooms"] == {str(general.pk): 1}

    async def test_read_frame_moves_the_pointer_and_tells_every_tab(self, alice, bob, general):
        await sync_to_async(services.send_message)(bob, general.pk, "hi", str(uuid.uuid4()))
        async with open_tab(alice) as a1, open_tab(alice) as a2:
            await a1.send({"type": "read", "room": general.pk, "seq": 1})
            for tab in (a1, a2):
                frame = await tab.receive_type("read")
                assert frame == {"type": "read", "room": general.pk, "user": alice.pk, "seq": 1}


# ROOM and CID are replaced by a real room id and a fresh UUID.
BAD_FRAMES = [
    ("not json", "bad_request"),
    ("[1, 2, 3]", "bad_request"),
    ('"just a string"', "bad_request"),
    ("null", "bad_request"),
    ('{"type": "shout"}', "bad_request"),
    ('{"no_type": 1}', "bad_request"),
    ('{"type": 5}', "bad_request"),
    ('{"type": "send"}', "bad_request"),
    ('{"type": "send", "room": "1", "body": "x", "client_msg_id": "CID"}', "bad_request"),
    ('{"type": "send", "room": true, "body": "x", "client_msg_id": "CID"}', "bad_request"),
    ('{"type": "send", "room": 1.5, "body": "x", "client_msg_id": "CID"}', "bad_request"),
    ('{"type": "send", "room": ROOM, "body": 42, "client_msg_id": "CID"}', "bad_request"),
    ('{"type": "send", "room": ROOM, "body": "x", "client_msg_id": "nope"}', "bad_request"),
    ('{"type": "send", "room": ROOM, "body": "x"}', "bad_request"),
    ('{"type": "send", "room": ROOM, "body": "  ", "client_msg_id": "CID"}', "bad_request"),
    ('{"type": "send", "room": ROOM, "body": "\\u0000", "client_msg_id": "CID"}', "bad_request"),
    ('{"type": "send", "room": ROOM, "body": "\\ud800", "client_msg_id": "CID"}', "bad_request"),
    ('{"type": "send", "room": ROOM, "body": "BIG", "client_msg_id": "CID"}', "too_large"),
    ('{"type": "send", "room": -1, "body": "x", "client_msg_id": "CID"}', "bad_request"),
    (
        '{"type": "send", "room": 1' + "0" * 30 + ', "body": "x", "client_msg_id": "CID"}',
        "bad_request",
    ),
    ('{"type": "fetch", "room": ROOM, "limit": 201}', "bad_request"),
    ('{"type": "fetch", "room": ROOM, "limit": 0}', "bad_request"),
    ('{"type": "fetch", "room": ROOM, "after": 1, "before": 5}', "bad_request"),
    ('{"type": "fetch", "room": ROOM, "after": "1"}', "bad_request"),
    ('{"type": "read", "room": ROOM}', "bad_request"),
    ('{"type": "fetch", "room": 424242}', "not_found"),
    ('{"type": "edit", "body": "x"}', "bad_request"),
    ('{"type": "edit", "message": 424242, "body": "x"}', "not_found"),
    ('{"type": "delete", "message": "1"}', "bad_request"),
    ('{"type": "react", "message": 424242, "emoji": "👍", "on": "yes"}', "bad_request"),
    ('{"type": "react", "message": 424242, "emoji": "ok"}', "bad_request"),
    ('{"type": "typing"}', "bad_request"),
    ('{"type": "typing", "room": 424242}', "not_found"),
    (
        '{"type": "send", "room": ROOM, "body": "x", "client_msg_id": "CID", "reply_to": 0}',
        "bad_request",
    ),
    (
        '{"type": "send", "room": ROOM, "body": "x", "client_msg_id": "CID", "reply_to": 424242}',
        "bad_request",
    ),
    ("[" * 100_000 + "]" * 100_000, "too_large"),
    ("[" * 20_000 + "]" * 20_000, "too_large"),
    ('{"type": "ping", "x": ' + "[" * 100 + "]" * 100 + "}", "too_large"),
    ('{"type": "send", "body": "' + "x" * 70_000 + '"}', "too_large"),
    ("{" + '"a":1,' * 5000 + '"type":"ping"' + "}", "pong"),
]


def real_frame(text: str, room_id: int) -> str:
    return (
        text.replace("ROOM", str(room_id))
        .replace("CID", str(uuid.uuid4()))
        .replace("BIG", "x" * 4001)
    )


class TestBadInput:
    @pytest.mark.parametrize(("text", "code"), BAD_FRAMES, ids=range(len(BAD_FRAMES)))
    async def test_bad_frame_gets_an_error_and_the_socket_stays_usable(
        self, alice, general, text, code
    ):
        async with open_tab(alice) as tab:
            await tab.send(real_frame(text, general.pk))
            reply = await tab.receive()
            if code == "pong":
                assert reply == {"type": "pong"}
            else:
                assert reply["type"] == "error"
                assert reply["code"] == code
                assert reply["detail"]
            assert await tab.request({"type": "ping"}, "pong") == {"type": "pong"}
            ack = await tab.request(send_frame(general.pk, "still works"), "ack")
            assert ack["message"]["seq"] == 1
        assert await count_messages() == 1

    async def test_error_for_a_refused_send_carries_its_client_msg_id(self, alice, general):
        async with open_tab(alice) as tab:
            cid = str(uuid.uuid4())
            error = await tab.request(send_frame(general.pk, "", cid), "error")
            assert error["client_msg_id"] == cid

    async def test_binary_frame_gets_an_error(self, alice):
        async with open_tab(alice) as tab:
            await tab.communicator.send_to(bytes_data=b"\x00\x01")
            assert (await tab.receive())["code"] == "bad_request"
            assert await tab.request({"type": "ping"}, "pong") == {"type": "pong"}


class TestRequestIds:
    async def test_replies_and_errors_echo_the_request_id(self, alice, general):
        async with open_tab(alice) as tab:
            page = await tab.request(
                {"type": "fetch", "room": general.pk, "after": 0, "request_id": "r1"}, "messages"
            )
            assert (page["request_id"], page["after"], page["before"]) == ("r1", 0, None)
            pong = await tab.request({"type": "ping", "request_id": "r2"}, "pong")
            assert pong["request_id"] == "r2"
            error = await tab.request(
                {"type": "fetch", "room": 424242, "request_id": "r3"}, "error"
            )
            assert (error["code"], error["request_id"]) == ("not_found", "r3")
            bad = await tab.request({"type": "fetch", "room": "x", "request_id": "r4"}, "error")
            assert (bad["code"], bad["request_id"]) == ("bad_request", "r4")

    async def test_a_request_id_that_is_not_a_short_string_is_refused(self, alice):
        async with open_tab(alice) as tab:
            error = await tab.request({"type": "ping", "request_id": "x" * 65}, "error")
            assert error["code"] == "bad_request"
            assert "request_id" not in error


def asgi_path_consumer(base_send) -> ChatConsumer:
    """A connected consumer whose frames go through ASGI `send` (not uvicorn's transport)."""
    consumer = ChatConsumer()
    consumer.user_id, consumer._held, consumer._closing, consumer._backlog = 1, None, False, 0
    consumer._writer = None
    consumer.base_send = base_send
    return consumer


class TestLeaving:
    async def test_a_client_that_leaves_mid_handshake_leaves_nothing_in_the_hub(
        self, alice, general
    ):
        consumer = ChatConsumer()
        consumer.scope = {"user": alice, "language": "en"}

        async def client_gone(*args, **kwargs):
            raise OSError("the client left")

        consumer.accept = client_gone
        await consumer.connect()
        hub = Hub.current()
        assert consumer not in hub.sockets
        assert (await hub.presence.statuses([alice.pk], 0.0))[alice.pk]["status"] == "offline"

    async def test_a_socket_is_taken_and_chats_while_presence_is_out_of_reach(
        self, alice, general, monkeypatch
    ):
        """Redis away (its presence store): the handshake still succeeds, the hello has
        no statuses, and sends are acked."""
        monkeypatch.setattr(Hub.current(), "presence", UnreachablePresence())
        async with open_tab(alice) as tab:
            assert tab.connected and tab.hello["presence"] == {}
            frame = send_frame(general.pk)
            await tab.send(frame)
            assert (await tab.receive_type("ack"))["client_msg_id"] == frame["client_msg_id"]
            await tab.send({"type": "presence", "status": "idle"})
            await tab.send({"type": "ping"})
            assert (await tab.receive())["type"] == "pong"  # no error for the check-in

    async def test_a_database_out_of_reach_answers_unavailable_and_logs_one_line(
        self, alice, general, monkeypatch, caplog
    ):
        """PostgreSQL away: each send is answered `unavailable` with its client_msg_id (the
        client retries it), the socket stays open, and the log has one line per frame,
        not a traceback."""
        from django.db import OperationalError

        def away(*args, **kwargs):
            raise OperationalError("connection refused")

        frame = send_frame(general.pk)
        async with open_tab(alice) as tab:
            with monkeypatch.context() as patched:
                patched.setattr(services, "send_messages", away)
                await tab.send(frame)
                error = await tab.receive_type("error")
            assert error["code"] == "unavailable"
            assert error["client_msg_id"] == frame["client_msg_id"]
            await tab.send(frame)
            assert (await tab.receive_type("ack"))["client_msg_id"] == frame["client_msg_id"]
        [record] = [r for r in caplog.records if "database unavailable" in r.getMessage()]
        assert record.exc_info is None and "OperationalError" in record.getMessage()


class TestBackpressure:
    async def test_a_socket_that_cannot_keep_up_is_closed_with_1013_once_and_logged(
        self, caplog, monkeypatch
    ):
        monkeypatch.setattr(ChatConsumer, "overloaded_total", 0)  # other tests' closes
        stuck = asyncio.Event()
        closes = []

        async def base_send(message):
            if message["type"] == "websocket.close":
                closes.append(message["code"])
            else:
                await stuck.wait()

        consumer = asgi_path_consumer(base_send)
        for _ in range(MAX_BACKLOG + 5):
            consumer.deliver(Event("frame"))
        await consumer._closer
        assert closes == [1013]
        assert (
            f"{MAX_BACKLOG} frames waiting for a slow client "
            "(1 sockets closed for overload in this process)"
        ) in caplog.text
        stuck.set()
        await until(lambda: consumer._backlog == 0, "the stuck sends to finish")

    async def test_a_direct_socket_whose_client_lags_past_the_buffer_bound_is_closed_with_1013(
        self,
    ):
        closes = []

        async def base_send(message):
            closes.append(message["code"])

        consumer = asgi_path_consumer(base_send)
        transport = SimpleNamespace(
            get_write_buffer_size=lambda: MAX_BUFFERED_BYTES + 1, is_closing=lambda: False
        )
        consumer._writer = DirectWriter(SimpleNamespace(transport=transport))
        consumer.deliver(Event("frame"))
        consumer.deliver(Event("frame"))
        await consumer._closer
        assert closes == [1013]

    async def test_a_client_that_keeps_up_never_builds_a_backlog(self):
        sent = []

        async def base_send(message):
            sent.append(message["text"])

        consumer = asgi_path_consumer(base_send)
        for n in range(1000):
            consumer.deliver(Event(str(n)))
        assert sent == [str(n) for n in range(1000)]
        assert consumer._backlog == 0


class TestFailures:
    async def test_a_frame_whose_answer_cannot_be_sent_closes_the_socket_and_leaves_no_ghost(
        self, alice, monkeypatch, caplog
    ):
        encode = frames.encode

        def unsendable(frame):
            if frame["type"] in ("pong", "error"):
                raise UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed")
            return encode(frame)

        async with open_tab(alice) as tab:
            monkeypatch.setattr(frames, "encode", unsendable)
            await tab.send({"type": "ping"})
            assert await tab.close_code() == 1011
            hub = Hub.current()
            assert not [s for s in hub.sockets if s.user_id == alice.pk]
            statuses = await hub.presence.statuses([alice.pk], 0.0)
            assert statuses[alice.pk]["status"] == "offline"
        assert "closing it" in caplog.text


class TestPendingFrames:
    @pytest.fixture
    def held_sends(self, monkeypatch):
        """Sends that wait in the database thread until released: (started, release, done)."""
        started, release = threading.Event(), threading.Event()
        send_messages = services.send_messages

        def held(*args, **kwargs):
            started.set()
            release.wait(5)
            return send_messages(*args, **kwargs)

        monkeypatch.setattr(services, "send_messages", held)
        yield started, release
        release.set()

    async def test_frames_past_the_bound_close_the_socket_with_1008(
        self, alice, general, held_sends
    ):
        _started, release = held_sends
        async with open_tab(alice) as tab:
            for _ in range(MAX_PENDING_FRAMES + 2):
                await tab.send(send_frame(general.pk))
            assert await tab.close_code() == 1008
            release.set()
        assert await count_messages() <= 1

    async def test_frames_a_client_left_unanswered_are_dropped_when_it_goes(
        self, alice, general, held_sends
    ):
        started, release = held_sends
        async with open_tab(alice) as tab:
            [consumer] = [s for s in Hub.current().sockets if s.user_id == alice.pk]
            for _ in range(10):
                await tab.send(send_frame(general.pk))
            await sync_to_async(started.wait)(2)
        release.set()
        if consumer._worker is not None:
            await asyncio.wait_for(consumer._worker, 5)
        assert await count_messages() == 1

    async def test_a_send_in_flight_when_its_socket_closes_commits_before_the_socket_lets_go(
        self, alice, bob, general, held_sends, monkeypatch
    ):
        """A server stopping (1012) lets each socket finish the frame it is answering: the
        send commits and reaches the room before the socket leaves the hub; the frame
        queued behind it is dropped (the client resends it, with the same client_msg_id)."""
        started, release = held_sends
        order = []
        async with open_tab(bob) as listener, open_tab(alice) as tab:
            hub = Hub.current()
            [consumer] = [s for s in hub.sockets if s.user_id == alice.pk]
            detach = hub.detach

            async def recorded_detach(socket):
                order.append("detached" if socket is consumer else "other")
                await detach(socket)

            monkeypatch.setattr(hub, "detach", recorded_detach)
            await tab.send(send_frame(general.pk, "in flight"))
            await tab.send(send_frame(general.pk, "queued behind it"))
            await sync_to_async(started.wait)(2)
            leaving = asyncio.create_task(consumer.disconnect(1012))
            await until(lambda: not consumer._pending, "the goodbye to drop the queued frame")
            order.append("released")
            release.set()
            await asyncio.wait_for(leaving, 5)
            heard = await listener.receive_type("message")
        assert order[:2] == ["released", "detached"]
        assert heard["message"]["body"] == "in flight"
        assert await count_messages() == 1
