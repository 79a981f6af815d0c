"""`pressroom restore FILE`: an export into this empty install."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from pressroom.portability.archive import PortabilityError, restore_site


class Command(BaseCommand):
    help = (
        "Restore an export written by `pressroom export` into this empty install (checked "
        "first: checksums, member names, schema version; then one transaction)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", help="The export (.tar.gz).")

    def handle(self, *args: object, **options: object) -> None:
        try:
            summary = restore_site(Path(str(options["file"])), progress=self.stdout.write)
        except PortabilityError as error:
            raise CommandError(f"restore failed: {error}") from None
        except OSError as error:
            raise CommandError(f"restore failed: {error.filename or ''} {error.strerror}") from None
        records = sum(summary.counts.values())
        self.stdout.write(
            self.style.SUCCESS(
                f"Restored {records} records and {summary.media_files} media files "
                f"from {summary.path}"
            )
        )
