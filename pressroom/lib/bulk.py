"""Many rows in one statement, without building a model instance per row.

bulk_create spends most of its time preparing model instances; for the article, link and
bookkeeping rows an import writes by the ten thousand, a prepared executemany is several times
cheaper. Each value still goes through its field's get_db_prep_save, so dates and booleans are
adapted the way the ORM would for the backend in use (text is passed as it is: for a str,
get_db_prep_save of a CharField or TextField returns it unchanged).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime
from typing import Any

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import (
    BooleanField,
    CharField,
    DateTimeField,
    Field,
    ForeignKey,
    IntegerField,
    Model,
    TextField,
)


def _unchanged_type(field: Field) -> type | None:
    """The Python type whose values `field` passes to the database as they are, if any: for
    an int, IntegerField (and a key to an integer primary key) returns int(value), adapted by
    no backend; for a bool, BooleanField returns the bool. Skipping get_db_prep_save for them
    saves most of the work on link rows, which are ids and flags."""
    target = field.target_field if isinstance(field, ForeignKey) else field
    if isinstance(target, BooleanField):
        return bool
    if isinstance(target, IntegerField):
        return int
    return None


def _preparer(field: Field, connection: BaseDatabaseWrapper) -> Callable[[Any], object]:
    """What the ORM would send to the database for a value of `field`."""
    if not isinstance(field, DateTimeField):
        return lambda value: field.get_db_prep_save(value, connection)
    # For an aware datetime, DateTimeField.get_db_prep_save comes down to the backend's
    # adapt_datetimefield_value (to_python returns it unchanged; the naive-time warning does
    # not apply): calling that directly costs half as much, and every article row has three.
    adapt_datetime = connection.ops.adapt_datetimefield_value

    def prepare(value: Any) -> object:
        if type(value) is datetime and value.tzinfo is not None:
            return adapt_datetime(value)
        return field.get_db_prep_save(value, connection)

    return prepare


def _adapter(field: Field, connection: BaseDatabaseWrapper) -> Callable[[object], object]:
    if isinstance(field, CharField | TextField):
        return lambda value: (
            value if type(value) is str else field.get_db_prep_save(value, connection)
        )
    unchanged = _unchanged_type(field)
    prepare = _preparer(field, connection)
    # Rows repeat values (an article's date on each of its links): adapt each value once.
    adapted: dict[object, object] = {}

    def adapt(value: object) -> object:
        if value is None or type(value) is unchanged:
            # None is NULL for every field; see _unchanged_type.
            return value
        try:
            return adapted[value]
        except KeyError:
            result = adapted[value] = prepare(value)
            return result

    return adapt


def insert_rows(model: type[Model], names: Sequence[str], rows: Iterable[Sequence[object]]) -> int:
    """INSERT `rows` (values in the order of the field `names`) into `model`'s table."""
    # The connection itself, not django.db.connection: every attribute read through that proxy
    # looks up the current thread's connection again, and adapting a value reads several.
    connection = connections[DEFAULT_DB_ALIAS]
    fields = [model._meta.get_field(name) for name in names]
    concrete = [field for field in fields if isinstance(field, Field)]
    if len(concrete) != len(fields):
        raise ValueError(f"insert_rows writes concrete fields only, not {names!r}")
    quote = connection.ops.quote_name
    columns = ", ".join(quote(str(field.column)) for field in concrete)
    placeholders = ", ".join(["%s"] * len(concrete))
    # Only quoted table and column names from the model are interpolated; values are parameters.
    sql = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES ({placeholders})"  # noqa: S608
    adapters = [_adapter(field, connection) for field in concrete]
    prepared: list[list[Any]] = []
    for row in rows:
        if len(row) != len(concrete):
            raise ValueError(f"expected {len(concrete)} values, got {len(row)}")
        prepared.append([adapt(value) for adapt, value in zip(adapters, row, strict=True)])
    if prepared:
        with connection.cursor() as cursor:
            cursor.executemany(sql, prepared)
    return len(prepared)


# Pages of write-ahead log between SQLite's checkpoints during a bulk write: 64 MB of 4 KB pages,
# where SQLite's default (1,000) checkpoints after nearly every batch of an import.
BULK_CHECKPOINT_PAGES = 16384


@contextmanager
def fewer_checkpoints() -> Iterator[None]:
    """Let a long run of large transactions (an import) checkpoint SQLite's write-ahead log
    every 64 MB rather than every 4 MB. Each checkpoint copies the log into the database and
    syncs both files, and the committing transaction waits for it: with the default, an
    import's 500-post batches each paid one. Fewer checkpoints copy a page rewritten by several
    batches (an index's, the search index's) once, and sync less. What a crash or a killed
    process keeps is the same: a committed batch is in the log, which SQLite reads as part of
    the database. This connection only, restored at the end; other databases: nothing."""
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_autocheckpoint")
        (previous,) = cursor.fetchone()
        cursor.execute(f"PRAGMA wal_autocheckpoint = {BULK_CHECKPOINT_PAGES:d}")
    try:
        yield
    finally:
        # Not over the error that ended the write: a connection that refuses this is broken
        # (and a new one starts from SQLite's default).
        with suppress(DatabaseError), connection.cursor() as cursor:
            cursor.execute(f"PRAGMA wal_autocheckpoint = {int(previous):d}")
