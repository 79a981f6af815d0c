"""Upgrades without errors: migrations are safe while the previous release still serves.

During an upgrade (docs/deploy.md) `pressroom migrate` runs first, and the app servers of the
previous release keep answering until each is restarted. Their inserts name only the columns
they know: a new NOT NULL column needs a default in the database itself (`db_default`), or
must be nullable (then backfilled, then made NOT NULL in a later release). A Python-side
`default` is not enough: Django fills it in on the new code's inserts only, and the migration
drops it from the table once the column is added.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, migrations, transaction
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone


def _pressroom_migrations(loader: MigrationLoader):
    for (app, name), migration in sorted(loader.disk_migrations.items()):
        if type(migration).__module__.startswith("pressroom."):
            yield app, name, migration


def test_no_migration_adds_a_not_null_column_the_previous_release_cannot_insert_without():
    loader = MigrationLoader(None, ignore_no_migrations=True)
    unsafe = []
    for app, name, migration in _pressroom_migrations(loader):
        # A table new in this migration is one the previous release never writes to (its
        # foreign keys are often added after the CreateModel, by makemigrations).
        created = {
            operation.name_lower
            for operation in migration.operations
            if isinstance(operation, migrations.CreateModel)
        }
        for operation in migration.operations:
            if not isinstance(operation, migrations.AddField | migrations.AlterField):
                continue
            if operation.model_name_lower in created:
                continue
            field = operation.field
            if field.many_to_many or field.null or field.has_db_default():
                continue
            if isinstance(operation, migrations.AlterField):
                continue  # the column exists already: the previous release writes it
            unsafe.append(f"{app}.{name}: {operation.model_name}.{operation.name}")
    assert unsafe == [], (
        "These migrations add NOT NULL columns without db_default: the previous release's "
        "inserts fail during an upgrade. Add db_default=…, or make the column nullable."
    )


@pytest.mark.django_db
def test_the_previous_releases_inserts_work_on_the_newest_schema_of_every_app():
    """The real tables after every migration, against what the code before each app's newest
    migration knew: every column it does not know must accept an insert that leaves it out."""
    loader = MigrationLoader(connection)
    checked = 0
    for app in sorted({app for app, _, _ in _pressroom_migrations(loader)}):
        newest = loader.graph.leaf_nodes(app)[0]
        parents = [node for node in loader.graph.node_map[newest].parents if node[0] == app]
        if not parents:
            continue  # the app's first migration: no previous release wrote its tables
        before = loader.project_state(parents[0], at_end=True).apps
        after = loader.project_state(newest, at_end=True).apps
        for model in after.get_app_config(app).get_models():
            if model._meta.proxy:
                continue  # its table is its concrete model's, checked through that model
            try:
                old_model = before.get_model(app, model._meta.model_name)
            except LookupError:
                continue  # a new table: the previous release does not write it
            known = {field.column for field in old_model._meta.local_concrete_fields}
            with connection.cursor() as cursor:
                columns = connection.introspection.get_table_description(
                    cursor, model._meta.db_table
                )
            for column in columns:
                checked += 1
                if column.name in known:
                    continue
                assert column.null_ok or column.default is not None, (
                    f"{model._meta.db_table}.{column.name} is NOT NULL without a database "
                    f"default: the code before {app}.{newest[1]} cannot insert a row"
                )
    assert checked > 0


# Nullable fields the previous release always fills for the first choice of a model's kind
# (a check constraint ties them together): an imported post has its article.
FILLED_WITH_KIND = {("importers", "importeditem"): {"article"}}

# Single-row tables, whose id a check constraint pins: the row has that id, whatever the
# database's id counter says after an earlier test's row was flushed (SQLite keeps counting).
SINGLE_ROW_IDS = {("site", "sitesettings"): 1}


class _EveryChoiceTaken(Exception):
    pass


class _PreviousReleaseRows:
    """Rows as the previous release's code writes them: its models (the migration state before
    each app's newest migration), with every field it would fill given a plausible value."""

    def __init__(self, apps) -> None:
        self.apps = apps
        self.counter = 0

    def value(self, field):
        self.counter += 1
        number = self.counter
        if field.choices:
            if field.unique:
                # A unique choice (a menu's location) may be taken by a row a data migration
                # wrote, or by one made for a foreign key: the first one still free.
                taken = set(field.model._default_manager.values_list(field.attname, flat=True))
                free = [choice for choice, _ in field.choices if choice not in taken]
                if not free:
                    raise _EveryChoiceTaken
                return free[0]
            return field.choices[0][0]
        kind = field.get_internal_type()
        if kind in ("ForeignKey", "OneToOneField"):
            return self.create(field.related_model)
        if kind.endswith("IntegerField"):
            return number % 30000 + 1
        simple = {
            "BooleanField": False,
            # Later with every value: unique dates, and an end after its start.
            "DateTimeField": timezone.now() + timedelta(minutes=number),
            "DateField": timezone.now().date() + timedelta(days=number),
            "TimeField": timezone.now().time(),
            "DecimalField": Decimal("1"),
            "FloatField": 1.0,
            "JSONField": {},
            "UUIDField": uuid.uuid4(),
            "BinaryField": b"",
            "DurationField": timedelta(0),
            "EmailField": f"reader{number}@example.org",
            "URLField": f"https://example.org/{number}",
            "GenericIPAddressField": "127.0.0.1",
            "FileField": f"previous/{number}.txt",
            "ImageField": f"previous/{number}.jpg",
        }
        if kind in simple:
            return simple[kind]
        text = f"previous-release-{number}"
        return text[: field.max_length] if field.max_length else text

    def create(self, model):
        """A new row, or, where a unique choice has no value left (the header and footer
        menus exist from the migration that made them), an existing one."""
        try:
            return self._new(model)
        except _EveryChoiceTaken:
            return model._default_manager.first()

    def _new(self, model):
        fields = {}
        key = (model._meta.app_label, model._meta.model_name)
        filled = FILLED_WITH_KIND.get(key, set())
        if key in SINGLE_ROW_IDS:
            existing = model._default_manager.filter(pk=SINGLE_ROW_IDS[key]).first()
            if existing is not None:
                return existing
            fields["id"] = SINGLE_ROW_IDS[key]
        for field in model._meta.local_concrete_fields:
            if field.primary_key and field.get_internal_type().endswith("AutoField"):
                continue
            if field.name not in filled and (
                field.null or field.has_default() or field.has_db_default()
            ):
                continue
            fields[field.attname if field.is_relation else field.name] = (
                self.value(field).pk if field.is_relation else self.value(field)
            )
        return model._default_manager.create(**fields)


@pytest.mark.django_db(transaction=True)
def test_the_previous_release_writes_every_table_of_every_app_on_the_newest_schema():
    """What the old app servers do between `migrate` and their restart (docs/deploy.md's
    upgrade): insert, update and delete rows of every model they know, with the models they
    know, on the tables as the newest migrations left them."""
    loader = MigrationLoader(connection)
    failures, written = [], 0
    for app in sorted({app for app, _, _ in _pressroom_migrations(loader)}):
        newest = loader.graph.leaf_nodes(app)[0]
        parents = [node for node in loader.graph.node_map[newest].parents if node[0] == app]
        if not parents:
            continue
        before = loader.project_state(parents[0], at_end=True).apps
        rows = _PreviousReleaseRows(before)
        for model in before.get_app_config(app).get_models():
            if model._meta.proxy:
                continue  # its rows are its concrete model's, written through that model
            try:
                with transaction.atomic():
                    row = rows.create(model)
                    row.save()  # an update of every column it knows
                    model._default_manager.filter(pk=row.pk).delete()
                written += 1
            except DatabaseError as error:
                failures.append(f"{app}.{newest[1]}: {model.__name__}: {error}")
    assert failures == []
    assert written > 5
