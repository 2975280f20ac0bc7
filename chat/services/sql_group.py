"""The statements of a group of plain sends: one of each kind a group, not a send.

A plain send alone is three statements (chat/services/sql.py); on PostgreSQL each is a
round trip, and through any driver each costs its own cursor and parameter handling.
A group of plain sends makes the same three once for all of them: one UPDATE takes
every room's seqs, one SELECT reads every sender's state, one INSERT stores every
message. The SQL runs on SQLite (3.37+) and PostgreSQL alike; everything here runs
inside the caller's transaction.
"""

from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from django.db import connection

from ..models import Block, Membership, Message, Room
from .sql import as_instance, column_of, db_preparer, db_value, quote, with_defaults

SenderState = tuple[str | None, int | None, bool]  # role, earlier message id, blocked


@cache
def _take_seqs_sql(rooms: int, counted: int, postgres: bool) -> str:
    """UPDATE `rooms` rooms, the first `counted` of them advanced (by a count each) and
    stamped, the others only locked. On PostgreSQL the row locks are taken in id order
    first (a multi-row UPDATE locks in scan order), so two groups never deadlock; on
    SQLite the transaction already holds the database's one write lock."""
    table, pk = quote(Room._meta.db_table), column_of(Room, "id")
    seq, at, direct = (
        column_of(Room, name) for name in ("last_seq", "last_message_at", "direct_key")
    )
    cases = " ".join(["WHEN %s THEN %s"] * counted)
    ids = ", ".join(["%s"] * rooms)
    counted_ids = ", ".join(["%s"] * counted)
    sets = (
        f"{seq} = {table}.{seq} + CASE {table}.{pk} {cases} ELSE 0 END, "
        f"{at} = CASE WHEN {table}.{pk} IN ({counted_ids}) THEN %s ELSE {table}.{at} END"
        if counted
        else f"{seq} = {table}.{seq}"
    )
    returned = f"RETURNING {table}.{pk}, {table}.{seq}, {table}.{direct}"
    if not postgres:
        return f"UPDATE {table} SET {sets} WHERE {pk} IN ({ids}) {returned}"  # noqa: S608
    # A subquery with ORDER BY and FOR UPDATE is never merged into the UPDATE: its rows
    # are locked one by one as its sort hands them out.
    return (
        f"UPDATE {table} SET {sets} FROM (SELECT {pk} FROM {table} "  # noqa: S608
        f"WHERE {pk} IN ({ids}) ORDER BY {pk} FOR UPDATE) AS locked "
        f"WHERE {table}.{pk} = locked.{pk} {returned}"
    )


def take_seqs(
    counts: Mapping[int, int], also_lock: Sequence[int], now: datetime
) -> dict[int, tuple[int, str | None]]:
    """Advance each room in `counts` by its count (its last message time set to `now`)
    and lock the rooms in `also_lock` too, all until commit; each found room's
    (last_seq now, direct_key). A room missing from the answer does not exist."""
    if not counts and not also_lock:
        return {}
    sets: list[Any] = [value for item in counts.items() for value in item]
    if counts:
        sets += [*counts, db_value(Room, "last_message_at", now)]
    ids = [*counts, *also_lock]
    postgres = connection.vendor == "postgresql"
    sql = _take_seqs_sql(len(ids), len(counts), postgres)
    with connection.cursor() as cursor:
        cursor.execute(sql, [*sets, *ids])
        return {pk: (last_seq, direct_key) for pk, last_seq, direct_key in cursor.fetchall()}


@cache
def _give_back_sql(rooms: int) -> str:
    table, message = quote(Room._meta.db_table), quote(Message._meta.db_table)
    pk, seq, at = (
        column_of(Room, "id"),
        column_of(Room, "last_seq"),
        column_of(Room, "last_message_at"),
    )
    cases = " ".join(["WHEN %s THEN %s"] * rooms)
    return (
        f"UPDATE {table} SET {seq} = {seq} - CASE {pk} {cases} ELSE 0 END, "  # noqa: S608
        f"{at} = (SELECT m.{column_of(Message, 'created_at')} FROM {message} m "
        f"WHERE m.{column_of(Message, 'room')} = {table}.{pk} "
        f"ORDER BY m.{column_of(Message, 'seq')} DESC LIMIT 1) "
        f"WHERE {pk} IN ({', '.join(['%s'] * rooms)})"
    )


def give_back_seqs(counts: Mapping[int, int]) -> None:
    """Undo `take_seqs` for sends that stored nothing, after the group's INSERT (the
    rooms are still locked, so no later seq was taken): each room's last_seq goes back
    by its count, and its last message time is its newest message's again."""
    params: list[Any] = [value for item in counts.items() for value in item]
    with connection.cursor() as cursor:
        cursor.execute(_give_back_sql(len(counts)), [*params, *counts])


