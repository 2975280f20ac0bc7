import sqlite3

import pytest
from django.db.backends.sqlite3 import base as django_sqlite

from config.sqlite.base import KEPT_CHARS, SQLiteCursorWrapper, _kept

STATEMENTS = [
    "SELECT %s, %s",
    "SELECT '100%%', %s WHERE 'a%%s' LIKE %s",
    "INSERT INTO t (a, b) VALUES " + ", ".join(["(%s, %s)"] * 25),  # noqa: S608
    "INSERT INTO t (a, b) VALUES " + ", ".join(["(%s, '%%')"] * KEPT_CHARS),  # noqa: S608
]


@pytest.fixture
def cursor():
    connection = sqlite3.connect(":memory:")
    yield connection.cursor(factory=SQLiteCursorWrapper)
    connection.close()


@pytest.mark.parametrize("statement", STATEMENTS)
def test_a_statement_is_rewritten_as_djangos_backend_rewrites_it(cursor, statement):
    djangos = sqlite3.connect(":memory:")
    expected = djangos.cursor(factory=django_sqlite.SQLiteCursorWrapper).convert_query(statement)
    djangos.close()
    assert cursor.convert_query(statement) == expected


def test_a_very_long_statement_is_not_kept(cursor):
    before = _kept.cache_info().currsize
    cursor.convert_query("SELECT " + ", ".join(["%s"] * KEPT_CHARS))
    assert _kept.cache_info().currsize == before


def test_a_statement_text_is_rewritten_once_however_often_it_runs(cursor):
    statement = "SELECT %s + %s, '%%' -- once"
    before = _kept.cache_info().misses
    for n in range(3):
        assert cursor.execute(statement, [n, 1]).fetchone() == (n + 1, "%")
    assert _kept.cache_info().misses == before + 1


def test_named_parameters_go_through_djangos_own_rewrite(cursor):
    assert cursor.execute("SELECT %(a)s * %(b)s", {"a": 6, "b": 7}).fetchone() == (42,)
