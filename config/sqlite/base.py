"""Django's SQLite backend, rewriting a statement's `%s` placeholders to SQLite's `?`
once per statement text instead of on every execute.

Django runs a regular expression over each statement every time it is executed; over a
group of sends' long statements (chat/services/sql_group.py) that was 60–120 µs a group,
more than the rest of the group's Python around them (docs/performance.md). The rewrite
depends on the text alone, and those texts are few and repeat, so it is kept.
"""

from functools import lru_cache

from django.db.backends.sqlite3 import base

KEPT_CHARS = 8192  # longer texts (a large bulk INSERT) are rewritten each time, not kept


class SQLiteCursorWrapper(base.SQLiteCursorWrapper):
    def convert_query(self, query: str, *, param_names: list[str] | None = None) -> str:
        if param_names is not None:
            return super().convert_query(query, param_names=param_names)
        if len(query) > KEPT_CHARS:
            return _rewritten(query)
        return _kept(query)


def _rewritten(query: str) -> str:
    return base.FORMAT_QMARK_REGEX.sub("?", query).replace("%%", "%")


_kept = lru_cache(maxsize=512)(_rewritten)


class DatabaseWrapper(base.DatabaseWrapper):
    def create_cursor(self, name=None):
        return self.connection.cursor(factory=SQLiteCursorWrapper)
