"""The SQLite backend converts each statement's placeholders once (pressroom/lib/sqlite3): the
same results as Django's own backend for every placeholder style, a literal `%` included."""

from __future__ import annotations

import pytest
from django.db import connection, connections

from pressroom.lib.sqlite3 import base as backend

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "sqlite", reason="the SQLite backend's own"),
]


def _rows(sql: str, params: object) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def test_the_project_runs_its_own_backend():
    assert type(connections["default"]).__module__ == "pressroom.lib.sqlite3.base"


def test_a_statement_run_again_is_converted_once_with_the_same_results():
    sql = "SELECT %s || 'x', 'a%%b' LIKE 'a%%', %s * 2 -- kept once"
    before = backend._qmark_style.cache_info()
    assert _rows(sql, ["one", 21]) == [("onex", 1, 42)]
    assert _rows(sql, ["two", 4]) == [("twox", 1, 8)]
    after = backend._qmark_style.cache_info()
    assert after.misses - before.misses == 1
    assert after.hits - before.hits == 1


def test_a_placeholder_written_as_text_stays_text():
    # "%%s" is a literal "%s" in Django's format style, not a placeholder.
    assert _rows("SELECT '%%s', %s", [5]) == [("%s", 5)]


def test_named_placeholders_and_long_statements_still_work():
    assert _rows("SELECT %(first)s + %(second)s", {"first": 2, "second": 3}) == [(5,)]
    values = list(range(2000))  # a statement longer than what is kept
    placeholders = ", ".join(["%s"] * len(values))
    sql = f"SELECT COUNT(*) FROM (SELECT 1 AS n) WHERE n IN ({placeholders})"  # noqa: S608
    assert len(sql) > backend.KEPT_LENGTH
    assert _rows(sql, values) == [(1,)]
