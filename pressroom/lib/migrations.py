"""Migration operations that keep the site serving while they run (docs/deploy.md, upgrades).

On PostgreSQL an index is built and dropped CONCURRENTLY: a plain CREATE INDEX locks the table
against writes for as long as the build takes, and the previous release keeps writing during
a rolling upgrade. Elsewhere (SQLite, the embedded shape: nothing else writes during `migrate`)
they are Django's plain AddIndex and RemoveIndex. A migration using them sets atomic = False,
as PostgreSQL builds a concurrent index outside a transaction.
"""

from __future__ import annotations

from typing import Any

from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db.migrations.operations import AddIndex, RemoveIndex


def _on_postgresql(schema_editor: Any) -> bool:
    return schema_editor.connection.vendor == "postgresql"


class _OnlineOnPostgreSQL:
    """Runs the CONCURRENTLY operation it is mixed into on PostgreSQL, and `plain` elsewhere."""

    plain: Any

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        if _on_postgresql(schema_editor):
            super().database_forwards(app_label, schema_editor, from_state, to_state)  # type: ignore[misc]
        else:
            self.plain.database_forwards(self, app_label, schema_editor, from_state, to_state)

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        if _on_postgresql(schema_editor):
            super().database_backwards(app_label, schema_editor, from_state, to_state)  # type: ignore[misc]
        else:
            self.plain.database_backwards(self, app_label, schema_editor, from_state, to_state)


class AddIndexOnline(_OnlineOnPostgreSQL, AddIndexConcurrently):
    """AddIndex, CONCURRENTLY on PostgreSQL."""

    plain = AddIndex


class RemoveIndexOnline(_OnlineOnPostgreSQL, RemoveIndexConcurrently):
    """RemoveIndex, CONCURRENTLY on PostgreSQL."""

    plain = RemoveIndex
