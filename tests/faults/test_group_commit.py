"""Group commit under concurrency: sends that reach the database thread together share
one transaction (chat.services.sending, chat.realtime.dbcalls.batched_together).

Over real sockets, the sends queued while the database thread is busy go over in one
hop and one transaction, each answered on its own. On PostgreSQL, groups committed
at once from several connections, touching the same rooms in different orders,
neither deadlock nor lose a send.
"""

import random
import threading
import traceback
import uuid
from collections import defaultdict

import pytest
from asgiref.sync import sync_to_async
from django.db import connection

from chat import services
from chat.models import Message, Room
from chat.realtime.dbcalls import batcher
from chat.services import SendRequest
from tests.factories import RoomFactory, UserFactory
from tests.support import HeldCall, until
from tests.wsclient import open_tab

JOIN_TIMEOUT = 60


def send_frame(room_id: int, body: str = "hello", cid: str | None = None) -> dict:
    return {
        "type": "send",
        "room": room_id,
        "body": body,
        "client_msg_id": cid or str(uuid.uuid4()),
    }


@pytest.mark.django_db(transaction=True)
async def test_sends_queued_together_share_one_hop_and_each_gets_its_own_answer():
    alice, bob, carol, dave = [
        await sync_to_async(UserFactory)(username=name)
        for name in ("alice", "bob", "carol", "dave")
    ]
    room = await sync_to_async(RoomFactory)(name="busy", members=[alice, bob, carol])
    private = await sync_to_async(RoomFactory)(
        name="closed", kind=Room.Kind.PRIVATE, members=[alice, bob]
    )
    stored, _ = await sync_to_async(services.send_message)(
        carol, room.pk, "stored", str(uuid.uuid4())
    )
    async with (
        open_tab(bob) as listener,
        open_tab(alice) as a,
        open_tab(carol) as c,
        open_tab(dave) as d,
        open_tab(alice) as a2,
        open_tab(carol) as c2,
    ):
        calls = batcher()
        held = HeldCall()
        first = await held.occupy(calls)
        batches = calls.batches
        frames = {
            a: send_frame(room.pk, "from alice"),
            d: send_frame(private.pk, "not a member"),
            c: send_frame(room.pk, "from carol"),
            a2: send_frame(room.pk, "x" * 5000),
            c2: send_frame(room.pk, "stored", stored.client_msg_id),
        }
        for tab, frame in frames.items():
            await tab.send(frame)
        await until(lambda: len(calls.waiting) == len(frames), "the sends to queue")
        held.release()
        await first
        replies = {
            tab: await tab.receive_type("ack" if tab in (a, c, c2) else "error") for tab in frames
        }
        assert calls.batches == batches + 1, "the queued sends went over in one hop"
        heard = [await listener.receive_type("message") for _ in range(2)]

    assert [replies[t]["client_msg_id"] for t in frames] == [
        f["client_msg_id"] for f in frames.values()
    ]
    assert (replies[a]["message"]["seq"], replies[c]["message"]["seq"]) == (
        2,
        3,
    )  # in the order they came
    assert replies[c2]["message"]["seq"] == stored.seq  # the retry: the stored message
    assert replies[d]["code"] == "not_found"
    assert replies[a2]["code"] == "too_large"
    assert [(m["message"]["seq"], m["message"]["body"]) for m in heard] == [
        (2, "from alice"),
        (3, "from carol"),
    ]
    assert await sync_to_async(Message.objects.filter(room=room).count)() == 3
    assert await sync_to_async(Message.objects.filter(room=private).count)() == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_groups_over_the_same_rooms_never_deadlock_or_lose_a_send(published):
    """Each thread (its own connection) sends groups over every room, each group's rooms in
    a shuffled order, with a retry of an earlier send in some groups and a mention in some
    sends (its room then goes a send at a time, after the group's statements): the rooms
    are locked in id order, so no group waits on another in a cycle."""
    threads, groups, per_group = 6, 8, 10
    users = [UserFactory(username=f"sender{i}") for i in range(threads)]
    rooms = [RoomFactory(name=f"shared {i}", members=users) for i in range(5)]
    start = threading.Barrier(threads)
    errors: list[str] = []
    answers: dict[str, list[tuple[int, bool]]] = defaultdict(list)
    sent: dict[str, tuple[int, str]] = {}
    lock = threading.Lock()

    def work(index: int) -> None:
        chance = random.Random(index)  # noqa: S311 (a test's shuffles)
        user = users[index]
        earlier: list[SendRequest] = []
        try:
            start.wait(timeout=10)
            for g in range(groups):
                group = [
                    SendRequest(
                        user,
                        chance.choice(rooms).pk,
                        f"{index}.{g}.{i}" + (" @sender0" if chance.random() < 0.2 else ""),
                        str(uuid.uuid4()),
                    )
                    for i in range(per_group)
                ]
                if earlier:
                    group.append(chance.choice(earlier))  # a retry, across groups
                chance.shuffle(group)
                for request, outcome in zip(group, services.send_messages(group), strict=True):
                    if isinstance(outcome, Exception):
                        raise outcome
                    message, created = outcome
                    with lock:
                        answers[request.client_msg_id].append((message.pk, created))
                        sent[request.client_msg_id] = (request.room_id, request.body)
                earlier.extend(r for r in group if r not in earlier)
        except BaseException:
            errors.append(f"thread {index}:\n{traceback.format_exc()}")
            start.abort()
        finally:
            connection.close()

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=JOIN_TIMEOUT)
    assert not any(worker.is_alive() for worker in workers), "a thread is stuck"
    assert errors == [], "\n".join(errors)

    assert len(sent) == threads * groups * per_group
    stored = {
        str(cid): (room, seq, body, pk)
        for pk, room, seq, body, cid in Message.objects.values_list(
            "pk", "room_id", "seq", "body", "client_msg_id"
        )
    }
    assert set(stored) == set(sent), "a send was lost, or stored twice"
    for cid, (room, body) in sent.items():
        assert (stored[cid][0], stored[cid][2]) == (room, body)
        created = [c for _pk, c in answers[cid]]
        assert created.count(True) == 1, f"{cid}: created once, then found"
        assert {pk for pk, _ in answers[cid]} == {stored[cid][3]}
    for room in rooms:
        seqs = sorted(seq for r, seq, _b, _pk in stored.values() if r == room.pk)
        assert seqs == list(range(1, len(seqs) + 1)), "a gap or a twin in a room's seqs"
        room.refresh_from_db()
        assert room.last_seq == len(seqs)
    by_room = defaultdict(list)
    for p in published:
        by_room[p.target].append(p.frame["message"]["seq"])
    for room in rooms:  # (each thread publishes after its own commit: order is the outbox's)
        assert sorted(by_room[room.pk]) == list(range(1, room.last_seq + 1)), "published once"
