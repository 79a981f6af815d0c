"""Django's SQLite backend, with each statement's placeholders converted once, and a writer
that waits for the write lock asking for it every millisecond.

Django writes statements with `%s` placeholders, and its SQLite cursor turns them into the
driver's `?` with a regular expression on every execute: 21 µs for an article's row, whose
statement is 1,400 characters, more than SQLite takes to run it. The same statements come back
on every request (the ORM builds the same text, prepared reads keep theirs), so the converted
text is kept per statement text.

A transaction (`BEGIN IMMEDIATE`) that finds another process writing is left waiting by SQLite's
busy handler, which sleeps longer and longer between tries: after a quarter of a second it asks
once every 100 ms. While two digest workers and the segment's fan-out commit hundreds of times a
second, the lock is free for a millisecond here and there, and a reader signing up could miss
every one of those gaps for seconds. Here the transaction asks again every millisecond instead,
for as long as the busy timeout (`PRAGMA busy_timeout`); statements outside a transaction keep
SQLite's own handler. Everything else is Django's backend as it is.
"""

from __future__ import annotations

import functools
import sqlite3
import time
from collections.abc import Sequence
from typing import Any

from django.db import OperationalError
from django.db.backends.sqlite3 import base

# Longer statements (a bulk insert's thousand placeholders) are converted each time rather than
# kept: the memo holds at most 1,024 statements of 8,000 characters and their conversions (16 MB
# of ASCII; the statements a site repeats are a few hundred of far less).
KEPT_LENGTH = 8_000
# How long a transaction waiting for the write lock sleeps between two tries.
LOCK_RETRY_SECONDS = 0.001


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

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        connection = super().get_new_connection(conn_params)
        # The busy timeout as configured (`timeout`, then init_command's PRAGMA), read once:
        # what a transaction waits for the lock at most, and what it puts back afterwards.
        self.busy_timeout_ms = int(connection.execute("PRAGMA busy_timeout").fetchone()[0])
        return connection

    def _start_transaction_under_autocommit(self) -> None:
        if self.transaction_mode != "IMMEDIATE":
            super()._start_transaction_under_autocommit()
            return
        raw = self.connection
        deadline = time.monotonic() + self.busy_timeout_ms / 1000
        try:
            raw.execute("PRAGMA busy_timeout = 0")
            while True:
                try:
                    # Through Django's cursor: logged and timed like every statement.
                    self.cursor().execute("BEGIN IMMEDIATE")
                    break
                except OperationalError as error:
                    cause = error.__cause__
                    busy = isinstance(cause, sqlite3.OperationalError) and (
                        cause.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY
                    )
                    if not busy or time.monotonic() >= deadline:
                        raise
                time.sleep(LOCK_RETRY_SECONDS)
        finally:
            with self.wrap_database_errors:
                raw.execute(f"PRAGMA busy_timeout = {self.busy_timeout_ms}")
