"""`pressroom mirror OUTDIR [--base-url URL] [--full] [--force]`."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from pressroom.portability.mirror import MirrorError, mirror_site


class Command(BaseCommand):
    help = (
        "Write every public page, feed and sitemap, the CSS and the media pages link to into "
        "OUTDIR as plain files a static host serves; run again, it rewrites only what changed."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("outdir", help="The folder to write (made if missing).")
        parser.add_argument(
            "--base-url",
            default=None,
            help="The mirror's own address, as https://mirror.example.org (default: SITE_URL).",
        )
        parser.add_argument(
            "--full",
            action="store_true",
            help="Render every page again, not only those whose sources changed.",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Write into a folder that is not empty and holds no mirror yet.",
        )

    def handle(self, *args: object, **options: object) -> None:
        base_url = options["base_url"]
        try:
            summary = mirror_site(
                Path(str(options["outdir"])),
                str(base_url) if base_url is not None else None,
                full=bool(options["full"]),
                force=bool(options["force"]),
                progress=self.stdout.write,
            )
        except MirrorError as error:
            raise CommandError(f"mirror failed: {error}") from None
        except OSError as error:
            # shutil's errors carry neither a file name nor a strerror: their text then.
            detail = f"{error.filename or ''} {error.strerror}" if error.strerror else str(error)
            raise CommandError(f"mirror failed: {detail.strip()}") from None
        if summary.failed:
            shown = ", ".join(summary.failed[:5])
            more = f" and {len(summary.failed) - 5} more" if len(summary.failed) > 5 else ""
            raise CommandError(
                f"mirror incomplete: {len(summary.failed)} pages failed: {shown}{more}"
            )
        self.stdout.write(self.style.SUCCESS("Mirror written."))
