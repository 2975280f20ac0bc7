"""The team's people, rooms and seed messages, made in the run's database.

People, sessions (as bench.fixtures writes them) and rooms are written straight with
the ORM: a direct room as `chat.services.open_direct` and its first message leave it
(kind direct, the pair's `direct_key`, both people members), without the `room`
frames that opening publishes at commit (nobody listens here, and building them was
most of the time). Each
room gets `seeds` messages, its members writing in turn, all unread: read pointers
stay at 0. Runs as a subprocess with the run's environment, like bench.fixtures:

    python -m bench.team_fixtures < spec.json > result.json

spec `{"users": n, "rooms": [{"name", "kind", "members": [index…]}…], "seeds": s}` →
`{"user_ids": […], "cookies": […], "room_ids": […], "seeds": [[[id, author index]…]…]}`.
"""

import json
import subprocess
import sys
from datetime import timedelta

from .environment import PYTHON, server_root
from .team_shape import RoomShape, Team, TeamSize


def make_team(env: dict[str, str], size: TeamSize, rooms: list[RoomShape]) -> Team:
    spec = {
        "users": size.users,
        "rooms": [{"name": r.name, "kind": r.kind, "members": list(r.members)} for r in rooms],
        "seeds": size.seeds,
    }
    result = subprocess.run(
        [PYTHON, "-m", "bench.team_fixtures"],
        cwd=server_root.path,
        env=env,
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        timeout=900,
    )
    if result.returncode != 0:
        raise RuntimeError(f"bench.team_fixtures failed:\n{result.stderr[-3000:]}")
    made = json.loads(result.stdout)
    return Team(
        size=size,
        rooms=rooms,
        room_ids=made["room_ids"],
        user_ids=made["user_ids"],
        cookies=made["cookies"],
        seeds=[[(m, a) for m, a in seeds] for seeds in made["seeds"]],
    )


# The subprocess side.


def _users(count: int) -> tuple[list, list[str]]:
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
    from django.utils import timezone
    from django.utils.crypto import get_random_string

    model = get_user_model()
    password = make_password(None)
    users = model.objects.bulk_create(
        [model(username=f"team-{i}", password=password) for i in range(count)]
    )
    store, backend = SessionStore(), settings.AUTHENTICATION_BACKENDS[0]
    expires = timezone.now() + timedelta(days=1)
    sessions = Session.objects.bulk_create(
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
    )
    cookie = settings.SESSION_COOKIE_NAME
    return users, [f"{cookie}={s.session_key}" for s in sessions]


def _room(spec: dict, users: list):
    from chat.models import Membership, Room, direct_key, room_name_key

    members = [users[i] for i in spec["members"]]
    if spec["kind"] == "direct":
        room = Room.objects.create(
            kind=Room.Kind.DIRECT,
            direct_key=direct_key(members[0].pk, members[1].pk),
            created_by=members[0],
        )
    else:
        room = Room.objects.create(
            kind=Room.Kind.PUBLIC,
            name=spec["name"],
            name_key=room_name_key(spec["name"]),
            created_by=members[0],
        )
    Membership.objects.bulk_create(
        Membership(
            room=room,
            user=user,
            role=Membership.Role.OWNER if i == 0 and not room.is_direct else Membership.Role.MEMBER,
        )
        for i, user in enumerate(members)
    )
    return room


def _seed(room, members: list[int], users: list, count: int) -> list[list[int]]:
    """`count` messages by the members in turn (at least one each), none read."""
    from django.utils import timezone

    from chat.content.richtext import render_html
    from chat.models import Message

    from .fixtures import HISTORY_BODIES

    count = max(count, len(members))
    html = {text: render_html(text) for text in HISTORY_BODIES}
    now = timezone.now()
    authors = [members[i % len(members)] for i in range(count)]
    made = Message.objects.bulk_create(
        Message(
            room=room,
            seq=room.last_seq + i + 1,
            author=users[author],
            body=HISTORY_BODIES[i % len(HISTORY_BODIES)],
            html=html[HISTORY_BODIES[i % len(HISTORY_BODIES)]],
            created_at=now,
        )
        for i, author in enumerate(authors)
    )
    room.last_seq += count
    room.last_message_at = now
    room.save(update_fields=["last_seq", "last_message_at"])
    return [[m.pk, author] for m, author in zip(made, authors, strict=True)]


def main() -> None:
    import django

    django.setup()
    from django.db import transaction

    spec = json.load(sys.stdin)
    with transaction.atomic():
        users, cookies = _users(spec["users"])
        room_ids, seeds = [], []
        for room_spec in spec["rooms"]:
            room = _room(room_spec, users)
            room_ids.append(room.pk)
            seeds.append(_seed(room, room_spec["members"], users, spec["seeds"]))
    json.dump(
        {
            "user_ids": [u.pk for u in users],
            "cookies": cookies,
            "room_ids": room_ids,
            "seeds": seeds,
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
