"""The statements of a send, in plain SQL.

A send is the hottest write Parley has (and every change to an existing message
takes the room's next revision the same way). Built with the ORM its three statements
cost about 3 ms of CPU on a small machine, nearly all of it compiling queries;
as plain SQL they cost about 0.4 ms (docs/performance.md). The SQL is built once
from the models' metadata, so it follows their table and column names, and it
runs on SQLite (3.37+, which Django requires) and PostgreSQL alike.
Everything here runs inside the caller's transaction.
"""

from collections.abc import Callable, Mapping
from functools import cache, partial
from typing import Any

from django.db import connection
from django.db.models import Model
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init

from ..models import Block, Membership, Message, Room
from ..protocol.commands import CANONICAL_UUID_RE


def quote(name: str) -> str:
    return connection.ops.quote_name(name)


def column_of(model: type[Model], name: str) -> str:
    return quote(model._meta.get_field(name).column)


@cache
def _advance_sql(counter: str, stamp: str | None = None, also: tuple[str, ...] = ()) -> str:
    """UPDATE a room's counter by one (setting `stamp` too) and return its new value (and
    the room's fields named in `also`)."""
    column = column_of(Room, counter)
    stamped = f", {column_of(Room, stamp)} = %s" if stamp else ""
    returned = ", ".join([column, *(column_of(Room, name) for name in also)])
    return (
        f"UPDATE {quote(Room._meta.db_table)} "  # noqa: S608 (names from model metadata)
        f"SET {column} = {column} + 1{stamped} "
        f"WHERE {column_of(Room, 'id')} = %s RETURNING {returned}"
    )


@cache
def _sender_state_sql() -> str:
    membership, message = quote(Membership._meta.db_table), quote(Message._meta.db_table)
    room, block = quote(Room._meta.db_table), quote(Block._meta.db_table)
    return (
        f"SELECT (SELECT {column_of(Membership, 'role')} FROM {membership} "  # noqa: S608
        f"WHERE {column_of(Membership, 'room')} = %s AND {column_of(Membership, 'user')} = %s), "
        f"(SELECT {column_of(Message, 'id')} FROM {message} "
        f"WHERE {column_of(Message, 'author')} = %s "
        f"AND {column_of(Message, 'client_msg_id')} = %s), "
        f"EXISTS (SELECT 1 FROM {block} b JOIN {membership} m "
        f"ON m.{column_of(Membership, 'user')} = b.{column_of(Block, 'blocker')} "
        f"JOIN {room} r ON r.{column_of(Room, 'id')} = m.{column_of(Membership, 'room')} "
        f"WHERE r.{column_of(Room, 'id')} = %s AND r.{column_of(Room, 'kind')} = %s "
        f"AND b.{column_of(Block, 'blocked')} = %s)"
    )


@cache
def _insert_sql(model: type[Model], names: tuple[str, ...], *, if_new: bool = False) -> str:
    columns = ", ".join(column_of(model, name) for name in names)
    placeholders = ", ".join(["%s"] * len(names))
    return (
        f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES ({placeholders}) "  # noqa: S608
        f"{'ON CONFLICT DO NOTHING ' if if_new else ''}RETURNING {quote(model._meta.pk.column)}"
    )


# Fields whose Python values (int, str, bool, None) are already what the driver takes:
# asking the field to prepare them was a fifth of a send's CPU.
_TAKEN_AS_THEY_ARE = frozenset({
    "AutoField", "BigAutoField", "SmallAutoField", "ForeignKey", "OneToOneField",
    "IntegerField", "BigIntegerField", "SmallIntegerField", "PositiveIntegerField",
    "PositiveBigIntegerField", "PositiveSmallIntegerField", "CharField", "TextField",
    "BooleanField",
})  # fmt: skip


@cache
def db_preparer(model: type[Model], name: str) -> Callable[[Any, Any], Any] | None:
    field = model._meta.get_field(name)
    kind = field.get_internal_type()
    if kind in _TAKEN_AS_THEY_ARE:
        return None
    if kind == "UUIDField" and not connection.features.has_native_uuid_field:
        return partial(_uuid_digits, field.get_db_prep_save)
    return field.get_db_prep_save


def _uuid_digits(prepare: Callable[[Any, Any], Any], value: Any, connection: Any) -> Any:
    """What Django stores for a UUID without a native type (its 32 hex digits), straight
    from the canonical text a send's client_msg_id is by now: making a UUID of it first
    was twice a send (its check, its INSERT)."""
    if isinstance(value, str) and CANONICAL_UUID_RE.fullmatch(value):
        return value.replace("-", "")
    return prepare(value, connection)


def db_value(model: type[Model], name: str, value: Any) -> Any:
    prepare = db_preparer(model, name)
    return value if prepare is None else prepare(value, connection)


