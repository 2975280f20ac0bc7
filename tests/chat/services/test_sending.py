"""Group commit: sends stored together in one transaction (chat.services.sending).

Each send of a group keeps its own seq, idempotency, access check and answer; one
that fails or is refused rolls back only itself; events go out after the commit.
"""

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chat import services
from chat.errors import ChatError
from chat.models import Block, Message, Room
from chat.services import SendRequest, sql_group
from chat.services import threads as thread_service
from tests.factories import RoomFactory, UserFactory, direct_room, send, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def rooms(user, other_user):
    return [RoomFactory(name=f"room {i}", members=[user, other_user]) for i in range(3)]


def request(user, room, body="hello", client_msg_id=None, **kwargs) -> SendRequest:
    return SendRequest(user, room.pk, body, client_msg_id or str(uuid.uuid4()), **kwargs)


def seqs(room) -> list[int]:
    return list(Message.objects.filter(room=room).order_by("seq").values_list("seq", flat=True))


def test_each_send_of_a_group_takes_its_own_rooms_next_seq_in_the_order_they_came(
    user, other_user, rooms, published, committed
):
    a, b, c = rooms
    send(user, b, "before")  # b's next seq is 2
    group = [
        request(user, c, "c1"),
        request(other_user, a, "a1"),
        request(user, b, "b2"),
        request(other_user, a, "a2"),
        request(user, c, "c2"),
    ]
    published.clear()
    outcomes = committed(services.send_messages, group)
    assert [(m.room_id, m.seq, m.body, created) for m, created in outcomes] == [
        (c.pk, 1, "c1", True),
        (a.pk, 1, "a1", True),
        (b.pk, 2, "b2", True),
        (a.pk, 2, "a2", True),
        (c.pk, 2, "c2", True),
    ]
    # After the one commit, each room's events in seq order (rooms in id order).
    assert [(p.target, p.frame["message"]["seq"]) for p in published] == [
        (a.pk, 1),
        (a.pk, 2),
        (b.pk, 2),
        (c.pk, 1),
        (c.pk, 2),
    ]
    assert [Room.objects.get(pk=r.pk).last_seq for r in rooms] == [2, 2, 2]