@cache
def _sender_states_sql(sends: int) -> str:
    """`sql.sender_state`'s three questions for each row of a VALUES list of (its index,
    room, user, client_msg_id), whose columns are column1… on SQLite and PostgreSQL."""
    membership, message = quote(Membership._meta.db_table), quote(Message._meta.db_table)
    room, block = quote(Room._meta.db_table), quote(Block._meta.db_table)
    rows = ", ".join(["(%s, %s, %s, %s)"] * sends)
    return (
        f"SELECT v.column1, (SELECT {column_of(Membership, 'role')} FROM {membership} "  # noqa: S608
        f"WHERE {column_of(Membership, 'room')} = v.column2 "
        f"AND {column_of(Membership, 'user')} = v.column3), "
        f"(SELECT {column_of(Message, 'id')} FROM {message} "
        f"WHERE {column_of(Message, 'author')} = v.column3 "
        f"AND {column_of(Message, 'client_msg_id')} = v.column4), "
        f"EXISTS (SELECT 1 FROM {block} b JOIN {membership} m "
        f"ON m.{column_of(Membership, 'user')} = b.{column_of(Block, 'blocker')} "
        f"JOIN {room} r ON r.{column_of(Room, 'id')} = m.{column_of(Membership, 'room')} "
        f"WHERE r.{column_of(Room, 'id')} = v.column2 AND r.{column_of(Room, 'kind')} = %s "
        f"AND b.{column_of(Block, 'blocked')} = v.column3) "
        f"FROM (VALUES {rows}) AS v"
    )


def sender_states(sends: Sequence[tuple[int, int, str]]) -> list[SenderState]:
    """For each (room_id, user_id, client_msg_id), in order: the sender's role in the
    room, the id of a message the sender already stored under this client_msg_id (in any
    room), and whether the room is direct and its other member blocks the sender."""
    params: list[Any] = [Room.Kind.DIRECT.value]
    for index, (room_id, user_id, client_msg_id) in enumerate(sends):
        params += [index, room_id, user_id, db_value(Message, "client_msg_id", client_msg_id)]
    states: list[SenderState] = [(None, None, False)] * len(sends)
    with connection.cursor() as cursor:
        cursor.execute(_sender_states_sql(len(sends)), params)
        for index, role, earlier_id, blocked in cursor.fetchall():
            states[index] = (role, earlier_id, bool(blocked))
    return states


@cache
def _insert_sql(names: tuple[str, ...], rows: int) -> str:
    columns = ", ".join(column_of(Message, name) for name in names)
    row = "(" + ", ".join(["%s"] * len(names)) + ")"
    pk, room, seq = (
        quote(Message._meta.pk.column),
        column_of(Message, "room"),
        column_of(Message, "seq"),
    )
    return (
        f"INSERT INTO {quote(Message._meta.db_table)} ({columns}) "  # noqa: S608
        f"VALUES {', '.join([row] * rows)} ON CONFLICT DO NOTHING RETURNING {pk}, {room}, {seq}"
    )


def insert_messages(rows: Sequence[Mapping[str, Any]]) -> list[Message | None]:
    """INSERT the messages (field name -> value, the same fields in each) in one
    statement; each one as the ORM would read it back, or None where a unique
    constraint already held such a row (a concurrent retry of its client_msg_id)."""
    defaults = with_defaults(Message, rows[0])  # one set of defaults, shared by every row
    filled = [{**defaults, **row} for row in rows]
    names = tuple(filled[0])
    params: list[Any] = []
    for name, prepare in zip(names, _preparers(names), strict=True):
        last, prepared = _UNSET, None
        for row in filled:  # a column's repeated value (the group's time) prepared once
            value = row[name]
            if prepare is None:
                prepared = value
            elif value is not last:
                last, prepared = value, prepare(value, connection)
            params.append(prepared)
    rows_params = [params[i :: len(filled)] for i in range(len(filled))]
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql(names, len(filled)), [p for row in rows_params for p in row])
        stored = {(room, seq): pk for pk, room, seq in cursor.fetchall()}
    pks = [stored.get((row["room_id"], row["seq"])) for row in filled]
    return [
        None if pk is None else as_instance(Message, pk, row)
        for pk, row in zip(pks, filled, strict=True)
    ]


_UNSET = object()


@cache
def _preparers(names: tuple[str, ...]) -> tuple:
    return tuple(db_preparer(Message, name) for name in names)
