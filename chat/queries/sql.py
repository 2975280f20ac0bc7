"""The reads of a socket's `hello`, in plain SQL.

Every socket that connects reads the user's rooms (with unread counts) and whose
presence they follow; after a worker dies, all of its clients do so at once on the
others. Built with the ORM these reads cost several ms of CPU per socket, nearly all
of it building and compiling the queries and making model instances; as plain SQL
they cost a fraction of that (docs/performance.md, "A socket's hello"). As in
`chat/services/sql.py`, the SQL is built once from the models' metadata and runs on
SQLite and PostgreSQL alike; values come back through the fields' own converters.
"""

from collections.abc import Callable
from functools import cache
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Model

from ..models import Membership, Message, Room


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _table(model: type[Model]) -> str:
    return _q(model._meta.db_table)


def _column(model: type[Model], name: str) -> str:
    return _q(model._meta.get_field(name).column)


def _converter(model: type[Model], name: str) -> Callable[[Any], Any]:
    """What the ORM does to a column's value as it reads it (a datetime made aware…)."""
    field = model._meta.get_field(name)
    column = field.get_col(model._meta.db_table)
    steps = connection.ops.get_db_converters(column) + field.get_db_converters(connection)

    def convert(value: Any) -> Any:
        for step in steps:
            value = step(value, column, connection)
        return value

    return convert


ROOM_FIELDS = (
    "id",
    "kind",
    "name",
    "topic",
    "last_seq",
    "last_rev",
    "last_message_at",
    "direct_key",
)
MEMBERSHIP_FIELDS = ("role", "last_read_seq", "notify")


@cache
def _rooms_sql() -> str:
    """The user's memberships with their rooms, the user's default notification level
    and the two unread counts (as `queries.rooms._unread` counts them), most recently
    active rooms first."""
    mentions = Message.mentions.through
    message, member = _column(Message, "room"), _column(Membership, "room")
    unread = (
        f"SELECT COUNT(*) FROM {_table(Message)} x{{join}} "  # noqa: S608 (model metadata)
        f"WHERE x.{message} = m.{member} AND x.{_column(Message, 'seq')} > "
        f"m.{_column(Membership, 'last_read_seq')} AND x.{_column(Message, 'deleted_at')} IS NULL "
        f"AND (x.{_column(Message, 'author')} IS NULL OR x.{_column(Message, 'author')} <> %s)"
        "{also}"
    )
    mentioned = unread.format(
        join=f" JOIN {_table(mentions)} t ON t.{_column(mentions, 'message')} = "
        f"x.{_column(Message, 'id')}",
        also=f" AND t.{_column(mentions, 'user')} = %s",
    )
    # A thread reply the room's timeline does not show counts only if it mentions the user.
    shown = (
        f" AND (x.{_column(Message, 'thread_root')} IS NULL "  # noqa: S608 (model metadata)
        f"OR x.{_column(Message, 'also_in_room')} "
        f"OR EXISTS (SELECT 1 FROM {_table(mentions)} s "
        f"WHERE s.{_column(mentions, 'message')} = x.{_column(Message, 'id')} "
        f"AND s.{_column(mentions, 'user')} = %s))"
    )
    user_model = get_user_model()
    columns = ", ".join(
        [
            *(f"r.{_column(Room, name)}" for name in ROOM_FIELDS),
            *(f"m.{_column(Membership, name)}" for name in MEMBERSHIP_FIELDS),
            f"u.{_column(user_model, 'notify_default')}",
        ]
    )
    return (
        f"SELECT {columns}, ({unread.format(join='', also=shown)}), ({mentioned}) "  # noqa: S608
        f"FROM {_table(Membership)} m "
        f"JOIN {_table(Room)} r ON r.{_column(Room, 'id')} = m.{member} "
        f"JOIN {_table(user_model)} u ON u.{_column(user_model, 'id')} = "
        f"m.{_column(Membership, 'user')} "
        f"WHERE m.{_column(Membership, 'user')} = %s "
        f"ORDER BY r.{_column(Room, 'last_message_at')} DESC NULLS LAST, "
        f"r.{_column(Room, 'created_at')} DESC"
    )


@cache
def _room_converters() -> tuple[Callable[[Any], Any], ...]:
    return tuple(_converter(Room, name) for name in ROOM_FIELDS)