def take_next_seq(room_id: int, now) -> tuple[int, str | None] | None:
    """Advance the room's last_seq; (the new seq, the room's direct_key: None unless
    direct), or None: no such room.

    The UPDATE holds the room's row lock until commit, so sends into one room
    commit one after another, in seq order.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            _advance_sql("last_seq", "last_message_at", also=("direct_key",)),
            [db_value(Room, "last_message_at", now), room_id],
        )
        row = cursor.fetchone()
    return (row[0], row[1]) if row else None


@cache
def _give_back_sql() -> str:
    room, message = quote(Room._meta.db_table), quote(Message._meta.db_table)
    seq, at = column_of(Room, "last_seq"), column_of(Room, "last_message_at")
    return (
        f"UPDATE {room} SET {seq} = {seq} - 1, "  # noqa: S608 (names from model metadata)
        f"{at} = (SELECT {column_of(Message, 'created_at')} FROM {message} "
        f"WHERE {column_of(Message, 'room')} = %s "
        f"ORDER BY {column_of(Message, 'seq')} DESC LIMIT 1) "
        f"WHERE {column_of(Room, 'id')} = %s"
    )


def give_back_seq(room_id: int) -> None:
    """Undo `take_next_seq` of a send that stores nothing, in the same transaction (which
    holds the room's lock, so no later seq was taken): the seq goes back, and the room's
    last message time is its newest message's again."""
    with connection.cursor() as cursor:
        cursor.execute(_give_back_sql(), [room_id, room_id])


def take_next_rev(room_id: int) -> int:
    """Advance the room's change counter (edits, deletions, reactions) and return it,
    holding the room's row lock until commit, so revisions commit in order."""
    with connection.cursor() as cursor:
        cursor.execute(_advance_sql("last_rev"), [room_id])
        return cursor.fetchone()[0]


def sender_state(
    room_id: int, user_id: int, client_msg_id: str
) -> tuple[str | None, int | None, bool]:
    """The sender's role in the room (None: not a member), the id of a message the
    sender already stored under this client_msg_id (in any room), and whether this is
    a direct room whose other member blocks the sender."""
    cid = db_value(Message, "client_msg_id", client_msg_id)
    params = [room_id, user_id, user_id, cid, room_id, Room.Kind.DIRECT.value, user_id]
    with connection.cursor() as cursor:
        cursor.execute(_sender_state_sql(), params)
        role, earlier_id, blocked = cursor.fetchone()
    return role, earlier_id, bool(blocked)


@cache
def _defaulted_fields(model: type[Model]) -> tuple:
    return tuple(
        field
        for field in model._meta.concrete_fields
        if field.has_default() and not field.primary_key
    )


def insert_row(model: type[Model], values: Mapping[str, Any]) -> int:
    """INSERT one row from field name -> value (fields left out take their model
    default, as the ORM would give them) and return its primary key."""
    return _insert(model, with_defaults(model, values))


def new_row(model: type[Model], values: Mapping[str, Any], *, if_new: bool = False) -> Model | None:
    """`insert_row`, and the row as a model instance (as the ORM would read it back).
    `if_new`: None, not an error, when a unique constraint already holds such a row (an
    error would end the whole transaction on PostgreSQL)."""
    values = with_defaults(model, values)
    pk = _insert(model, values, if_new=if_new)
    return None if pk is None else as_instance(model, pk, values)


def as_instance(model: type[Model], pk: int, values: Mapping[str, Any]) -> Model:
    """The row just stored from `values` (field attname -> value, defaults filled in),
    as a model instance, as the ORM's `from_db` builds a row it reads but without
    `Model.__init__`'s field-by-field walk (a tenth of a grouped send's CPU), unless
    something listens for the instance's `pre_init`/`post_init`."""
    if pre_init.has_listeners(model) or post_init.has_listeners(model):
        row = [pk, *(values.get(name, absent) for name, absent in _absent(model).items())]
        return model.from_db(connection.alias, None, row)
    instance = model.__new__(model)
    fields = instance.__dict__
    fields.update(_absent(model))
    fields.update(values)
    fields[model._meta.pk.attname] = pk
    instance._state = ModelState()
    instance._state.adding, instance._state.db = False, connection.alias
    return instance


def with_defaults(model: type[Model], values: Mapping[str, Any]) -> dict[str, Any]:
    return {
        **{f.attname: f.get_default() for f in _defaulted_fields(model) if f.attname not in values},
        **values,
    }


@cache
def _absent(model: type[Model]) -> dict[str, Any]:
    """Each concrete field but the primary key, in order, with what an instance holds
    when the field is left out and has no default (None, or "" for text)."""
    return {
        f.attname: None if f.has_default() else f.get_default()
        for f in model._meta.concrete_fields
        if not f.primary_key
    }


def _insert(model: type[Model], values: Mapping[str, Any], *, if_new: bool = False) -> int | None:
    names = tuple(values)
    params = [db_value(model, name, value) for name, value in values.items()]
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql(model, names, if_new=if_new), params)
        row = cursor.fetchone()
    return row[0] if row else None