def test_nothing_is_published_before_the_shared_commit(
    user, rooms, published, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.send_messages([request(user, rooms[0]), request(user, rooms[1])])
    assert published == []
    for callback in callbacks:
        callback()
    assert [p.brief for p in published] == [
        ("room", rooms[0].pk, "message"),
        ("room", rooms[1].pk, "message"),
    ]


def test_a_bad_send_among_good_ones_fails_only_itself(
    user, other_user, rooms, published, committed
):
    a, b, _c = rooms
    stranger = UserFactory(username="stranger")
    stored = send(user, a, "first")
    not_mine = upload(other_user, a)
    published.clear()
    group = [
        request(user, a, "good 1"),
        request(stranger, a, "not a member"),
        request(user, b, "x" * 10_000),
        request(user, a, "retried", client_msg_id=stored.client_msg_id),
        request(user, a, "", attachments=(not_mine.pk,)),  # fails inside the transaction
        request(user, a, "good 2"),
        request(user, Room(pk=987_654), "no such room"),
    ]
    outcomes = committed(services.send_messages, group)
    good1, member, too_long, retry, attachment, good2, missing = outcomes
    assert (good1[0].seq, good1[1]) == (2, True)
    assert (good2[0].seq, good2[1]) == (3, True)
    assert isinstance(member, ChatError) and member.code == "forbidden"  # a public room
    assert isinstance(too_long, ChatError) and too_long.code == "too_large"
    assert retry[0].pk == stored.pk and retry[1] is False
    assert isinstance(attachment, ChatError) and attachment.code == "bad_request"
    assert isinstance(missing, ChatError) and missing.code == "not_found"
    for refusal, sent in [(member, group[1]), (too_long, group[2]), (attachment, group[4])]:
        assert refusal.client_msg_id == sent.client_msg_id
    # The refused sends gave their seqs back: no gap, and only the good ones were told.
    assert seqs(a) == [1, 2, 3] and seqs(b) == []
    assert Room.objects.get(pk=a.pk).last_seq == 3
    assert [p.frame["message"]["body"] for p in published] == ["good 1", "good 2"]
    assert Message.objects.filter(attachments=not_mine).count() == 0


def test_a_send_to_a_private_room_by_a_non_member_is_told_no_such_room(user, published):
    outsider = UserFactory(username="outsider")
    room = RoomFactory(name="closed", kind=Room.Kind.PRIVATE, members=[user])
    [ok, refused] = services.send_messages([request(user, room), request(outsider, room)])
    assert ok[1] is True
    assert isinstance(refused, ChatError) and refused.code == "not_found"


def test_an_error_after_a_sends_event_was_queued_takes_the_event_back_with_it(
    user, rooms, published, committed, monkeypatch
):
    a = rooms[0]
    root = send(user, a, "root")
    published.clear()
    note_reply = thread_service.note_reply

    def failing_for_one(root_id, reply):
        if reply.body == "breaks":
            raise RuntimeError("boom")
        note_reply(root_id, reply)

    monkeypatch.setattr(thread_service, "note_reply", failing_for_one)
    outcomes = committed(
        services.send_messages,
        [
            request(user, a, "fine", thread_root=root.pk),
            request(user, a, "breaks", thread_root=root.pk),
            request(user, a, "after", thread_root=root.pk),
        ],
    )
    assert isinstance(outcomes[1], RuntimeError)
    assert [(m.body, m.seq) for m, _created in (outcomes[0], outcomes[2])] == [
        ("fine", 2),
        ("after", 3),
    ]
    bodies = [p.frame["message"]["body"] for p in published if p.frame["type"] == "message"]
    assert bodies == ["fine", "after"]
    root.refresh_from_db()
    assert root.thread_count == 2


def test_a_retry_inside_one_group_is_stored_once_and_both_get_the_message(
    user, other_user, rooms, published, committed
):
    cid = str(uuid.uuid4())
    a = rooms[0]
    outcomes = committed(
        services.send_messages,
        [
            request(user, a, "once", client_msg_id=cid),
            request(other_user, a, "between"),
            request(user, a, "once", client_msg_id=cid),
        ],
    )
    (first, created), (_between, _), (again, created_again) = outcomes
    assert (created, created_again) == (True, False)
    assert again.pk == first.pk and again.seq == 1
    assert seqs(a) == [1, 2]
    assert [p.frame["message"]["body"] for p in published] == ["once", "between"]


def test_a_retry_in_a_later_group_gets_the_stored_message(user, rooms, published, committed):
    a = rooms[0]
    cid = str(uuid.uuid4())
    [(first, _)] = committed(services.send_messages, [request(user, a, "x", client_msg_id=cid)])
    later = committed(
        services.send_messages,
        [request(user, a, "new"), request(user, a, "x", client_msg_id=cid)],
    )
    assert (later[0][0].seq, later[0][1]) == (2, True)
    assert (later[1][0].pk, later[1][1]) == (first.pk, False)
    assert seqs(a) == [1, 2]


def test_a_client_msg_id_reused_in_another_room_within_a_group_is_refused(user, rooms):
    cid = str(uuid.uuid4())
    first, second = services.send_messages(
        [request(user, rooms[0], client_msg_id=cid), request(user, rooms[1], client_msg_id=cid)]
    )
    assert first[1] is True
    assert isinstance(second, ChatError) and second.code == "bad_request"
    assert seqs(rooms[1]) == []


def test_a_blocked_direct_send_fails_alone(user, other_user, rooms, published):
    dm = direct_room(user, other_user)
    Block.objects.create(blocker=other_user, blocked=user)
    blocked, fine = services.send_messages([request(user, dm), request(user, rooms[0])])
    assert isinstance(blocked, ChatError) and blocked.code == "forbidden"
    assert fine[1] is True and seqs(dm) == []


def test_each_refusal_is_said_in_its_senders_language(user, other_user, rooms):
    """Refused before the transaction (too long) and after it (blocked), in runs of one
    language and alone, whatever the group's order."""
    too_long = "x" * 10_000
    dm = direct_room(user, other_user)
    Block.objects.create(blocker=other_user, blocked=user)
    languages = ["de", "de", "en", "de", None]
    outcomes = services.send_messages(
        [request(user, rooms[0], too_long, language=lang) for lang in languages]
        + [request(user, dm, language=lang) for lang in languages]
    )
    long_de, long_en = outcomes[0].detail, outcomes[2].detail
    blocked_de, blocked_en = outcomes[5].detail, outcomes[7].detail
    assert long_de.startswith("Eine Nachricht") and not long_en.startswith("Eine")
    assert blocked_de == "Diese Person nimmt keine Nachrichten von dir an."
    assert blocked_en == "This person does not take your messages."
    assert [o.detail for o in outcomes] == [
        *(long_de, long_de, long_en, long_de, long_en),
        *(blocked_de, blocked_de, blocked_en, blocked_de, blocked_en),
    ]


def statements(captured) -> list[str]:
    """Each statement's first word inside the group's transaction (a savepoint of the
    test's own)."""
    words = [q["sql"].split()[0] for q in captured.captured_queries]
    return words[words.index("SAVEPOINT") + 1 : -1]


def test_a_group_of_plain_sends_costs_three_statements_whatever_its_size(user, other_user, rooms):
    for n in (1, 4, 8):
        group = [request(user, rooms[i % 3]) for i in range(n)]
        with CaptureQueriesContext(connection) as captured:
            outcomes = services.send_messages(group)
        assert all(created for _m, created in outcomes)
        # One UPDATE takes every room's seqs (and locks them), one SELECT reads every
        # sender's state, one INSERT stores every message.
        assert statements(captured) == ["UPDATE", "SELECT", "INSERT"], n
    assert [Room.objects.get(pk=r.pk).last_seq for r in rooms] == [6, 4, 3]


def test_a_room_with_a_send_that_could_fail_later_goes_a_send_at_a_time(user, rooms):
    with CaptureQueriesContext(connection) as captured:
        services.send_messages([request(user, rooms[0]), request(user, rooms[1], "hi @bob")])
    # The group's statements (the mention's room locked by its UPDATE too), then the
    # mention's send under a savepoint: its seq, its state, its row, its mention.
    assert statements(captured) == [
        *("UPDATE", "SELECT", "INSERT"),
        *("SAVEPOINT", "UPDATE", "SELECT", "INSERT", "INSERT", "RELEASE"),
    ]


def test_a_mixed_group_answers_each_send_and_gives_back_the_refused_seqs(
    user, other_user, rooms, published, committed
):
    a, b, c = rooms
    stranger = UserFactory(username="stranger")
    stored = send(user, a, "first")
    services.leave_room(other_user, c.pk)
    published.clear()
    group = [
        request(user, a, "a2"),
        request(stranger, a, "not a member"),
        request(user, a, "retried", client_msg_id=stored.client_msg_id),
        request(other_user, b, "b1"),
        request(other_user, c, "left"),
        request(user, a, "a3"),
        request(user, b, "b2"),
    ]
    with CaptureQueriesContext(connection) as captured:
        outcomes = committed(services.send_messages, group)
    a2, member, retry, b1, left, a3, b2 = outcomes
    assert [(m.room_id, m.seq, m.body, created) for m, created in (a2, b1, a3, b2)] == [
        (a.pk, 2, "a2", True),
        (b.pk, 1, "b1", True),
        (a.pk, 3, "a3", True),
        (b.pk, 2, "b2", True),
    ]
    assert isinstance(member, ChatError) and member.code == "forbidden"
    assert isinstance(left, ChatError) and left.code == "forbidden"
    assert (retry[0].pk, retry[1]) == (stored.pk, False)
    # One more UPDATE gives the three refusals' seqs back; their answers are read after
    # the commit.
    assert statements(captured)[:4] == ["UPDATE", "SELECT", "INSERT", "UPDATE"]
    assert seqs(a) == [1, 2, 3] and seqs(b) == [1, 2] and seqs(c) == []
    assert [Room.objects.get(pk=r.pk).last_seq for r in rooms] == [3, 2, 0]
    c.refresh_from_db()
    assert c.last_message_at is None
    assert [(p.target, p.frame["message"]["body"]) for p in published] == [
        (a.pk, "a2"),
        (a.pk, "a3"),
        (b.pk, "b1"),
        (b.pk, "b2"),
    ]


def test_a_retry_stored_meanwhile_by_another_process_sends_the_group_a_send_at_a_time(
    user, other_user, rooms, monkeypatch, committed
):
    a = rooms[0]
    stored = send(user, a, "first")
    reads = sql_group.sender_states

    def missing_the_retry(sends):  # as if the retry committed after the SELECT
        return [(role, None, blocked) for role, _earlier, blocked in reads(sends)]

    monkeypatch.setattr(sql_group, "sender_states", missing_the_retry)
    outcomes = committed(
        services.send_messages,
        [
            request(user, a, "new"),
            request(user, a, "again", client_msg_id=stored.client_msg_id),
            request(other_user, a, "after"),
        ],
    )
    new, again, after = outcomes
    assert (new[0].seq, after[0].seq) == (2, 3)
    assert (again[0].pk, again[1]) == (stored.pk, False)
    assert seqs(a) == [1, 2, 3]


def test_a_direct_rooms_first_message_in_a_group_admits_the_peer(user, other_user, rooms):
    dm = direct_room(user, other_user)
    dm.memberships.filter(user=other_user).delete()
    first, fine, second = services.send_messages(
        [request(user, dm, "hi"), request(user, rooms[0]), request(user, dm, "there")]
    )
    assert [(m.seq, created) for m, created in (first, second)] == [(1, True), (2, True)]
    assert fine[1] is True
    assert dm.memberships.filter(user=other_user).exists()


def test_a_refused_send_leaves_the_rooms_last_message_time_as_it_was(user, rooms):
    stranger = UserFactory(username="stranger")
    a, b = rooms[0], rooms[1]
    stored = send(user, a, "kept")
    services.send_messages([request(stranger, a), request(stranger, b)])
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.last_seq, a.last_message_at) == (1, stored.created_at)
    assert (b.last_seq, b.last_message_at) == (0, None)
