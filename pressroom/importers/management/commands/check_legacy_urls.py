"""`pressroom check_legacy_urls FILE`: does every address of the old WordPress site still work?"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from pressroom.importers.addresses import (
    MEDIA_FAMILIES,
    check_addresses,
    export_addresses,
    media_were_imported,
)
from pressroom.importers.wxr import WxrError

BROKEN_SHOWN = 5


class Command(BaseCommand):
    help = (
        "Walk every address family of a WordPress export (posts, pages, tags, categories, "
        "their feeds and pages, authors, dates, search, query forms) against this site, and "
        "print what resolves. Exits 1 when any address is broken."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="The WXR (.xml) file that was imported.")
        parser.add_argument(
            "--wp-per-page",
            type=int,
            help="Posts per page the WordPress site showed (as given to import_wxr).",
        )

    def handle(self, *args: object, **options: object) -> None:
        path: Path = options["file"]  # type: ignore[assignment]
        per_page = options["wp_per_page"]
        if per_page is not None and not 1 <= int(per_page) <= 1000:  # type: ignore[call-overload]
            raise CommandError("--wp-per-page must be between 1 and 1000.")
        try:
            with path.open("rb") as source:
                addresses = export_addresses(source, per_page=per_page)  # type: ignore[arg-type]
        except OSError as error:
            raise CommandError(f"Cannot read {path}: {error.strerror}.") from None
        except WxrError as error:
            raise CommandError(f"{path}: {error}") from None
        if not media_were_imported(addresses):
            # Uploads stay on the old site until its media are brought home: not checked.
            skipped = sum(len(addresses.families.pop(f, [])) for f in MEDIA_FAMILIES)
            if skipped:
                self.stdout.write(
                    f"{skipped} upload and attachment addresses not checked: the media were "
                    "not imported (import_wxr --media-dir or --fetch-media)."
                )
        results = check_addresses(addresses)
        width = max([len("family"), *map(len, results)])
        self.stdout.write(f"{'family':<{width}}  addresses  resolved  broken")
        total_broken = 0
        for family, result in results.items():
            broken = len(result.broken)
            total_broken += broken
            self.stdout.write(
                f"{family:<{width}}  {result.addresses:>9}  {result.resolved:>8}  {broken:>6}"
            )
            for line in result.broken[:BROKEN_SHOWN]:
                self.stdout.write(f"{'':<{width}}    broken: {line}")
        if total_broken:
            raise CommandError(f"{total_broken} old addresses are broken (listed above).")
        self.stdout.write(self.style.SUCCESS("Every old address resolves."))
