"""Users, session cookies and rooms for a bench run, made straight with the ORM.

Logging in is not what is measured, so users get an unusable password and a session
row is written for each with the same data `django.contrib.auth.login` would store;
the cookie `sessionid=<key>` then authenticates the WebSocket handshake exactly like a
browser's. Each room gets its own users, so no socket is subscribed to anything but
its scenario's room.

Django can be configured once per process and the bench uses several databases, so
this runs as a subprocess with the run's environment (bench.environment):

    python -m bench.fixtures < spec.json > result.json

spec `{"rooms": {"<name>": <members>, ...}}` → `{"rooms": {"<name>": {"id", "cookies"}}}`;
spec `{"count": [<room id>, ...]}` → `{"counts": {"<room id>": <messages stored>}}`;
spec `{"history": {"<room id>": <n>}}` → `{"history": {"<room id>": <last seq>}}`: n old
messages by the room's first member, a minute apart, read by every member.
"""

import json
import subprocess
import sys
from dataclasses import dataclass
from datetime import timedelta

from .environment import PYTHON, server_root


@dataclass(frozen=True)
class RoomFixture:
    """A room and one session cookie per member (the first member owns it)."""

    name: str
    id: int
    cookies: list[str]


def _run(spec: dict, env: dict[str, str]) -> dict:
    result = subprocess.run(
        [PYTHON, "-m", "bench.fixtures"],
        cwd=server_root.path,
        env=env,
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode != 0:
        raise RuntimeError(f"bench.fixtures failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout)


def make_rooms(env: dict[str, str], rooms: dict[str, int]) -> dict[str, RoomFixture]:
    """Create each named room with that many fresh, logged-in members."""
    if not rooms:
        return {}
    made = _run({"rooms": rooms}, env)["rooms"]
    return {name: RoomFixture(name, r["id"], r["cookies"]) for name, r in made.items()}


def add_history(env: dict[str, str], history: dict[int, int]) -> dict[int, int]:
    """Give each room that many old messages; returns each room's last seq."""
    made = _run({"history": {str(k): v for k, v in history.items()}}, env)["history"]
    return {int(k): v for k, v in made.items()}


def count_messages(env: dict[str, str], room_ids: list[int]) -> dict[int, int]:
    """How many messages each room holds in the database."""
    counts = _run({"count": room_ids}, env)["counts"]
    return {int(k): v for k, v in counts.items()}


# The subprocess side.


def _create_rooms(rooms: dict[str, int]) -> dict[str, dict]:
    from django.conf import settings
    from django.contrib.auth import (
        BACKEND_SESSION_KEY,
        HASH_SESSION_KEY,
        SESSION_KEY,
        get_user_model,
    )
    from django.contrib.auth.hashers import make_password
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.db import transaction
    from django.utils import timezone
    from django.utils.crypto import get_random_string

    from chat.models import Membership, Room, room_name_key

    user_model = get_user_model()
    password = make_password(None)  # unusable: nobody logs in with it
    backend = settings.AUTHENTICATION_BACKENDS[0]
    expires = timezone.now() + timedelta(days=1)
    store = SessionStore()
    made: dict[str, dict] = {}
    with transaction.atomic():
        for name, members in rooms.items():
            users = user_model.objects.bulk_create(
                [user_model(username=f"{name}-{i}", password=password) for i in range(members)]
            )
            room = Room.objects.create(
                kind=Room.Kind.PUBLIC, name=name, name_key=room_name_key(name), created_by=users[0]
            )
            Membership.objects.bulk_create(
                Membership(
                    room=room,
                    user=user,
                    role=Membership.Role.OWNER if i == 0 else Membership.Role.MEMBER,
                )
                for i, user in enumerate(users)
            )
            sessions = [
                Session(
                    session_key=get_random_string(32, "abcdefghijklmnopqrstuvwxyz0123456789"),
                    session_data=store.encode(
                        {
                            SESSION_KEY: str(user.pk),
                            BACKEND_SESSION_KEY: backend,
                            HASH_SESSION_KEY: user.get_session_auth_hash(),
                        }
                    ),
                    expire_date=expires,
                )
                for user in users
            ]
            Session.objects.bulk_create(sessions)
            cookie = settings.SESSION_COOKIE_NAME
            made[name] = {"id": room.pk, "cookies": [f"{cookie}={s.session_key}" for s in sessions]}
    return made


def _count(room_ids: list[int]) -> dict[str, int]:
    from chat.models import Message

    return {str(room_id): Message.objects.filter(room_id=room_id).count() for room_id in room_ids}


HISTORY_BODIES = [
    "Morning! Has anyone seen the build logs from last night?",
    "Yes, **two** flaky tests; I opened an issue for them.",
    "Thanks. I'll look after lunch: see https://example.com/ci for the run.",
    "Short one.",
    "A longer message, to give the history a realistic mix of lengths: the quick brown "
    "fox jumps over the lazy dog, and then does it again for good measure.",
]


def _add_history(history: dict[str, int]) -> dict[str, int]:
    from django.db import transaction
    from django.utils import timezone

    from chat.content.richtext import render_html
    from chat.models import Membership, Message, Room

    html = {body: render_html(body) for body in HISTORY_BODIES}
    made: dict[str, int] = {}
    with transaction.atomic():
        for key, count in history.items():
            room = Room.objects.select_for_update().get(pk=int(key))
            author_id = (
                Membership.objects.filter(room=room).order_by("pk").values_list("user", flat=True)
            ).first()
            start, now = room.last_seq, timezone.now()
            Message.objects.bulk_create(
                (
                    Message(
                        room=room,
                        seq=start + i,
                        author_id=author_id,
                        body=HISTORY_BODIES[i % len(HISTORY_BODIES)],
                        html=html[HISTORY_BODIES[i % len(HISTORY_BODIES)]],
                        created_at=now - timedelta(minutes=count - i),
                    )
                    for i in range(1, count + 1)
                ),
                batch_size=1000,
            )
            room.last_seq, room.last_message_at = start + count, now
            room.save(update_fields=["last_seq", "last_message_at"])
            Membership.objects.filter(room=room).update(last_read_seq=room.last_seq)
            made[key] = room.last_seq
    return made


def main() -> None:
    import django

    django.setup()
    spec = json.load(sys.stdin)
    if "rooms" in spec:
        json.dump({"rooms": _create_rooms(spec["rooms"])}, sys.stdout)
    elif "history" in spec:
        json.dump({"history": _add_history(spec["history"])}, sys.stdout)
    else:
        json.dump({"counts": _count(spec["count"])}, sys.stdout)


if __name__ == "__main__":
    main()
