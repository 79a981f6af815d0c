"""`pressroom import_wxr FILE [--dry-run] [--media-dir DIR | --fetch-media]`: bring a WordPress
site's posts (and, with a media option, its media library) across."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import BinaryIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper
from django.db import DatabaseError

from pressroom.importers.report import ImportInterrupted, timings_line
from pressroom.importers.wordpress import import_file


class ProgressBar:
    """One line on stderr, redrawn at most a few times a second, and once more at the end."""

    WIDTH = 30

    def __init__(self, source: BinaryIO, size: int, stream: OutputWrapper) -> None:
        self.source, self.size, self.stream = source, max(size, 1), stream
        self.last_drawn = 0.0
        self.entries = 0

    def __call__(self, entries: int) -> None:
        self.entries = entries
        now = time.monotonic()
        if now - self.last_drawn >= 0.2:
            self.last_drawn = now
            self.draw(min(self.source.tell() / self.size, 1.0))

    def draw(self, fraction: float) -> None:
        filled = int(fraction * self.WIDTH)
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        line = f"\r[{bar}] {fraction:4.0%}  {self.entries} entries"
        self.stream.write(line, style_func=str, ending="")
        self.stream.flush()

    def media(self, done: int, total: int) -> None:
        """The media pass (before any post): files brought home out of all."""
        now = time.monotonic()
        if now - self.last_drawn >= 0.2 or done == total:
            self.last_drawn = now
            fraction = done / max(total, 1)
            filled = int(fraction * self.WIDTH)
            bar = "#" * filled + "-" * (self.WIDTH - filled)
            line = f"\r[{bar}] {fraction:4.0%}  media {done}/{total}"
            self.stream.write(line, style_func=str, ending="")
            self.stream.flush()
            if done == total:
                self.stream.write("")

    def finish(self, completed: bool) -> None:
        if completed:
            self.draw(1.0)
        if completed or self.last_drawn:
            self.stream.write("")


class Command(BaseCommand):
    help = (
        "Import a WordPress export (Tools > Export > All content): posts, drafts, scheduled "
        "posts, authors, categories and tags, with redirects from the old addresses. "
        "Re-running the same file updates in place."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="The WXR (.xml) file WordPress exported.")
        parser.add_argument(
            "--dry-run", action="store_true", help="Read and count everything, save nothing."
        )
        parser.add_argument(
            "--progress",
            action="store_true",
            help="Show a progress bar on stderr even when it is not a terminal.",
        )
        parser.add_argument(
            "--timezone",
            help="The WordPress site's timezone (e.g. America/Lima), for posts that carry only "
            "a local date. Default: the TIME_ZONE setting.",
        )
        parser.add_argument(
            "--wp-per-page",
            type=int,
            help="Posts per page the WordPress site showed (Settings > Reading), so its "
            "/page/N/ addresses land on the same articles. Default: the export's, else 10.",
        )
        parser.add_argument(
            "--batch-size", type=int, default=500, help="Posts committed per transaction."
        )
        media = parser.add_mutually_exclusive_group()
        media.add_argument(
            "--media-dir",
            type=Path,
            help="A copy of the old site's wp-content/uploads folder: attachments become media "
            "library items, posts point at them, old upload addresses redirect.",
        )
        media.add_argument(
            "--fetch-media",
            action="store_true",
            help="Download each attachment from its URL instead (a few at a time, through "
            "Pressroom's outbound HTTP settings).",
        )

    def handle(self, *args: object, **options: object) -> None:
        path: Path = options["file"]  # type: ignore[assignment]
        site_timezone = None
        if options["timezone"]:
            try:
                site_timezone = ZoneInfo(str(options["timezone"]))
            except (ZoneInfoNotFoundError, ValueError):
                raise CommandError(f"Unknown timezone {options['timezone']!r}.") from None
        batch_size = int(options["batch_size"])  # type: ignore[call-overload]
        if batch_size < 1:
            raise CommandError("--batch-size must be 1 or more.")
        wp_per_page = options["wp_per_page"]
        if wp_per_page is not None and not 1 <= int(wp_per_page) <= 1000:  # type: ignore[call-overload]
            raise CommandError("--wp-per-page must be between 1 and 1000.")
        media_dir: Path | None = options["media_dir"]  # type: ignore[assignment]
        if media_dir is not None and not media_dir.is_dir():
            raise CommandError(f"--media-dir {media_dir} is not a folder.")
        try:
            source = path.open("rb")
        except OSError as error:
            raise CommandError(f"Cannot read {path}: {error.strerror}.") from None
        show_progress = bool(options["progress"]) or self.stderr.isatty()
        with source:
            bar = ProgressBar(source, os.fstat(source.fileno()).st_size, self.stderr)
            try:
                report = import_file(
                    source,
                    site_timezone=site_timezone,
                    dry_run=bool(options["dry_run"]),
                    batch_size=batch_size,
                    progress=bar if show_progress else None,
                    wp_per_page=wp_per_page,  # type: ignore[arg-type]
                    media_dir=media_dir,
                    fetch_media=bool(options["fetch_media"]),
                    media_progress=bar.media if show_progress else None,
                )
            except ImportInterrupted as error:
                bar.finish(completed=False)
                for line in error.report.lines():
                    self.stdout.write(line)
                saved = any(kind.created or kind.updated for kind in error.report.kinds.values())
                if options["dry_run"]:
                    kept = "nothing was saved"
                else:
                    kept = "entries before it were saved" if saved else "nothing was imported"
                advice = "fix the file and run" if error.file_at_fault else "run"
                raise CommandError(
                    f"{path}: {error} — {kept}; {advice} the import again."
                ) from None
            except DatabaseError as error:
                bar.finish(completed=False)
                raise CommandError(f"The database refused the import: {error}") from None
            if show_progress:
                bar.finish(completed=True)
        for line in report.lines():
            self.stdout.write(line)
        if int(options["verbosity"]) >= 2 and report.timings:  # type: ignore[call-overload]
            self.stdout.write(timings_line(report.timings))
