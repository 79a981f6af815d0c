"""Import a WordPress export: upsert on (source site, external id), committed in batches.

Authors and terms are few and go through publishing's save_author / save_topic /
add_legacy_path. Posts are many: they are written a batch at a time, but each body goes through
clean_body_html and make_excerpt, and each topic and author link carries the article's public
order exactly as services.sync_listing_links would set it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from pressroom.importers.models import ImportedItem
from pressroom.importers.report import ImportInterrupted, ImportReport
from pressroom.importers.wpcontent import fallback_title, plain_title, wordpress_body_html
from pressroom.importers.wxr import (
    WxrAuthor,
    WxrChannel,
    WxrError,
    WxrItem,
    WxrTerm,
    parse_wxr,
)
from pressroom.publishing import services
from pressroom.publishing.html import clean_body_html, html_to_text, make_excerpt
from pressroom.publishing.models import (
    Article,
    ArticleAuthor,
    ArticleTopic,
    Author,
    LegacyPath,
    Topic,
)

BATCH_SIZE = 500
# Bump when the conversion changes, so a re-run rewrites posts whose source did not change.
CONVERTER_VERSION = "1"
PROGRESS_EVERY = 200
ARTICLE_FIELDS = ["title", "slug", "body", "editor_excerpt", "excerpt", "status", "published_at"]

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
UNCHANGED = "unchanged since the last import"
MERGED = "a tag and a category with the same slug share one topic"

Progress = Callable[[int], None]  # called with the number of entries read so far


@dataclass
class PendingPost:
    item: WxrItem
    title: str
    body: str
    editor_excerpt: str
    status: str
    published_at: datetime | None
    slug_base: str
    fingerprint: str


def import_file(
    source: BinaryIO,
    *,
    site_timezone: tzinfo | None = None,
    dry_run: bool = False,
    batch_size: int = BATCH_SIZE,
    progress: Progress | None = None,
) -> ImportReport:
    """Import a WXR file. Raises ImportInterrupted (with the report so far) on a broken file."""
    importer = WordPressImporter(
        site_timezone=site_timezone or timezone.get_default_timezone(),
        dry_run=dry_run,
        batch_size=batch_size,
        progress=progress,
    )
    return importer.run(source)


class WordPressImporter:
    def __init__(
        self,
        *,
        site_timezone: tzinfo,
        dry_run: bool,
        batch_size: int,
        progress: Progress | None,
    ) -> None:
        self.site_timezone = site_timezone
        self.dry_run = dry_run
        self.batch_size = batch_size
        self.progress = progress
        self.report = ImportReport(dry_run=dry_run)
        self.channel: WxrChannel | None = None
        self.source = ""
        self.authors: dict[str, int] = {}  # login -> Author id
        self.terms: dict[tuple[str, str], int] = {}  # (taxonomy, slug) -> Topic id
        self.pending_terms: list[WxrTerm] = []
        self.pending_posts: list[PendingPost] = []
        self.entries = 0

    def run(self, source: BinaryIO) -> ImportReport:
        # A dry run does all the work in one transaction and rolls it back, so its counts are
        # the real ones.
        with transaction.atomic() if self.dry_run else nullcontext():
            try:
                for record in parse_wxr(source):
                    self.handle(record)
            except WxrError as error:
                # Every entry read before the break is complete: keep it, then stop.
                self.flush()
                if self.dry_run:
                    transaction.set_rollback(True)
                raise ImportInterrupted(str(error), self.report, error.line) from None
            self.flush()
            if self.dry_run:
                transaction.set_rollback(True)
        return self.report

    def handle(self, record: WxrChannel | WxrAuthor | WxrTerm | WxrItem) -> None:
        if isinstance(record, WxrChannel):
            self.start(record)
        elif isinstance(record, WxrAuthor):
            self.upsert_author(record.login, record.display_name)
        elif isinstance(record, WxrTerm):
            self.pending_terms.append(record)
        else:
            self.flush_terms()
            self.add_item(record)
            self.entries += 1
            if self.progress and self.entries % PROGRESS_EVERY == 0:
                self.progress(self.entries)

    def flush(self) -> None:
        self.flush_terms()
        self.flush_posts()

    def start(self, channel: WxrChannel) -> None:
        self.channel = channel
        self.source = channel.source_site
        self.report.source_site = channel.blog_url
        self.report.wxr_version = channel.wxr_version
        for kind, external_id, author_id, topic_id in ImportedItem.objects.filter(
            source_site=self.source, kind__in=["author", "category", "tag"]
        ).values_list("kind", "external_id", "author_id", "topic_id"):
            if kind == "author":
                self.authors[external_id] = author_id
            else:
                self.terms[(kind, external_id)] = topic_id

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

    # Topics -----------------------------------------------------------------------------------

    def flush_terms(self) -> None:
        """Write the categories and tags declared at the top of the export, parents and archive
        redirects included. Done once all of them are read, so a child may come before its
        parent."""
        if not self.pending_terms:
            return
        terms, self.pending_terms = self.pending_terms, []
        categories = [term for term in terms if term.taxonomy == "category"]
        tags = [term for term in terms if term.taxonomy == "tag"]
        parent_of = {term.slug: term.parent_slug for term in categories}
        with transaction.atomic():
            for term in categories + tags:
                self.upsert_term(term)
            topics = Topic.objects.in_bulk([self.terms[("category", c.slug)] for c in categories])
            for term in categories:
                topic = topics[self.terms[("category", term.slug)]]
                parent_id = self.terms.get(("category", term.parent_slug))
                if parent_id == topic.pk:
                    parent_id = None
                if topic.parent_id != parent_id:
                    topic.parent_id = parent_id
                    services.save_topic(topic)
            for term in categories + tags:
                self.add_term_paths(term, parent_of)

    def upsert_term(self, term: WxrTerm) -> int:
        summary = self.report["topics"]
        key = (term.taxonomy, term.slug)
        name = plain_title(term.name)[:200] or term.slug
        description = html_to_text(term.description)
        other = ("tag" if term.taxonomy == "category" else "category", term.slug)
        topic_id = self.terms.get(key)
        if topic_id is not None and term.taxonomy == "tag" and self.terms.get(other) == topic_id:
            summary.skipped[MERGED] += 1  # the category describes the shared topic
            return topic_id
        if topic_id is not None:
            topic = Topic.objects.get(pk=topic_id)
            if (topic.name, topic.description) == (name, description):
                summary.skipped[UNCHANGED] += 1
            else:
                topic.name, topic.description = name, description
                services.save_topic(topic)
                summary.updated += 1
            return topic_id
        if other in self.terms:
            # WordPress keeps a tag and a category apart; a newsroom has one topic per subject.
            topic_id = self.terms[other]
            summary.skipped[MERGED] += 1
        else:
            topic = Topic(
                name=name,
                slug=services.unique_slug(Topic, term.slug),
                description=description,
            )
            topic_id = services.save_topic(topic).pk
            summary.created += 1
        ImportedItem.objects.create(
            source_site=self.source, kind=term.taxonomy, external_id=term.slug, topic_id=topic_id
        )
        self.terms[key] = topic_id
        return topic_id

    def add_term_paths(self, term: WxrTerm, parent_of: dict[str, str]) -> None:
        """/tag/<slug>/, /category/<slug>/ and /category/<parent>/<child>/ lead to the topic."""
        topic = Topic.objects.get(pk=self.terms[(term.taxonomy, term.slug)])
        prefix = self.channel.path_prefix if self.channel else ""
        if term.taxonomy == "tag":
            paths = [f"{prefix}/tag/{term.slug}/"]
        else:
            chain = [term.slug]
            while (parent := parent_of.get(chain[0])) and parent not in chain and len(chain) < 20:
                chain.insert(0, parent)
            paths = [f"{prefix}/category/{'/'.join(chain)}/", f"{prefix}/category/{term.slug}/"]
        for path in dict.fromkeys(paths):
            services.add_legacy_path(path, topic=topic)

    def topic_for(self, taxonomy: str, slug: str, name: str) -> int:
        """A topic for a term an item uses but the export's header never declared."""
        topic_id = self.terms.get((taxonomy, slug))
        if topic_id is None:
            term = WxrTerm(taxonomy, slug, name)
            topic_id = self.upsert_term(term)
            self.add_term_paths(term, {})
        return topic_id

    # Posts ------------------------------------------------------------------------------------

    def add_item(self, item: WxrItem) -> None:
        if item.post_type == "page":
            self.report["pages"].skipped["pages are not imported"] += 1
            return
        if item.post_type == "attachment":
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
            summary.skipped["password-protected"] += 1
            return
        if item.status in SKIPPED_STATUSES:
            summary.skipped[SKIPPED_STATUSES[item.status]] += 1
            return
        if item.status not in POST_STATUSES:
            summary.skipped[f"status {item.status!r} is not imported"] += 1
            return
        try:
            pending = self.prepare(item)
        except ValueError:
            summary.failed[f"unreadable date (post {item.post_id})"] += 1
            return
        self.pending_posts.append(pending)
        if len(self.pending_posts) >= self.batch_size:
            self.flush_posts()

    def prepare(self, item: WxrItem) -> PendingPost:
        """Everything about a post that needs no database: status, date, title, body."""
        date = item.date(self.site_timezone)
        status = POST_STATUSES[item.status]
        published_at = None
        if status != Article.Status.DRAFT:
            # The model decides: a future time schedules, a past one publishes.
            article = Article(title="-")
            article.publish(at=date or timezone.now())
            status, published_at = article.status, article.published_at
        body = clean_body_html(wordpress_body_html(item.content))
        title = plain_title(item.title)
        if not title:
            label = date.astimezone(self.site_timezone).date().isoformat() if date else ""
            title = fallback_title(body, label)
        fingerprint_source = [
            CONVERTER_VERSION,
            item.title,
            item.content,
            item.excerpt,
            item.status,
            item.post_date,
            item.post_date_gmt,
            item.post_name,
            item.creator,
            item.link,
            sorted((ref.taxonomy, ref.slug) for ref in item.terms),
        ]
        return PendingPost(
            item=item,
            title=title[:300],
            body=body,
            editor_excerpt=html_to_text(item.excerpt),
            status=status,
            published_at=published_at,
            slug_base=item.slug or title,
            fingerprint=hashlib.sha256(json.dumps(fingerprint_source).encode()).hexdigest(),
        )

    def flush_posts(self) -> None:
        if not self.pending_posts:
            return
        batch, self.pending_posts = self.pending_posts, []
        latest = {pending.item.post_id: pending for pending in batch}
        if duplicates := len(batch) - len(latest):
            self.report["posts"].skipped["repeated in the file"] += duplicates
        with transaction.atomic():
            self.write_posts(list(latest.values()))

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
        slugs = SlugReservations(
            {slugify(p.slug_base, allow_unicode=True)[:247].strip("-") for p, _ in changed}
        )
        now = timezone.now()
        new_articles: list[Article] = []
        updated_articles: list[Article] = []
        written: list[tuple[PendingPost, Article]] = []
        for pending, record in changed:
            article = existing.get(record.article_id) if record else None
            if article is None:
                article = Article()
                new_articles.append(article)
            else:
                updated_articles.append(article)
            article.title = pending.title
            article.body = pending.body
            article.editor_excerpt = pending.editor_excerpt
            article.excerpt = make_excerpt(pending.body, pending.editor_excerpt)
            article.status = pending.status
            article.published_at = pending.published_at
            article.updated_at = now
            article.slug = slugs.take(pending.slug_base, article)
            written.append((pending, article))
        Article.objects.bulk_create(new_articles)
        Article.objects.bulk_update(
            updated_articles,
            [*ARTICLE_FIELDS, "updated_at"],
        )
        summary.created += len(new_articles)
        summary.updated += len(updated_articles)

        new_records = []
        for pending, article in written:
            record = records.get(pending.item.post_id)
            if record is None:
                new_records.append(
                    ImportedItem(
                        source_site=self.source,
                        kind="post",
                        external_id=pending.item.post_id,
                        article=article,
                        fingerprint=pending.fingerprint,
                    )
                )
            else:
                record.fingerprint, record.updated_at = pending.fingerprint, now
        ImportedItem.objects.bulk_create(new_records)
        ImportedItem.objects.bulk_update(
            [r for p, _ in written if (r := records.get(p.item.post_id))],
            ["fingerprint", "updated_at"],
        )
        self.write_links(written, [article.pk for article in updated_articles])
        self.write_article_paths(written)
        services.announce_change([article.pk for _, article in written])

    def write_links(self, written: list[tuple[PendingPost, Article]], updated: list[int]) -> None:
        """Topic and author links, with the public order copied in as sync_listing_links does."""
        ArticleTopic.objects.filter(article_id__in=updated).delete()
        ArticleAuthor.objects.filter(article_id__in=updated).delete()
        topic_links: list[ArticleTopic] = []
        author_links: list[ArticleAuthor] = []
        for pending, article in written:
            is_public = article.status in Article.PUBLIC_STATUSES
            topic_ids = dict.fromkeys(
                self.topic_for(ref.taxonomy, ref.slug, ref.name) for ref in pending.item.terms
            )
            topic_links += [
                ArticleTopic(
                    article=article,
                    topic_id=topic_id,
                    is_public=is_public,
                    published_at=article.published_at,
                )
                for topic_id in topic_ids
            ]
            if login := pending.item.creator:
                author_id = self.authors.get(login) or self.upsert_author(login, login)
                author_links.append(
                    ArticleAuthor(
                        article=article,
                        author_id=author_id,
                        position=0,
                        is_public=is_public,
                        published_at=article.published_at,
                    )
                )
        ArticleTopic.objects.bulk_create(topic_links)
        ArticleAuthor.objects.bulk_create(author_links)

    def write_article_paths(self, written: list[tuple[PendingPost, Article]]) -> None:
        """The post's old permalink and /?p=<id> redirect to the article."""
        prefix = self.channel.path_prefix if self.channel else ""
        wanted: dict[str, Article] = {}
        for pending, article in written:
            current = article.get_absolute_url()
            for raw in (old_path(pending.item.link), f"{prefix}/?p={pending.item.post_id}"):
                path = services.normalize_legacy_path(raw) if raw else ""
                if path and path != current:
                    wanted[path] = article
        to_update = []
        for legacy in LegacyPath.objects.filter(path__in=list(wanted)):
            article = wanted.pop(legacy.path)
            if legacy.article_id != article.pk or legacy.topic_id is not None:
                legacy.article, legacy.topic = article, None
                to_update.append(legacy)
        LegacyPath.objects.bulk_update(to_update, ["article", "topic"])
        LegacyPath.objects.bulk_create(
            LegacyPath(path=path, article=article) for path, article in wanted.items()
        )


