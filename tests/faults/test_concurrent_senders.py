"""A concurrency test: many writers into one room, each on its own database connection.

send_message takes the room's next seq under a row lock (SELECT … FOR UPDATE
on PostgreSQL; BEGIN IMMEDIATE serialises writers on SQLite). Threads calling
it at once must still produce seq 1..N with no gap or duplicate, store a
concurrently retried client_msg_id once, and publish each message once.

The PostgreSQL test runs in the PostgreSQL CI run (deselected otherwise, see
conftest.py). The SQLite test runs in the SQLite run, on a temporary file
database with the project's SQLite options (WAL, IMMEDIATE, busy timeout): the
in-memory test database cannot take concurrent writers, and a file database is
what `make run` uses.
"""

import copy
import threading
import traceback
import uuid
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connection, connections
from django.db.utils import load_backend

from chat import services
from chat.models import Message, Room
from tests.factories import RoomFactory, UserFactory
from tests.support import Published

THREADS = 8
SENDS_PER_THREAD = 20
RETRIED = 4  # client_msg_ids sent at the same moment by two threads
JOIN_TIMEOUT = 60


@dataclass
class Job:
    user: object
    client_msg_id: str
    body: str
    together: threading.Barrier | None = None  # both copies of a retry wait here


@dataclass
class Outcome:
    results: dict[int, list[tuple[str, int, int, bool]]] = field(
        default_factory=lambda: defaultdict(list)
    )  # thread -> [(client_msg_id, message id, seq, created)]
    errors: list[str] = field(default_factory=list)
    published: list[dict] = field(default_factory=list)


def plan(users) -> tuple[list[list[Job]], dict[str, Job]]:
    """Each thread's sends; RETRIED ids appear in two threads at the same position."""
    jobs = [
        [
            Job(users[t % len(users)], str(uuid.uuid4()), f"thread {t} message {i}")
            for i in range(SENDS_PER_THREAD)
        ]
        for t in range(THREADS)
    ]
    retried = {}
    for r in range(RETRIED):
        first, second = 2 * r, 2 * r + 1
        job = Job(users[r % len(users)], str(uuid.uuid4()), f"retried {r}", threading.Barrier(2))
        position = 3 + 4 * r
        jobs[first].insert(position, job)
        jobs[second].insert(position, job)
        retried[job.client_msg_id] = job
    return jobs, retried


def run_senders(room_id: int, jobs: list[list[Job]], thread_setup=None) -> Outcome:
    """Start every thread at once; each sends its jobs in order, then closes its connection."""
    outcome = Outcome()
    start = threading.Barrier(len(jobs))

    def work(index: int) -> None:
        try:
            with thread_setup() if thread_setup else _nothing():
                start.wait(timeout=10)
                for job in jobs[index]:
                    if job.together is not None:
                        job.together.wait(timeout=10)
                    message, created = services.send_message(
                        job.user, room_id, job.body, job.client_msg_id
                    )
                    outcome.results[index].append(
                        (job.client_msg_id, message.pk, message.seq, created)
                    )
        except BaseException:
            outcome.errors.append(f"thread {index}:\n{traceback.format_exc()}")
            start.abort()
            for job in jobs[index]:
                if job.together is not None:
                    job.together.abort()
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,), name=f"sender-{i}") for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=JOIN_TIMEOUT)
    stuck = [thread.name for thread in threads if thread.is_alive()]
    assert not stuck, f"threads still running after {JOIN_TIMEOUT} s: {stuck}"
    return outcome


@contextmanager
def _nothing():
    yield


def make_room():
    users = [UserFactory(username=f"sender{i}") for i in range(4)]
    return RoomFactory(name="busy", members=users), users


def check(room: Room, jobs, retried, outcome: Outcome, published: list[Published]) -> None:
    assert outcome.errors == [], "\n".join(outcome.errors)
    unique_ids = {job.client_msg_id for thread_jobs in jobs for job in thread_jobs}
    expected = len(unique_ids)
    assert expected == THREADS * SENDS_PER_THREAD + RETRIED

    stored = list(
        Message.objects.filter(room=room)
        .order_by("seq")
        .values_list("seq", "client_msg_id", "author_id", "body")
    )
    assert [seq for seq, *_ in stored] == list(range(1, expected + 1)), "seq has a gap or a twin"
    room.refresh_from_db()
    assert room.last_seq == expected
    assert Message.objects.count() == expected
    stored_ids = Counter(str(cid) for _seq, cid, _author, _body in stored)
    assert set(stored_ids) == unique_ids
    assert max(stored_ids.values()) == 1
    by_id = {str(cid): (seq, author, body) for seq, cid, author, body in stored}
    for thread_jobs in jobs:
        for job in thread_jobs:
            assert by_id[job.client_msg_id][1:] == (job.user.pk, job.body)

    for thread, results in outcome.results.items():
        assert len(results) == len(jobs[thread])
        seqs = [seq for _cid, _pk, seq, _created in results]
        assert seqs == sorted(seqs), f"thread {thread}: its own sends out of seq order: {seqs}"
        for cid, _pk, seq, _created in results:
            assert seq == by_id[cid][0]

    for cid in retried:
        answers = [
            (pk, seq, created)
            for results in outcome.results.values()
            for got, pk, seq, created in results
            if got == cid
        ]
        assert len(answers) == 2
        assert len({(pk, seq) for pk, seq, _ in answers}) == 1, f"retry {cid}: {answers}"
        assert sorted(created for *_, created in answers) == [False, True], f"retry {cid}"

    assert sorted(p.frame["message"]["seq"] for p in published) == list(range(1, expected + 1)), (
        "each stored message must be published exactly once"
    )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_senders_on_postgresql_get_gap_free_seqs_and_retries_store_once(
    published,
):
    room, users = make_room()
    jobs, retried = plan(users)
    outcome = run_senders(room.pk, jobs)
    check(room, jobs, retried, outcome, published)


@contextmanager
def default_database(settings_dict: dict):
    """Point this thread's `default` connection at another database, then restore it."""
    wrapper = load_backend(settings_dict["ENGINE"]).DatabaseWrapper(settings_dict, "default")
    previous = connections["default"]
    connections["default"] = wrapper
    try:
        yield wrapper
    finally:
        wrapper.close()
        connections["default"] = previous


@pytest.mark.sqlite
def test_concurrent_senders_on_a_sqlite_file_never_hit_database_is_locked(
    tmp_path, django_db_blocker, published
):
    file_settings = copy.deepcopy(connections.settings["default"])
    file_settings["NAME"] = str(tmp_path / "concurrent.sqlite3")
    assert file_settings["OPTIONS"]["transaction_mode"] == "IMMEDIATE"

    def on_the_file():
        return default_database(copy.deepcopy(file_settings))

    with django_db_blocker.unblock(), on_the_file() as wrapper:
        assert wrapper.settings_dict["NAME"] == file_settings["NAME"]
        try:
            call_command("migrate", verbosity=0, interactive=False)
            assert wrapper.cursor().execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            room, users = make_room()
            jobs, retried = plan(users)
            outcome = run_senders(room.pk, jobs, thread_setup=on_the_file)
            check(room, jobs, retried, outcome, published)
        finally:
            ContentType.objects.clear_cache()  # ids cached from the file database
