"""Import a WordPress export: upsert on (source site, external id), committed in batches.

The media library (attachments) is read first, in a quick pass over the file; then posts are
written a batch at a time through publishing's bulk service (services.save_articles: cleaning,
excerpts, slugs, listing links, old addresses and search indexing are publishing's rules), each
batch in one transaction with its bookkeeping. A post is written whole (lead image and galleries
included) or not at all, so an import stopped at any moment and run again ends complete.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Collection
from contextlib import nullcontext
from dataclasses import dataclass, replace
from datetime import datetime, tzinfo
from pathlib import Path
from typing import BinaryIO

from django.db import transaction
from django.utils import timezone

from pressroom.importers import pipeline
from pressroom.importers.legacy import author_paths, front_page_path, old_path
from pressroom.importers.media import MediaLibrary
from pressroom.importers.models import ImportedItem
from pressroom.importers.pipeline import (
    ConvertedPost,
    ExportReader,
    ReaderStopped,
    ReadRecord,
    export_path,
)
from pressroom.importers.report import ImportInterrupted, ImportReport
from pressroom.importers.terms import UNCHANGED, TermWriter
from pressroom.importers.uploads import MediaPass, MediaProgress, known_homes
from pressroom.importers.wpcontent import (
    drop_empty_paragraphs,
    fallback_title,
    plain_title,
    wordpress_body_html,
)
from pressroom.importers.wxr import (
    WxrAuthor,
    WxrChannel,
    WxrError,
    WxrItem,
    WxrTerm,
    parse_wxr,
    read_attachments,
)
from pressroom.lib.bulk import fewer_checkpoints, insert_rows
from pressroom.publishing import services
from pressroom.publishing.html import clean_body_html, html_to_text
from pressroom.publishing.models import Article, ArticleStateError, Author, Page
from pressroom.publishing.oldaddresses import WORDPRESS_PER_PAGE

BATCH_SIZE = 500
# Bump when the conversion changes, so a re-run rewrites posts whose source did not change.
# (3: posts are written with their media in one batch; rewriting repairs posts that an earlier
# version left without lead image or galleries when it was stopped before its end-of-file pass;
# 4: posts are filed under their categories' parent categories too, as WordPress listed them.)
CONVERTER_VERSION = "4"
PROGRESS_EVERY = 200
IMPORTED_ITEM_FIELDS = (
    *("source_site", "kind", "external_id", "article", "fingerprint"),
    *("imported_at", "updated_at"),
)

# A page has no "scheduled" state: a future time keeps it from readers until it comes.
PAGE_STATUSES = {
    "publish": Page.Status.PUBLISHED,
    "future": Page.Status.PUBLISHED,
    "draft": Page.Status.DRAFT,
    "pending": Page.Status.DRAFT,
}
POST_STATUSES = {
    "publish": Article.Status.PUBLISHED,
    "future": Article.Status.SCHEDULED,
    "draft": Article.Status.DRAFT,
    "pending": Article.Status.DRAFT,
}
SKIPPED_STATUSES = {
    "private": "private",
    "trash": "in the trash",
    "auto-draft": "auto-draft",
    "inherit": "revision",
}

Progress = Callable[[int], None]  # called with the number of entries read so far


def is_written_post(item: WxrItem) -> bool:
    """A post `add_item` prepares (writes, or finds unchanged) rather than skips."""
    return (
        item.post_type == "post"
        and bool(item.post_id)
        and not item.password.strip()
        and item.status in POST_STATUSES
    )


def post_fingerprint(item: WxrItem, media: MediaLibrary) -> str:
    """What the source says of a post, and the media it shows: a re-run skips the post while
    this stays the same."""
    fingerprint_source = [
        CONVERTER_VERSION,
        item.title,
        # The body by its own digest: quoting it into JSON cost more than hashing it.
        hashlib.sha256(item.content.encode()).hexdigest(),
        item.excerpt,
        item.status,
        bool(item.password.strip()),
        item.post_date,
        item.post_date_gmt,
        item.post_name,
        item.creator,
        item.link,
        item.thumbnail_id,
        sorted((ref.taxonomy, ref.slug) for ref in item.terms),
        media.used_by(item),
    ]
    return hashlib.sha256(json.dumps(fingerprint_source).encode()).hexdigest()


def convert_post(item: WxrItem, media: MediaLibrary, prefix: str) -> ConvertedPost:
    """The post's body as WordPress showed it, its media made the library's, cleaned and
    with its excerpt (publishing's rules, ahead of the write: services.prepare_text), its
    plain title and its old addresses."""
    body = drop_empty_paragraphs(wordpress_body_html(item.content, media.gallery_for(item)))
    return ConvertedPost(
        text=services.prepare_text(media.rewrite_body(body), html_to_text(item.excerpt)),
        title=plain_title(item.title),
        legacy_paths=tuple(
            path for path in (old_path(item.link, prefix), f"{prefix}/?p={item.post_id}") if path
        ),
    )


def read_record(
    record: WxrChannel | WxrAuthor | WxrTerm | WxrItem,
    media: MediaLibrary,
    prefix: str,
    known: dict[str, str],
) -> ReadRecord:
    """The reader's work on one record (`known`: the fingerprints of the posts an earlier
    import wrote). A post that did not change is not converted: the writer will skip it."""
    if not isinstance(record, WxrItem) or not is_written_post(record):
        return record, None, None
    fingerprint = post_fingerprint(record, media)
    if known.get(record.post_id) == fingerprint:
        # Kept whole: should the writer find it changed after all (a copy earlier in the
        # file rewrote it), it converts it itself.
        return record, fingerprint, None
    converted = convert_post(record, media, prefix)
    return replace(record, content="", excerpt=""), fingerprint, converted


@dataclass
class PendingPost:
    item: WxrItem
    status: str
    published_at: datetime | None
    fingerprint: str
    converted: ConvertedPost | None = None


def import_file(
    source: BinaryIO,
    *,
    site_timezone: tzinfo | None = None,
    dry_run: bool = False,
    batch_size: int = BATCH_SIZE,
    progress: Progress | None = None,
    wp_per_page: int | None = None,
    media_dir: Path | None = None,
    fetch_media: bool = False,
    media_progress: MediaProgress | None = None,
    reader_process: bool | None = None,
) -> ImportReport:
    """Import a WXR file. Raises ImportInterrupted (with the report so far) on a broken file.

    With `media_dir` (a copy of wp-content/uploads) or `fetch_media`, attachments are brought
    into the media library first (importers.uploads). `reader_process`: read the file in a
    reader process (True; `source` must be a file), in this one (False), or in one when the
    file is large (None)."""
    importer = WordPressImporter(
        site_timezone=site_timezone or timezone.get_default_timezone(),
        dry_run=dry_run,
        batch_size=batch_size,
        progress=progress,
        wp_per_page=wp_per_page,
        reader_process=reader_process,
    )
    if media_dir is not None or fetch_media:
        importer.media_options = {
            "media_dir": media_dir,
            "fetch": fetch_media,
            "progress": media_progress,
        }
    return importer.run(source)


class WordPressImporter:
    def __init__(
        self,
        *,
        site_timezone: tzinfo,
        dry_run: bool,
        batch_size: int,
        progress: Progress | None,
        wp_per_page: int | None = None,
        reader_process: bool | None = None,
    ) -> None:
        self.site_timezone = site_timezone
        self.wp_per_page = wp_per_page
        self.per_page = wp_per_page or WORDPRESS_PER_PAGE
        self.dry_run = dry_run
        self.reader_process = reader_process  # None: a reader process for large exports only
        self.batch_size = batch_size
        self.progress = progress
        self.report = ImportReport(dry_run=dry_run)
        self.channel: WxrChannel | None = None
        self.source = ""
        self.authors: dict[str, int] = {}  # login -> Author id
        self.terms: TermWriter | None = None
        self.pending_terms: list[WxrTerm] = []
        self.pending_posts: list[PendingPost] = []
        self.entries = 0
        self.scratch_article = Article(title="scratch")
        self.media = MediaLibrary()
        self.media_options: dict[str, object] | None = None  # set: bring media home
        self.media_pass: MediaPass | None = None
        self.known_fingerprints: dict[str, str] = {}
        self.imported_posts: Collection[str] = ()
        self.pending_pages: list[WxrItem] = []

    def run(self, source: BinaryIO) -> ImportReport:
        start = source.tell()
        # A large export is read by a reader process (importers.pipeline), started first so
        # that its start-up overlaps the media library's pass.
        reader = self.start_reader(source) if start == 0 else None
        with reader or nullcontext(), fewer_checkpoints():
            started = time.process_time()
            for attachment in read_attachments(source):
                self.media.add(attachment)
            self.report.timings["media_library_cpu"] = time.process_time() - started
            source.seek(start)
            # A dry run does all the work in one transaction and rolls it back, so its counts
            # are the real ones.
            with transaction.atomic() if self.dry_run else nullcontext():
                try:
                    if reader is None:
                        for record in parse_wxr(source):
                            self.handle(record)
                    else:
                        try:
                            self.handle_read(reader, source)
                        finally:
                            self.report.timings.update(reader.timings())
                except (WxrError, ReaderStopped) as error:
                    # Every entry read before the break is complete: keep it, then stop.
                    self.flush()
                    if self.dry_run:
                        transaction.set_rollback(True)
                    raise ImportInterrupted(
                        str(error),
                        self.report,
                        error.line if isinstance(error, WxrError) else None,
                        file_at_fault=isinstance(error, WxrError),
                    ) from None
                self.flush()
                if self.media_pass is not None:
                    self.media_pass.write_attachment_pages(self.media.attachments, self.media.homes)
                if self.dry_run:
                    transaction.set_rollback(True)
        return self.report

    def start_reader(self, source: BinaryIO) -> ExportReader | None:
        path = export_path(source)
        if path is None:
            return None
        if self.reader_process is None and path.stat().st_size < pipeline.PIPELINE_MIN_BYTES:
            return None
        return ExportReader(path) if self.reader_process is not False else None

    def handle_read(self, reader: ExportReader, source: BinaryIO) -> None:
        """The records as the reader process read them, posts converted."""
        position = 0
        for record, fingerprint, converted in reader:
            self.handle(record, fingerprint, converted)
            if isinstance(record, WxrChannel):
                reader.send_library(self.media, self.prefix, self.known_fingerprints)
            if reader.position != position and self.progress is not None:
                # The progress bar reads how far through the file the import is from `source`.
                position = reader.position
                source.seek(position)

    def handle(
        self,
        record: WxrChannel | WxrAuthor | WxrTerm | WxrItem,
        fingerprint: str | None = None,
        converted: ConvertedPost | None = None,
    ) -> None:
        if isinstance(record, WxrChannel):
            self.start(record)
        elif isinstance(record, WxrAuthor):
            author_id = self.upsert_author(record.login, record.display_name)
            self.write_old_addresses(
                dict.fromkeys(
                    author_paths(self.prefix, record.login, record.author_id),
                    Author.objects.only("slug").get(pk=author_id),
                )
            )
        elif isinstance(record, WxrTerm):
            self.pending_terms.append(record)
        else:
            self.flush_terms()
            self.add_item(record, fingerprint, converted)
            self.entries += 1
            if self.progress and self.entries % PROGRESS_EVERY == 0:
                self.progress(self.entries)

    def flush(self) -> None:
        self.flush_terms()
        self.flush_posts()
        self.flush_pages()

    def start(self, channel: WxrChannel) -> None:
        self.channel = channel
        self.source = channel.source_site
        self.report.source_site = channel.blog_url
        self.report.wxr_version = channel.wxr_version
        self.authors = dict(
            ImportedItem.objects.filter(source_site=self.source, kind="author").values_list(
                "external_id", "author_id"
            )
        )
        self.per_page = self.wp_per_page or channel.posts_per_page or WORDPRESS_PER_PAGE
        self.terms = TermWriter(
            self.source,
            channel.path_prefix,
            self.report["topics"],
            per_page=self.per_page,
            clashes=self.report.clashing_paths,
        )
        # The old front page's pages (/page/2/) and date archives read its posts-per-page here.
        self.write_old_addresses({front_page_path(self.prefix): services.FRONT_PAGE})
        self.bring_media_home()
        # Post ids an earlier import wrote: a post withheld now needs a look-up only if listed;
        # the reader process converts no post whose fingerprint it finds here.
        self.known_fingerprints = dict(
            ImportedItem.objects.filter(source_site=self.source, kind="post").values_list(
                "external_id", "fingerprint"
            )
        )
        self.imported_posts = self.known_fingerprints.keys()

    def bring_media_home(self) -> None:
        """Attachments an earlier import brought into the library (one query), and with
        --media-dir or --fetch-media the rest, before any post is written."""
        known = known_homes(self.source)
        if self.media_options is None:
            self.media.set_homes({i: home for i, (_, home) in known.items()})
            return
        self.media_pass = MediaPass(
            source_site=self.source,
            prefix=self.prefix,
            report=self.report,
            dry_run=self.dry_run,
            **self.media_options,  # type: ignore[arg-type]
        )
        self.media.set_homes(self.media_pass.run(self.media.attachments, known))

    @property
    def prefix(self) -> str:
        return self.channel.path_prefix if self.channel else ""

    def write_old_addresses(self, wanted: dict[str, services.LegacyTarget]) -> None:
        """Old addresses of this site, reported (not taken over) when another site has them."""
        with transaction.atomic():
            clashes = services.write_legacy_paths(
                wanted, keep_existing=True, per_page=self.per_page
            )
        self.report.add_clashes(clashes)

    def flush_terms(self) -> None:
        """Write the categories and tags declared at the top of the export, all at once, so a
        child category may come before its parent."""
        if self.pending_terms and self.terms is not None:
            terms, self.pending_terms = self.pending_terms, []
            with transaction.atomic():
                self.terms.write(terms)

    # Authors ----------------------------------------------------------------------------------

    def upsert_author(self, login: str, display_name: str) -> int:
        summary = self.report["authors"]
        name = display_name.strip()[:200] or login
        with transaction.atomic():
            author_id = self.authors.get(login)
            if author_id is not None:
                author = Author.objects.get(pk=author_id)
                if author.name == name:
                    summary.skipped[UNCHANGED] += 1
                    return author_id
                author.name = name
                services.save_author(author)
                summary.updated += 1
                return author_id
            author = services.save_author(Author(name=name))
            ImportedItem.objects.create(
                source_site=self.source, kind="author", external_id=login, author=author
            )
            summary.created += 1
            self.authors[login] = author.pk
            return author.pk

    # Posts ------------------------------------------------------------------------------------

    def add_item(
        self,
        item: WxrItem,
        fingerprint: str | None = None,
        converted: ConvertedPost | None = None,
    ) -> None:
        if item.post_type == "page":
            self.add_page(item)
            return
        if item.post_type == "attachment":
            # Read in the first pass (read_attachments), brought home by the media pass.
            if self.media_pass is None:
                self.report["media"].skipped["media stay at their original URLs"] += 1
            return
        if item.post_type != "post":
            self.report["other"].skipped[f"{item.post_type} entries are not imported"] += 1
            return
        summary = self.report["posts"]
        if not item.post_id:
            summary.failed["no wp:post_id"] += 1
            return
        if item.password.strip():
            self.withhold(item, "password-protected")
            return
        if item.status in SKIPPED_STATUSES:
            self.withhold(item, SKIPPED_STATUSES[item.status])
            return
        if item.status not in POST_STATUSES:
            summary.skipped[f"status {item.status!r} is not imported"] += 1
            return
        try:
            pending = self.prepare(item, fingerprint, converted)
        except ValueError:
            summary.failed[f"unreadable date (post {item.post_id})"] += 1
            return
        self.pending_posts.append(pending)
        if len(self.pending_posts) >= self.batch_size:
            self.flush_posts()

    def withhold(self, item: WxrItem, reason: str) -> None:
        """Skip a post readers must not see; if an earlier import published it (it has since
        been made private, trashed or protected), unpublish that article."""
        if item.post_id not in self.imported_posts:
            self.report["posts"].skipped[reason] += 1
            if item.status == "publish":
                # Readers could reach it (behind a password): its addresses answer 410 Gone.
                paths = [old_path(item.link, self.prefix), f"{self.prefix}/?p={item.post_id}"]
                self.write_old_addresses(dict.fromkeys(filter(None, paths), services.GONE))
            return
        record = (
            ImportedItem.objects.filter(
                source_site=self.source, kind="post", external_id=item.post_id
            )
            .select_related("article")
            .first()
        )
        article = record.article if record is not None else None
        if record is not None and article is not None and article.status != Article.Status.DRAFT:
            with transaction.atomic():
                services.unpublish_article(article)
                # Forget the fingerprint: if the post comes back, it is written again.
                record.fingerprint = ""
                record.save(update_fields=["fingerprint", "updated_at"])
            reason += "; its earlier import was unpublished"
        self.report["posts"].skipped[reason] += 1

    def prepare(
        self,
        item: WxrItem,
        fingerprint: str | None = None,
        converted: ConvertedPost | None = None,
    ) -> PendingPost:
        """Status, date and a fingerprint of what the source says (given by the reader
        process, with the converted text, when there is one); the body waits until the post is
        known to have changed."""
        date = item.date(self.site_timezone)
        status: str = POST_STATUSES[item.status]
        published_at = None
        if status != Article.Status.DRAFT:
            # The model decides: a future time schedules, a past one publishes. (One scratch
            # instance serves every post: building a model instance per post costs more.)
            article = self.scratch_article
            article.status, article.published_at = Article.Status.DRAFT, None
            article.publish(at=date or timezone.now())
            status, published_at = article.status, article.published_at
        return PendingPost(
            item=item,
            status=status,
            published_at=published_at,
            fingerprint=fingerprint or post_fingerprint(item, self.media),
            converted=converted,
        )

    def article_write(self, article: Article, pending: PendingPost) -> services.ArticleWrite:
        """The article as the post read on WordPress, with its bylines, topics and old
        addresses; publishing's bulk service cleans and completes it like every article."""
        item = pending.item
        converted = pending.converted or convert_post(item, self.media, self.prefix)
        text, title = converted.text, converted.title
        if not title:
            date = pending.published_at or item.date(self.site_timezone)
            label = date.astimezone(self.site_timezone).date().isoformat() if date else ""
            # Rare (a post without a title): its first words, as readers will see them.
            title = fallback_title(text.body, label)
        article.title = title
        article.body = text.body
        article.editor_excerpt = text.editor_excerpt
        article.status = pending.status
        article.published_at = pending.published_at
        article.slug = item.slug
        lead = self.media.lead_home(item.thumbnail_id)
        if lead is not None:
            article.lead_image_id, article.lead_image_url, article.lead_image_alt = (
                lead.item_id,
                "",
                "",
            )
        else:
            article.lead_image_id = None
            article.lead_image_url, article.lead_image_alt = self.media.lead_image(
                item.thumbnail_id
            )
        assert self.terms is not None
        topic_ids = list(
            dict.fromkeys(
                topic_id
                for ref in item.terms
                for topic_id in self.terms.with_ancestors(
                    ref.taxonomy, ref.slug, self.terms.topic_id(ref.taxonomy, ref.slug, ref.name)
                )
            )
        )
        author_ids = []
        if login := item.creator:
            author_ids.append(self.authors.get(login) or self.upsert_author(login, login))
        return services.ArticleWrite(
            article,
            author_ids=author_ids,
            topic_ids=topic_ids,
            # Old posts come as they were: alt text is asked for when an editor publishes.
            require_alt_text=False,
            legacy_paths=list(converted.legacy_paths),
            prepared=text,
        )

    def flush_posts(self) -> None:
        if not self.pending_posts:
            return
        batch, self.pending_posts = self.pending_posts, []
        latest = {pending.item.post_id: pending for pending in batch}
        if duplicates := len(batch) - len(latest):
            self.report["posts"].skipped["repeated in the file"] += duplicates
        # The batch's articles, links, old addresses, search entries and bookkeeping commit
        # together: stopped at any moment, an import leaves whole posts only.
        with transaction.atomic():
            self.write_posts(list(latest.values()))
            written = time.perf_counter()
        timings = self.report.timings
        timings["committing"] = timings.get("committing", 0.0) + time.perf_counter() - written

    def write_posts(self, batch: list[PendingPost]) -> None:
        summary = self.report["posts"]
        records = {
            record.external_id: record
            for record in ImportedItem.objects.filter(
                source_site=self.source,
                kind="post",
                external_id__in=[p.item.post_id for p in batch],
            )
        }
        changed = []
        for pending in batch:
            record = records.get(pending.item.post_id)
            if record is not None and record.fingerprint == pending.fingerprint:
                summary.skipped[UNCHANGED] += 1
            else:
                changed.append((pending, record))
        if not changed:
            return
        existing = Article.objects.in_bulk([r.article_id for _, r in changed if r is not None])
        writes = []
        for pending, record in changed:
            article = existing.get(record.article_id) if record else None
            if article is None:
                summary.created += 1
                article = Article()
            else:
                summary.updated += 1
            writes.append(self.article_write(article, pending))
        services.save_articles(writes)
        for write in writes:
            self.report.add_clashes(write.clashing_paths)

        now = timezone.now()
        for (pending, record), write in zip(changed, writes, strict=True):
            if record is not None:
                record.fingerprint, record.updated_at = pending.fingerprint, now
                record.article_id = write.article.pk
        insert_rows(
            ImportedItem,
            IMPORTED_ITEM_FIELDS,
            [
                (
                    self.source,
                    "post",
                    pending.item.post_id,
                    write.article.pk,
                    pending.fingerprint,
                    now,
                    now,
                )
                for (pending, _), write in zip(changed, writes, strict=True)
                if pending.item.post_id not in records
            ],
        )
        ImportedItem.objects.bulk_update(
            [r for p, _ in changed if (r := records.get(p.item.post_id))],
            ["article", "fingerprint", "updated_at"],
        )

    # Pages -------------------------------------------------------------------------------------

    def add_page(self, item: WxrItem) -> None:
        """Keep a page for the end of the file: a sub-page may come before its parent."""
        summary = self.report["pages"]
        if not item.post_id:
            summary.failed["no wp:post_id"] += 1
        elif item.password.strip():
            summary.skipped["password-protected"] += 1
            if item.status == "publish":
                # Readers could reach it (behind a password): its addresses answer 410 Gone.
                paths = [old_path(item.link, self.prefix), f"{self.prefix}/?page_id={item.post_id}"]
                self.write_old_addresses(dict.fromkeys(filter(None, paths), services.GONE))
        elif item.status not in PAGE_STATUSES:
            reason = SKIPPED_STATUSES.get(item.status, f"status {item.status!r} is not imported")
            summary.skipped[reason] += 1
        else:
            self.pending_pages.append(item)

    def flush_pages(self) -> None:
        """Write the pages, parents first, each with its old addresses in one transaction."""
        items = {item.post_id: item for item in self.pending_pages}  # the last copy wins
        self.pending_pages = []
        if not items:
            return
        records = {
            record.external_id: record
            for record in ImportedItem.objects.filter(
                source_site=self.source, kind="page"
            ).select_related("page")
        }
        written = {
            external_id: record.page
            for external_id, record in records.items()
            if record.page is not None
        }

        def depth(item: WxrItem) -> int:
            seen = {item.post_id}
            while (parent := items.get(item.parent_id)) is not None and parent.post_id not in seen:
                seen.add(parent.post_id)
                item = parent
            return len(seen)

        for item in sorted(items.values(), key=depth):
            with transaction.atomic():
                self.write_page(item, records.get(item.post_id), written)

    def write_page(
        self, item: WxrItem, record: ImportedItem | None, written: dict[str, Page]
    ) -> None:
        summary = self.report["pages"]
        parent = written.get(item.parent_id)
        fingerprint = hashlib.sha256(
            json.dumps(
                [
                    CONVERTER_VERSION,
                    *(item.title, hashlib.sha256(item.content.encode()).hexdigest()),
                    *(item.excerpt, item.status, item.post_date, item.post_date_gmt),
                    *(item.post_name, item.link, self.media.used_by(item)),
                ]
            ).encode()
        ).hexdigest()
        page = record.page if record is not None and record.page is not None else Page()
        if (
            record is not None
            and record.fingerprint == fingerprint
            and page.parent_id == (parent.pk if parent else None)
        ):
            summary.skipped[UNCHANGED] += 1
            written[item.post_id] = page
            return
        try:
            date = item.date(self.site_timezone)
        except ValueError:
            summary.failed[f"unreadable date (page {item.post_id})"] += 1
            return
        body = drop_empty_paragraphs(
            wordpress_body_html(item.content, self.media.gallery_for(item))
        )
        page.body = self.media.rewrite_body(body)
        page.title = plain_title(item.title) or fallback_title(clean_body_html(page.body), "")
        page.summary = html_to_text(item.excerpt)
        page.parent = parent
        page.status = PAGE_STATUSES[item.status]
        page.published_at = (
            (date or timezone.now()) if page.status == Page.Status.PUBLISHED else None
        )
        slug = item.slug[: services.PAGE_SLUG_LENGTH].strip("-")
        # A page whose address another part of Pressroom answers (/topics/, /search/) keeps
        # its old address as a redirect to /<slug>-page/.
        for candidate in (slug, f"{slug[: services.PAGE_SLUG_LENGTH - 5]}-page"):
            page.slug = candidate
            try:
                with transaction.atomic():
                    services.save_page(page, require_alt_text=False, note="Imported from WordPress")
                break
            except ArticleStateError:
                continue
        else:
            summary.failed["its address is taken by Pressroom"] += 1
            return
        if record is None:
            ImportedItem.objects.create(
                source_site=self.source,
                kind="page",
                external_id=item.post_id,
                page=page,
                fingerprint=fingerprint,
            )
            summary.created += 1
        else:
            record.fingerprint = fingerprint
            record.save(update_fields=["fingerprint", "updated_at"])
            summary.updated += 1
        written[item.post_id] = page
        if item.status == "publish":
            paths = [old_path(item.link, self.prefix), f"{self.prefix}/?page_id={item.post_id}"]
            targets: dict[str, services.LegacyTarget] = {path: page for path in paths if path}
            self.write_old_addresses(targets)