def old_path(link: str) -> str:
    """The path (and query) of an old permalink, percent-decoded the way Django hands
    request.path to the redirect middleware."""
    if not link:
        return ""
    parts = urlsplit(link)
    path = unquote(parts.path) or "/"
    return f"{path}?{parts.query}" if parts.query else path


class SlugReservations:
    """Unique article slugs for a batch: one query for the whole batch, and a second only for
    the rare slug that is already taken."""

    def __init__(self, bases: set[str]) -> None:
        self.owners = dict(Article.objects.filter(slug__in=bases).values_list("slug", "pk"))
        self.reserved: set[str] = set()

    def take(self, text: str, article: Article) -> str:
        base = slugify(text, allow_unicode=True)[:247].strip("-") or "untitled"
        keep = article.slug if article.pk else ""
        if keep and keep not in self.reserved and re.fullmatch(rf"{re.escape(base)}(-\d+)?", keep):
            slug = keep
        elif base not in self.reserved and self.owners.get(base, article.pk) == article.pk:
            slug = base
        else:
            taken = self.reserved | set(
                Article.objects.filter(slug__startswith=base)
                .exclude(pk=article.pk)
                .values_list("slug", flat=True)
            )
            number = 2
            while f"{base}-{number}" in taken:
                number += 1
            slug = f"{base}-{number}"
        self.reserved.add(slug)
        return slug
