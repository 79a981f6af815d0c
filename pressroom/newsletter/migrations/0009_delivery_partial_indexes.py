"""Fewer index entries per delivery: a send writes each row three times (pending when the
segment is written, sending when a batch is claimed, sent), and each write of `state` is a new
row version with an entry in every index that holds the row.

- `delivery_batch_state` (digest, batch, state) becomes `delivery_pending` (digest, batch) of
  pending rows only: the batch's rows to claim.
- `delivery_message_id` becomes `delivery_provider_message_id` of the rows that have one (a
  provider's id; mail sent over SMTP leaves it blank).
- The foreign key's own index on `digest_id` goes: `delivery_one_per_subscriber` (digest,
  subscriber) starts with the same column.

`delivery_claims` (state, claimed_by) stays whole: made partial, SQLite's recovery query, which
does not repeat the condition as a term of its own, scanned the table every heartbeat.

The database work is written out so that PostgreSQL builds the new indexes CONCURRENTLY (sends
and signups go on while a large table is indexed), hence a non-atomic migration; on SQLite the
steps run in one transaction.
"""

from django.db import migrations, models, transaction
from django.db.models import Q

ADDED = [
    models.Index(fields=["digest", "batch"], condition=Q(state="pending"), name="delivery_pending"),
    models.Index(
        fields=["message_id"], condition=~Q(message_id=""), name="delivery_provider_message_id"
    ),
]
REMOVED = [
    models.Index(fields=["digest", "batch", "state"], name="delivery_batch_state"),
    models.Index(fields=["message_id"], name="delivery_message_id"),
]


def _digest_fk_indexes(schema_editor, table: str) -> list[str]:
    """The name(s) Django gave the index of `digest_id` alone (a hash of the table and column)."""
    with schema_editor.connection.cursor() as cursor:
        constraints = schema_editor.connection.introspection.get_constraints(cursor, table)
    return [
        name
        for name, details in constraints.items()
        if details["index"]
        and details["columns"] == ["digest_id"]
        and not details["unique"]
        and not details["primary_key"]
    ]


def _swap(schema_editor, model, add: list, remove: list, *, fk_index: bool) -> None:
    postgresql = schema_editor.connection.vendor == "postgresql"
    table = model._meta.db_table
    if not postgresql:
        with transaction.atomic(using=schema_editor.connection.alias):
            for index in add:
                schema_editor.add_index(model, index)
            for index in remove:
                schema_editor.remove_index(model, index)
            _foreign_key_index(schema_editor, model, table, create=fk_index)
        return
    for index in add:
        # An interrupted concurrent build leaves an invalid index of this name: start afresh.
        schema_editor.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{index.name}"')
        schema_editor.add_index(model, index, concurrently=True)
    for index in remove:
        schema_editor.remove_index(model, index, concurrently=True)  # DROP … IF EXISTS
    _foreign_key_index(schema_editor, model, table, create=fk_index)


def _foreign_key_index(schema_editor, model, table: str, *, create: bool) -> None:
    concurrently = " CONCURRENTLY" if schema_editor.connection.vendor == "postgresql" else ""
    existing = _digest_fk_indexes(schema_editor, table)
    if create and not existing:
        name = schema_editor._create_index_name(table, ["digest_id"])
        schema_editor.execute(f'CREATE INDEX{concurrently} "{name}" ON "{table}" ("digest_id")')
    elif not create:
        for name in existing:
            schema_editor.execute(f'DROP INDEX{concurrently} IF EXISTS "{name}"')


def forwards(apps, schema_editor):
    delivery = apps.get_model("newsletter", "Delivery")
    _swap(schema_editor, delivery, ADDED, REMOVED, fk_index=False)


def backwards(apps, schema_editor):
    delivery = apps.get_model("newsletter", "Delivery")
    _swap(schema_editor, delivery, REMOVED, ADDED, fk_index=True)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("newsletter", "0008_subscriber_email_search"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                *(
                    migrations.RemoveIndex(model_name="delivery", name=index.name)
                    for index in REMOVED
                ),
                migrations.AlterField(
                    model_name="delivery",
                    name="digest",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=models.deletion.CASCADE,
                        related_name="deliveries",
                        to="newsletter.digest",
                    ),
                ),
                *(migrations.AddIndex(model_name="delivery", index=index) for index in ADDED),
            ],
            database_operations=[migrations.RunPython(forwards, backwards)],
        )
    ]
