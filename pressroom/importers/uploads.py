"""WordPress media brought home: attachments become library items, their old addresses redirect.

`pressroom import_wxr FILE --media-dir DIR` reads each attachment from a copy of the old site's
`wp-content/uploads`; `--fetch-media` downloads it instead, through the one outbound helper
(timeouts, size limit, retries, private addresses refused, a few downloads at a time). Without
either flag this pass does not run at all.

The pass runs after the quick read of the export's library and before any post is written, so
posts are written once, already pointing at the library. Each attachment is stored, recorded
(ImportedItem, keyed by the source site and the attachment id) and given its old upload path in
one transaction; the library deduplicates by content hash. So an import killed at any moment and
run again skips what was recorded without reading it again, finds by its hash an item stored
just before the kill, and never makes a second item of the same bytes.

Files are handled one at a time (a download pool holds a few): memory does not grow with the
number or size of the uploads. Renditions are queued for the task worker, never made here.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction

from pressroom.importers.legacy import old_path
from pressroom.importers.models import ImportedItem
from pressroom.lib import outbound
from pressroom.media import processing
from pressroom.media import services as media_services
from pressroom.media.models import MediaError, MediaItem
from pressroom.publishing import services
from pressroom.publishing.html import html_to_text
from pressroom.publishing.models import Article

if TYPE_CHECKING:
    from pressroom.importers.report import ImportReport

UPLOADS_FOLDER = "/wp-content/uploads/"
# photo-300x200.jpg: a size WordPress made of photo.jpg.
SIZE_SUFFIX = re.compile(r"-[0-9]{1,5}x[0-9]{1,5}(?=\.[A-Za-z0-9]{2,5}$)")
# photo-scaled.jpg / photo-rotated.jpg: WordPress's own copy of a large or turned original; its
# sizes are named after photo.jpg.
COPY_SUFFIX = re.compile(r"-(?:scaled|rotated)(?=\.[A-Za-z0-9]{2,5}$)")

MediaProgress = Callable[[int, int], None]  # (attachments handled, attachments in all)


def upload_key(url: str) -> str:
    """Where a file sits in the uploads folder, from any address of it:
    'https://old.example.org/wp-content/uploads/2019/05/photo.jpg?w=640' -> '2019/05/photo.jpg'
    (a CDN's copy, https://i0.wp.com/old.example.org/wp-content/uploads/..., too)."""
    path = unquote(urlsplit(url.strip()).path)
    index = path.rfind(UPLOADS_FOLDER)
    return path[index + len(UPLOADS_FOLDER) :] if index >= 0 else path.lstrip("/")


def upload_keys(key: str) -> list[str]:
    """The keys a file is known by: itself and, for WordPress's scaled copy, the original's."""
    return list(dict.fromkeys([key, COPY_SUFFIX.sub("", key)]))


def safe_relative_path(path: str) -> PurePosixPath | None:
    """`path` as a path inside the uploads folder, or None when it would leave it ('../',
    an absolute path, a drive letter, a NUL)."""
    path = path.replace("\\", "/")
    relative = PurePosixPath(path)
    if (
        not path
        or "\x00" in path
        or relative.is_absolute()
        or re.match(r"^[A-Za-z]:", path)
        or any(part in {"..", "."} for part in relative.parts)
    ):
        return None
    return relative


@dataclass(frozen=True)
class Attachment:
    """An attachment of the export, as the first (quick) read of the file found it."""

    url: str
    alt: str
    parent_id: str
    title: str = ""
    link: str = ""  # the attachment page
    caption: str = ""
    attached_file: str = ""  # its path under wp-content/uploads


@dataclass(frozen=True)
class Home:
    """An attachment's library item, as posts point at it."""

    item_id: int
    url: str
    kind: str
    width: int | None
    height: int | None
    alt: str
    caption: str

    @property
    def is_image(self) -> bool:
        return self.kind == MediaItem.Kind.IMAGE


def attachment_fingerprint(attachment: Attachment) -> str:
    source = [attachment.url, attachment.attached_file, attachment.alt, attachment.caption]
    return hashlib.sha256(json.dumps(source).encode()).hexdigest()


def known_homes(source_site: str) -> dict[str, tuple[str, Home]]:
    """Attachments an earlier import brought home: id -> (fingerprint, home). One query."""
    rows = (
        ImportedItem.objects.filter(source_site=source_site, kind="attachment")
        .select_related("media_item")
        .only(
            *("external_id", "fingerprint", "media_item__key", "media_item__file"),
            *("media_item__kind", "media_item__width", "media_item__height"),
            *("media_item__alt_text", "media_item__caption"),
        )
    )
    return {
        row.external_id: (row.fingerprint, home_of(row.media_item))
        for row in rows
        if row.media_item is not None
    }


def home_of(item: MediaItem) -> Home:
    return Home(
        item.pk,
        default_storage.url(item.file.name),
        item.kind,
        item.width,
        item.height,
        item.alt_text,
        item.caption,
    )


class MediaPass:
    """Bring every attachment of an export into the library (see the module's docstring)."""

    def __init__(
        self,
        *,
        source_site: str,
        prefix: str,
        report: ImportReport,
        media_dir: Path | None = None,
        fetch: bool = False,
        dry_run: bool = False,
        progress: MediaProgress | None = None,
    ) -> None:
        self.source_site = source_site
        self.prefix = prefix
        self.report = report
        self.summary = report["media"]
        self.media_dir = media_dir.resolve() if media_dir is not None else None
        self.fetch = fetch
        self.dry_run = dry_run
        self.progress = progress
        self.done = 0
        self.seen_hashes: set[str] = set()  # a dry run's files, to count duplicates

    def run(
        self, attachments: dict[str, Attachment], homes: dict[str, tuple[str, Home]]
    ) -> dict[str, Home]:
        """Each attachment's home, those recorded earlier included (`homes`, known_homes())."""
        result: dict[str, Home] = {}
        todo: list[tuple[str, Attachment]] = []
        for attachment_id, attachment in attachments.items():
            known = homes.get(attachment_id)
            if known is not None and known[0] == attachment_fingerprint(attachment):
                result[attachment_id] = known[1]
                self.summary.skipped["unchanged since the last import"] += 1
            else:
                todo.append((attachment_id, attachment))
        self.done, total = len(result), len(attachments)
        for attachment_id, attachment, data in self.files(todo):
            home = self.store(attachment_id, attachment, data) if data is not None else None
            if home is None and attachment_id in homes:
                # Changed on WordPress but not brought home now: the earlier copy stays in use.
                home = homes[attachment_id][1]
            if home is not None:
                result[attachment_id] = home
            self.done += 1
            if self.progress is not None:
                self.progress(self.done, total)
        return result

    # Finding the bytes -------------------------------------------------------------------------

    def files(
        self, todo: list[tuple[str, Attachment]]
    ) -> Iterator[tuple[str, Attachment, bytes | None]]:
        """Each attachment with its bytes, or None (the problem is reported)."""
        if self.fetch:
            yield from self.downloads(todo)
            return
        for attachment_id, attachment in todo:
            yield attachment_id, attachment, self.read_file(attachment)

    def read_file(self, attachment: Attachment) -> bytes | None:
        assert self.media_dir is not None
        wanted = attachment.attached_file or upload_key(attachment.url)
        relative = safe_relative_path(wanted)
        if relative is None:
            self.problem(wanted, "refused: the path leaves the uploads folder")
            return None
        path = (self.media_dir / relative).resolve()
        if not path.is_relative_to(self.media_dir):
            self.problem(wanted, "refused: the path leaves the uploads folder")
            return None
        try:
            size = path.stat().st_size
            if not path.is_file():
                raise FileNotFoundError
        except OSError:
            self.problem(wanted, "not found in --media-dir")
            return None
        if size > settings.MEDIA_MAX_UPLOAD_BYTES:
            self.problem(wanted, "larger than MEDIA_MAX_UPLOAD_BYTES")
            return None
        try:
            with path.open("rb") as source:
                return source.read(settings.MEDIA_MAX_UPLOAD_BYTES + 1)
        except OSError as error:
            self.problem(wanted, "unreadable", str(error.strerror))
            return None

    def downloads(
        self, todo: list[tuple[str, Attachment]]
    ) -> Iterator[tuple[str, Attachment, bytes | None]]:
        by_url: dict[str, list[tuple[str, Attachment]]] = {}
        for attachment_id, attachment in todo:
            by_url.setdefault(attachment.url, []).append((attachment_id, attachment))
        answers = outbound.fetch_each(by_url, max_bytes=settings.MEDIA_MAX_UPLOAD_BYTES)
        for url, answer in answers:
            data: bytes | None = None
            for attachment_id, attachment in by_url[url]:
                if isinstance(answer, outbound.OutboundError):
                    self.problem(url, "download failed", str(answer))
                elif not answer.ok:
                    self.problem(
                        url,
                        "not found at its URL"
                        if answer.status in (404, 410)
                        else "download failed",
                        f"HTTP {answer.status}",
                    )
                else:
                    data = answer.content
                yield attachment_id, attachment, data

    # Storing -----------------------------------------------------------------------------------

    def store(self, attachment_id: str, attachment: Attachment, data: bytes) -> Home | None:
        name = PurePosixPath(upload_key(attachment.url)).name or attachment.title or "upload"
        if self.dry_run:
            self.check(attachment, name, data)
            return None
        try:
            with transaction.atomic():
                item, created = media_services.add_item_from_bytes(
                    data,
                    name,
                    alt_text=attachment.alt,
                    caption=html_to_text(attachment.caption),
                )
                ImportedItem.objects.update_or_create(
                    source_site=self.source_site,
                    kind="attachment",
                    external_id=attachment_id,
                    defaults={
                        "media_item": item,
                        "fingerprint": attachment_fingerprint(attachment),
                    },
                )
                self.write_upload_paths(attachment, item)
        except MediaError as error:
            self.problem(attachment.url or name, "refused by the library", str(error))
            return None
        if created:
            self.summary.created += 1
        else:
            self.summary.skipped["already in the library (same file)"] += 1
        return home_of(item)

    def check(self, attachment: Attachment, name: str, data: bytes) -> None:
        """A dry run: what the library would say of the file, and nothing stored."""
        try:
            prepared = processing.prepare_upload(data, name)
        except MediaError as error:
            self.problem(attachment.url or name, "refused by the library", str(error))
            return
        seen = prepared.content_hash in self.seen_hashes
        if seen or MediaItem.objects.filter(content_hash=prepared.content_hash).exists():
            self.summary.skipped["already in the library (same file)"] += 1
        else:
            self.summary.created += 1
        self.seen_hashes.add(prepared.content_hash)

    def write_upload_paths(self, attachment: Attachment, item: MediaItem) -> None:
        """The file's old addresses (and WordPress's sizes of it, read from their shape by
        publishing.oldaddresses) lead to the library file."""
        path = old_path(attachment.url, self.prefix)
        if not path:
            return
        paths = dict.fromkeys([path, COPY_SUFFIX.sub("", path)], item)
        clashes = services.write_legacy_paths(paths, keep_existing=True)
        self.report.add_clashes(clashes)

    def write_attachment_pages(
        self, attachments: dict[str, Attachment], homes: dict[str, Home]
    ) -> None:
        """Each old attachment page (its permalink, /?attachment_id=N) leads to the article it
        was attached to, else to the file. Written after the posts, which they may lead to."""
        if self.dry_run or not homes:
            return
        parents = {a.parent_id for i, a in attachments.items() if i in homes and a.parent_id}
        articles = dict(
            ImportedItem.objects.filter(
                source_site=self.source_site, kind="post", external_id__in=parents
            ).values_list("external_id", "article")
        )
        by_id = Article.objects.only("id", "slug").in_bulk(list(articles.values()))
        wanted: dict[str, services.LegacyTarget] = {}
        for attachment_id, home in homes.items():
            attachment = attachments.get(attachment_id)
            if attachment is None:
                continue
            article = by_id.get(articles.get(attachment.parent_id, 0))
            target: services.LegacyTarget = (
                article if article is not None else MediaItem(pk=home.item_id)
            )
            for path in (
                old_path(attachment.link, self.prefix),
                f"{self.prefix}/?attachment_id={attachment_id}",
            ):
                if path:
                    wanted[path] = target
        with transaction.atomic():
            self.report.add_clashes(services.write_legacy_paths(wanted, keep_existing=True))

    def problem(self, where: str, reason: str, detail: str = "") -> None:
        """A file not brought home: counted by reason, listed at the end of the report (posts
        keep pointing at its old address)."""
        self.summary.failed[reason] += 1
        self.report.media_problems.append(
            f"{where[:300]}: {reason}" + (f" — {detail[:300]}" if detail else "")
        )
