"""`pressroom restore-backup FILE [--go-live]`: restore an archive into an empty site."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from pressroom.backups.archive import BackupError, restore_backup


class Command(BaseCommand):
    # The checks would open the database (and create an empty SQLite file) before the command
    # looks at it; restore-backup checks what it needs itself.
    requires_system_checks: list[str] = []

    help = (
        "Restore a `pressroom backup` archive into the configured, empty database (as the "
        "application's own role). The copy stays isolated (its own cache keys, tasks paused) "
        "until `pressroom go-live`, unless --go-live is given."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", help="The archive (pressroom-YYYYMMDD-HHMMSSZ.tar.gz).")
        parser.add_argument(
            "--go-live",
            action="store_true",
            help="Let the restored site act at once: shared cache keys, tasks run.",
        )

    def handle(self, *args: object, **options: object) -> None:
        try:
            restored = restore_backup(Path(str(options["file"])), go_live=bool(options["go_live"]))
        except BackupError as error:
            raise CommandError(f"restore failed: {error}") from None
        except OSError as error:  # anything archive.py did not name: still one line
            raise CommandError(f"restore failed: {error.filename or ''} {error.strerror}") from None
        self.stdout.write(
            f"Restored the {restored.engine} database {restored.database} "
            f"from the backup of {restored.created}."
        )
        if restored.media_root:
            self.stdout.write(f"Restored media into {restored.media_root}.")
        for path in restored.settings_files:
            self.stdout.write(f"Its settings are in {path} (compare them with yours).")
        if restored.isolated_as:
            self.stdout.write(
                f"Isolated as restored copy {restored.isolated_as}: its cache keys are its own "
                "and tasks are paused. Run `pressroom migrate`, check the site, then "
                "`pressroom go-live` and restart the app servers and the worker."
            )
        else:
            self.stdout.write(
                "Live: run `pressroom migrate`, then start the app servers and workers."
            )