def membership_rows(user_id: int) -> list[tuple[Room, Membership, str, int, int]]:
    """The user's rooms, most recently active first: each as (room, membership, the
    user's default notification level, unread, unread mentions). One query; the room
    and membership carry only what a room payload shows."""
    with connection.cursor() as cursor:
        cursor.execute(_rooms_sql(), [user_id] * 5)
        rows = cursor.fetchall()
    converters = _room_converters()
    found = []
    for row in rows:
        room = Room(**{n: c(v) for n, c, v in zip(ROOM_FIELDS, converters, row, strict=False)})
        role, last_read_seq, notify, notify_default, unread, mentions = row[len(ROOM_FIELDS) :]
        membership = Membership(
            room_id=room.pk, user_id=user_id, role=role, last_read_seq=last_read_seq, notify=notify
        )
        found.append((room, membership, notify_default, unread, mentions))
    return found


@cache
def _peers_sql() -> str:
    """The other members of the user's rooms of at most %s members."""
    room, user = _column(Membership, "room"), _column(Membership, "user")
    table = _table(Membership)
    return (
        f"SELECT DISTINCT o.{user} FROM {table} m "  # noqa: S608 (model metadata)
        f"JOIN {table} o ON o.{room} = m.{room} "
        f"WHERE m.{user} = %s AND o.{user} <> %s "
        f"AND (SELECT COUNT(*) FROM {table} c WHERE c.{room} = m.{room}) <= %s"
    )


@cache
def _presence_rooms_sql() -> str:
    """The user's rooms of at most %s members."""
    room, user = _column(Membership, "room"), _column(Membership, "user")
    table = _table(Membership)
    return (
        f"SELECT m.{room} FROM {table} m WHERE m.{user} = %s "  # noqa: S608 (model metadata)
        f"AND (SELECT COUNT(*) FROM {table} c WHERE c.{room} = m.{room}) <= %s"
    )


@cache
def _awaiting_direct_sql() -> str:
    """The direct rooms whose pair includes the user (joined or not: by the room's key)
    and that nobody has written in yet."""
    key = _column(Room, "direct_key")
    return (
        f"SELECT r.{_column(Room, 'id')} FROM {_table(Room)} r "  # noqa: S608 (model metadata)
        f"WHERE (r.{key} LIKE %s OR r.{key} LIKE %s) AND r.{_column(Room, 'kind')} = %s "
        f"AND r.{_column(Room, 'last_message_at')} IS NULL"
    )


def presence_room_rows(user_id: int, most: int) -> tuple[list[int], list[int]]:
    """The user's rooms of at most `most` members, and the direct rooms someone opened
    with the user that nobody has written in yet: two queries."""
    with connection.cursor() as cursor:
        cursor.execute(_presence_rooms_sql(), [user_id, most])
        rooms = [row[0] for row in cursor.fetchall()]
        keys = [f"{user_id}:%", f"%:{user_id}"]  # digits only: nothing to escape
        cursor.execute(_awaiting_direct_sql(), [*keys, Room.Kind.DIRECT.value])
        awaiting = [row[0] for row in cursor.fetchall()]
    return rooms, awaiting


@cache
def _unwritten_direct_sql() -> str:
    """The keys of the user's direct rooms nobody has written in yet."""
    return (
        f"SELECT r.{_column(Room, 'direct_key')} FROM {_table(Membership)} m "  # noqa: S608
        f"JOIN {_table(Room)} r ON r.{_column(Room, 'id')} = m.{_column(Membership, 'room')} "
        f"WHERE m.{_column(Membership, 'user')} = %s AND r.{_column(Room, 'kind')} = %s "
        f"AND r.{_column(Room, 'last_message_at')} IS NULL"
    )


def presence_peer_rows(user_id: int, most: int) -> tuple[list[int], list[str]]:
    """The other members of the user's rooms of at most `most` members, and the keys of
    the user's direct rooms nobody has written in yet: two queries."""
    with connection.cursor() as cursor:
        cursor.execute(_peers_sql(), [user_id, user_id, most])
        members = [row[0] for row in cursor.fetchall()]
        cursor.execute(_unwritten_direct_sql(), [user_id, Room.Kind.DIRECT.value])
        keys = [row[0] for row in cursor.fetchall()]
    return members, keys
