"""Django's SQLite backend, with each statement's placeholders converted once.

Django writes statements with `%s` placeholders, and its SQLite cursor turns them into the
driver's `?` with a regular expression on every execute: 21 µs for an article's row, whose
statement is 1,400 characters, more than SQLite takes to run it. The same statements come back
on every request (the ORM builds the same text, prepared reads keep theirs), so the converted
text is kept per statement text. Everything else is Django's backend as it is.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from django.db.backends.sqlite3 import base

# Longer statements (a bulk insert's thousand placeholders) are converted each time rather than
# kept: the memo holds at most 1,024 statements of 8,000 characters and their conversions (16 MB
# of ASCII; the statements a site repeats are a few hundred of far less).
KEPT_LENGTH = 8_000


@functools.lru_cache(maxsize=1024)
def _qmark_style(query: str) -> str:
    return base.FORMAT_QMARK_REGEX.sub("?", query).replace("%%", "%")


class SQLiteCursorWrapper(base.SQLiteCursorWrapper):
    def convert_query(self, query: str, *, param_names: Sequence[str] | None = None) -> str:
        if param_names is None and len(query) <= KEPT_LENGTH:
            return _qmark_style(query)
        return super().convert_query(query, param_names=param_names)


class DatabaseWrapper(base.DatabaseWrapper):
    def create_cursor(self, name: str | None = None) -> Any:
        return self.connection.cursor(factory=SQLiteCursorWrapper)
