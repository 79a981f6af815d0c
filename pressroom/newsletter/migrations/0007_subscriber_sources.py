"""Subscribers's attribution columns, added without rebuilding the table (SQLite would copy every
row under a write lock for each AddField): one ADD COLUMN ... NOT NULL DEFAULT '' each (no
rewrite on PostgreSQL 11+ either), and the index built CONCURRENTLY on PostgreSQL (no write
lock), hence a non-atomic migration."""

from django.db import migrations, models

TABLE = "newsletter_subscriber"
INDEX = "subscriber_source_campaign"
COLUMNS = (("source_campaign", 40), ("source_path", 300))


def create_index(apps, schema_editor):
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    schema_editor.execute(
        f'CREATE INDEX {concurrently}"{INDEX}" ON "{TABLE}" ("source_campaign", "created_at") '
        "WHERE NOT (\"source_campaign\" = '')"
    )


def drop_index(apps, schema_editor):
    schema_editor.execute(f'DROP INDEX "{INDEX}"')


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("newsletter", "0006_segment_snapshot"),
        ("publishing", "0014_article_licence"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    f'ALTER TABLE "{TABLE}" ADD COLUMN "{name}" varchar({length}) '
                    "DEFAULT '' NOT NULL",
                    f'ALTER TABLE "{TABLE}" DROP COLUMN "{name}"',
                )
                for name, length in COLUMNS
            ]
            + [migrations.RunPython(create_index, drop_index)],
            state_operations=[
                migrations.AddField(
                    model_name="subscriber",
                    name="source_campaign",
                    field=models.CharField(
                        blank=True, db_default="", default="", editable=False, max_length=40
                    ),
                ),
                migrations.AddField(
                    model_name="subscriber",
                    name="source_path",
                    field=models.CharField(
                        blank=True, db_default="", default="", editable=False, max_length=300
                    ),
                ),
                migrations.AddIndex(
                    model_name="subscriber",
                    index=models.Index(
                        condition=models.Q(("source_campaign", ""), _negated=True),
                        fields=["source_campaign", "created_at"],
                        name=INDEX,
                    ),
                ),
            ],
        ),
    ]
