"""`pressroom export FILE [--exclude-personal-data] [--format archive|wxr]`."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from pressroom.portability.archive import PortabilityError, export_site


class Command(BaseCommand):
    help = (
        "Write the whole site into one .tar.gz (JSON Lines records, media files, a manifest "
        "with checksums), readable by its owner only; or, with --format wxr, a WordPress export."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", help="The archive to write (must not exist yet).")
        parser.add_argument("--format", choices=["archive", "wxr"], default="archive")
        parser.add_argument(
            "--exclude-personal-data",
            action="store_true",
            help="Leave out accounts, subscribers, donors and their gifts (a shareable archive).",
        )

    def handle(self, *args: object, **options: object) -> None:
        path = Path(str(options["file"]))
        try:
            if options["format"] == "wxr":
                from pressroom.portability.wxr import export_wxr

                counts = export_wxr(path, progress=self.stdout.write)
                total = ", ".join(f"{count} {kind}" for kind, count in counts.items())
                self.stdout.write(self.style.SUCCESS(f"WordPress export written: {path} ({total})"))
                return
            summary = export_site(
                path,
                personal=not options["exclude_personal_data"],
                progress=self.stdout.write,
            )
        except PortabilityError as error:
            raise CommandError(f"export failed: {error}") from None
        except OSError as error:
            raise CommandError(f"export failed: {error.filename or ''} {error.strerror}") from None
        records = sum(summary.counts.values())
        self.stdout.write(
            self.style.SUCCESS(
                f"Export written: {summary.path} ({records} records, "
                f"{summary.media_files} media files)"
            )
        )
