"""PostgreSQL: the admin's subscriber search is Django's icontains, UPPER(email::text) LIKE
UPPER('%…%'), which read all 100,000 rows of the benchmark's list twice a search (the page and
its count, 150 ms). A trigram index on that expression serves it, as publishing 0015 does for
article titles (pg_trgm ships with Debian's postgresql package). Built CONCURRENTLY, so
signups keep working while a large list is indexed; hence a non-atomic migration. SQLite scans
the email index, fast enough at that size (bench/search.py)."""

from django.db import migrations

INDEX = "subscriber_email_trigram"


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        # A concurrent build that was interrupted leaves an invalid index of this name, which
        # IF NOT EXISTS would keep: drop it, so that migrating again builds it whole.
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(
                "SELECT NOT indisvalid FROM pg_index WHERE indexrelid = to_regclass(%s)", [INDEX]
            )
            invalid = cursor.fetchone()
        if invalid and invalid[0]:
            schema_editor.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{INDEX}"')
        schema_editor.execute(
            f'CREATE INDEX CONCURRENTLY IF NOT EXISTS "{INDEX}" ON "newsletter_subscriber" '
            "USING gin ((UPPER(email::text)) gin_trgm_ops)"
        )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{INDEX}"')


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("newsletter", "0007_subscriber_sources"),
    ]

    operations = [migrations.RunPython(create_index, drop_index)]
