"""Reads whose SQL is compiled once per process and connection, then run with other values.

Building and compiling a QuerySet costs Django about a millisecond for a model of thirty
columns, while the statement itself takes a few hundredths of that. For a read that every
request of a page makes with a different value (an article by its slug), `PreparedRead` builds
the QuerySet once with a placeholder value, keeps the SQL and what turns its rows into model
instances (the same converters and instances the QuerySet would make, its select_related
objects included), and runs the same SQL with each value asked for.

Only what can be kept whole is accepted: one parameter (the placeholder), forward
select_related one level deep, no prefetch_related, no annotations; anything else raises
ValueError when the read is first used, never a wrong result. A read whose other values are
constants of the code (a list of presets, never the time or a setting) says so with
`constants=True`; the placeholder must then appear once among them.

Instances are made as `Model.from_db` makes them, without running `Model.__init__` when no
receiver listens to the model's pre_init/post_init signals (nothing but the field values and
`_state` would differ): `__init__` set each of an image's thirty renditions field by field,
a tenth of an article page's render. A model with such receivers goes through `from_db`.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model, QuerySet
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init


@dataclass(frozen=True)
class _Part:
    """One model's columns in a row, and how the instance is set on the main one."""

    model: type[Model]
    columns: slice
    attnames: list[str]
    pk_index: int
    setter: Callable[[Model, Model | None], None] | None = None
    # Every concrete field's column is read, and the model allows it (`can_skip_init`).
    direct: bool = False

    def make(self, alias: str, values: tuple[Any, ...]) -> Model:
        """What `model.from_db(alias, attnames, values)` gives."""
        if not self.direct:
            return self.model.from_db(alias, self.attnames, values)
        return _without_init(self.model, alias, self.attnames, values)


def instance_from_db[M: Model](
    model: type[M], alias: str, attnames: list[str], values: Sequence[Any]
) -> M:
    """What `model.from_db(alias, attnames, values)` gives (the fields not named deferred, as
    there), without `__init__` when nothing listens to the model's pre_init/post_init signals:
    for rows read by plain SQL (an article's corrections and bylines), where `__init__` cost
    fifteen microseconds an instance. A model with its own `__init__` or `from_db` goes through
    them."""
    if not can_skip_init(model):
        return model.from_db(alias, attnames, values)
    return _without_init(model, alias, attnames, values)


def can_skip_init(model: type[Model]) -> bool:
    """An instance made without `__init__` is the one `from_db` makes: nothing listens to the
    model's pre_init/post_init signals, and it has no `__init__` or `from_db` of its own."""
    return not (
        pre_init.has_listeners(model)
        or post_init.has_listeners(model)
        or model.__init__ is not Model.__init__
        or getattr(model.from_db, "__func__", None) is not Model.from_db.__func__  # type: ignore[attr-defined]
    )


def _without_init[M: Model](
    model: type[M], alias: str, attnames: list[str], values: Sequence[Any]
) -> M:
    instance = model.__new__(model)
    # What __init__ does for positional values: each attname set (a FileField's descriptor
    # stores the name in __dict__ too; a field not named is left out of __dict__, which is what
    # makes it deferred), then from_db's _state.
    instance.__dict__.update(zip(attnames, values, strict=True))
    state = ModelState()
    state.adding = False
    state.db = alias
    instance._state = state
    return instance


@dataclass(frozen=True)
class _Compiled:
    sql: str
    params: tuple[Any, ...]  # the build's, the placeholder at `slot`
    slot: int
    compiler: Any  # django.db.models.sql.compiler.SQLCompiler
    converters: dict[int, Any]
    main: _Part
    related: list[_Part]


class PreparedRead[M: Model]:
    """`read(value)`: the instances `build(value)` would give, its SQL compiled once per
    database connection (so per thread) with `placeholder` in the value's place."""

    def __init__(
        self,
        build: Callable[[Any], QuerySet[M]],
        placeholder: object,
        using: str = "default",
        *,
        constants: bool = False,
    ) -> None:
        self._build = build
        self._placeholder = placeholder
        self._constants = constants
        self._using = using
        self._compiled: weakref.WeakKeyDictionary[BaseDatabaseWrapper, _Compiled] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()

    def __call__(self, value: Any) -> list[M]:
        connection = connections[self._using]
        compiled = self._compiled.get(connection)
        if compiled is None:
            compiled = self._compile(connection)
            with self._lock:
                self._compiled[connection] = compiled
        params = list(compiled.params)
        params[compiled.slot] = value
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            rows: list[Any] = cursor.fetchall()
        if compiled.converters:
            rows = list(compiled.compiler.apply_converters(rows, compiled.converters))
        alias = connection.alias
        found: list[M] = []
        main = compiled.main
        for row in rows:
            instance = main.make(alias, row[main.columns])
            for part in compiled.related:
                values = row[part.columns]
                related = None if values[part.pk_index] is None else part.make(alias, values)
                part.setter(instance, related)  # type: ignore[misc]
            found.append(instance)  # type: ignore[arg-type]
        return found

    def _compile(self, connection: BaseDatabaseWrapper) -> _Compiled:
        queryset = self._build(self._placeholder)
        query = queryset.query
        prefetches = getattr(queryset, "_prefetch_related_lookups", ())
        if prefetches or query.annotations or query.extra:
            raise ValueError("PreparedRead keeps columns only: no prefetch, annotation or extra.")
        compiler = query.get_compiler(connection=connection)
        sql, params = compiler.as_sql()
        slots = [index for index, param in enumerate(params) if param == self._placeholder]
        if len(slots) != 1 or (len(params) != 1 and not self._constants):
            raise ValueError(
                "PreparedRead needs the placeholder as its one parameter (or once among "
                f"constants, with constants=True): {params}"
            )
        select = compiler.select
        info = compiler.klass_info

        def part(info: dict[str, Any], setter: Any = None) -> _Part:
            start, end = info["select_fields"][0], info["select_fields"][-1] + 1
            attnames = [column[0].target.attname for column in select[start:end]]
            model = info["model"]
            concrete = [field.attname for field in model._meta.concrete_fields]
            direct = sorted(attnames) == sorted(concrete) and can_skip_init(model)
            return _Part(
                model,
                slice(start, end),
                attnames,
                attnames.index(model._meta.pk.attname),
                setter,
                direct,
            )

        related = []
        for child in info.get("related_klass_infos", []):
            if child["reverse"] or child.get("related_klass_infos") or child["from_parent"]:
                raise ValueError("PreparedRead follows forward select_related one level deep.")
            related.append(part(child, child["local_setter"]))
        converters = compiler.get_converters([column[0] for column in select[: compiler.col_count]])
        return _Compiled(sql, tuple(params), slots[0], compiler, converters, part(info), related)
