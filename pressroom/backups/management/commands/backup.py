"""`pressroom backup [--to DIR] [--keep N]`: one dated archive of the database, media and settings."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from pressroom.backups.archive import BackupError, create_backup, read_manifest


class Command(BaseCommand):
    help = (
        "Write the database, media and the settings file (with the DKIM key) into one dated "
        "archive readable by its owner only, and keep the newest N."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--to", help="Directory of the archives (default: BACKUP_DIR).")
        parser.add_argument(
            "--keep", type=int, help="Archives to keep in it, newest first (default: BACKUP_KEEP)."
        )

    def handle(self, *args: object, **options: object) -> None:
        directory = Path(str(options["to"])) if options["to"] else Path(settings.BACKUP_DIR)
        keep = options["keep"] if options["keep"] is not None else settings.BACKUP_KEEP
        try:
            path = create_backup(directory, keep=int(str(keep)))
        except BackupError as error:
            raise CommandError(f"backup failed: {error}") from None
        except OSError as error:  # anything archive.py did not name: still one line
            raise CommandError(f"backup failed: {error.filename or ''} {error.strerror}") from None
        manifest = read_manifest(path)
        inside = [manifest["engine"] + " database"]
        if manifest.get("media"):
            inside.append("media")
        inside += [member.removeprefix("settings/") for member in manifest["settings"]]
        if not manifest["settings"]:
            inside.append("no settings file (set PRESSROOM_ENV_FILE)")
        size = path.stat().st_size / 1_000_000
        self.stdout.write(f"Backup written: {path} ({size:.1f} MB: {', '.join(inside)})")
