"""`delivery_claims` (state, claimed_by) goes: recovery reads the claimed batches (0010).

On its own and not atomic, so that PostgreSQL drops the index CONCURRENTLY (sends and signups
go on) and a failure here leaves 0010 applied and recorded.
"""

from django.db import migrations, models

CLAIMS = models.Index(fields=["state", "claimed_by"], name="delivery_claims")


def drop_claims_index(apps, schema_editor):
    delivery = apps.get_model("newsletter", "Delivery")
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.remove_index(delivery, CLAIMS, concurrently=True)  # DROP … IF EXISTS
    else:
        schema_editor.remove_index(delivery, CLAIMS)


def create_claims_index(apps, schema_editor):
    delivery = apps.get_model("newsletter", "Delivery")
    if schema_editor.connection.vendor == "postgresql":
        # An interrupted concurrent build leaves an invalid index of this name: start afresh.
        schema_editor.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{CLAIMS.name}"')
        schema_editor.add_index(delivery, CLAIMS, concurrently=True)
    else:
        schema_editor.add_index(delivery, CLAIMS)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("newsletter", "0010_delivery_batches"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.RemoveIndex(model_name="delivery", name=CLAIMS.name)],
            database_operations=[migrations.RunPython(drop_claims_index, create_claims_index)],
        ),
    ]
