"""Every public page as a target, with the fingerprint of what it shows."""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db.models import CharField, OuterRef, Subquery
from django.db.models.functions import Cast
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from pressroom.media.models import MediaItem, MediaUse
from pressroom.portability.mirror.common import (
    ALWAYS,
    Target,
    _digest,
)
from pressroom.publishing.article_page import RELATED_COUNT
from pressroom.publishing.models import (
    Article,
    ArticleAuthor,
    ArticleTopic,
    Author,
    Correction,
    LegacyPath,
    Page,
    Topic,
)
from pressroom.publishing.pagination import Cursor
from pressroom.publishing.sitemaps import SITEMAPS

# --- what to render -----------------------------------------------------------------------------

# (published_at, id, what else the teaser shows changes with), the times as the database's text.
Row = tuple[str, int, Any]


def as_text(field: str) -> Cast:
    """A time column read as the database's text: fingerprints compare it as it is, and
    turning 900,000 of them into datetimes was most of an unchanged run's time."""
    return Cast(field, output_field=CharField())


def moment(text: str) -> datetime:
    """A time read with as_text (SQLite keeps UTC without an offset, PostgreSQL adds it)."""
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class ListingPages:
    """The pages of one list, newest first, as rows arrive in the list's keyset order: page 1
    at `path`, page n at `path/page/n/` rendered from the live address `path?before=<cursor of
    the row before it>`, so any page renders without walking the pages before it."""

    def __init__(
        self,
        path: str,
        per_page: int,
        emit: Callable[[Target], None],
        extra: object = None,
        feeds: Iterable[str] = (),
        feed_items: int = 0,
        first_always: bool = False,
    ) -> None:
        self.path, self.per_page, self.emit, self.extra = path, per_page, emit, extra
        self.first_always = first_always
        self.feeds, self.feed_items = list(feeds), feed_items
        self.number = 1
        self.rows: list[Row] = []
        self.before: str | None = None
        self.newest: list[tuple[int, Any]] = []

    def add(self, row: Row) -> None:
        if len(self.newest) < self.feed_items:
            self.newest.append((row[1], row[2]))
        if len(self.rows) == self.per_page:
            last = self.rows[-1]
            self._emit_page(has_older=True)
            self.number += 1
            self.before = Cursor(moment(last[0]), last[1]).encode()
            self.rows = []
        self.rows.append(row)

    def close(self) -> None:
        self._emit_page(has_older=False)
        sources = _digest(self.newest, self.extra)
        for feed in self.feeds:
            self.emit(Target(feed, feed + "index.xml", sources))

    def _emit_page(self, *, has_older: bool) -> None:
        address = self.path if self.before is None else f"{self.path}?before={self.before}"
        output = self.path if self.number == 1 else f"{self.path}page/{self.number}/"
        sources: str | None = _digest(
            [(row[1], row[2]) for row in self.rows], has_older, self.extra
        )
        if self.number == 1 and self.first_always:
            sources = None  # the front page's first page also shows curated stories and sections
        self.emit(Target(address, output, sources, listing=(self.path, self.number)))


def _date_paths(moment: datetime) -> tuple[str, str, str]:
    """The year, month and day archives an article published at `moment` is listed in."""
    local = timezone.localtime(moment, timezone.get_default_timezone())
    return _dated_paths(local.year, local.month, local.day)


@functools.lru_cache(maxsize=64)
def _dated_paths(year: int, month: int, day: int) -> tuple[str, str, str]:
    return (
        reverse("publishing:archive-year", args=[year]),
        reverse("publishing:archive-month", args=[year, month]),
        reverse("publishing:archive-day", args=[year, month, day]),
    )


class SitemapPages:
    """The fingerprints of the articles' sitemap pages (`?p=2`...), from the rows of the front
    page's read, which is in the sitemap's order (newest first)."""

    def __init__(self, sources: dict[str, str]) -> None:
        self.sources = sources
        self.limit = SITEMAPS["articles"].limit
        self.address = reverse("sitemap-section", kwargs={"section": "articles"})
        self.rows: list[tuple[int, Any]] = []
        self.number = 1

    def add(self, article_id: int, updated_at: str) -> None:
        if len(self.rows) == self.limit:
            self._close_page()
        self.rows.append((article_id, updated_at))

    def _close_page(self) -> None:
        address = self.address if self.number == 1 else f"{self.address}?p={self.number}"
        self.sources[address] = _digest(self.rows)
        self.number += 1
        self.rows = []

    def close(self) -> None:
        if self.rows:
            self._close_page()


def plan(
    now: datetime,
    sitemap_sources: dict[str, str] | None = None,
    failed: list[str] | None = None,
) -> Iterator[Target]:
    """Every public page of the site, as targets, streamed from a few ordered reads; the
    fingerprints of the articles' sitemap pages are left in `sitemap_sources`, the topics and
    authors whose slug has no address (e.g. `a/b`, saved past the forms) in `failed`."""
    failed = failed if failed is not None else []
    sitemap = SitemapPages(sitemap_sources if sitemap_sources is not None else {})
    per_page = settings.ARTICLES_PER_PAGE
    feed_items = settings.FEED_ITEMS
    pending: list[Target] = []
    emit = pending.append

    yield from (Target(address, address, None) for address in ALWAYS)
    # When each article last changed, read once: the lists' reads below skip the join to it.
    # With the state of the images it shows (lead image, body images): a photo replaced or its
    # caption edited moves neither the article's updated_at nor its lead_image_id.
    media = MediaState()
    article_type = ContentType.objects.get_for_model(Article)
    used = media.uses(article_type.pk)
    updated = {
        article_id: _digest(updated_at, media.of(lead_image_id, used.get(article_id, ())))
        for article_id, updated_at, lead_image_id in Article.objects.published(now)
        .values_list("id", as_text("updated_at"), "lead_image_id")
        .iterator(chunk_size=20000)
    }

    # Topics and their newest articles (the related articles of every article filed there).
    topics = dict(Topic.objects.values_list("id", "slug"))
    newest_of_topic: dict[int, str] = {}
    links = (
        ArticleTopic.objects.filter(is_public=True, published_at__lte=now)
        .order_by("topic_id", "-published_at", "-article_id")
        .values_list("topic_id", as_text("published_at"), "article_id")
        .iterator(chunk_size=5000)
    )
    listed: set[int] = set()
    for topic_id, rows in itertools.groupby(links, key=lambda link: link[0]):
        listed.add(topic_id)
        yield from _owner_pages(
            "topic", topic_id, topics, rows, updated, per_page, feed_items, failed, newest_of_topic
        )
    for topic_id in topics.keys() - listed:
        yield from _owner_pages(
            "topic",
            topic_id,
            topics,
            iter(()),
            updated,
            per_page,
            feed_items,
            failed,
            newest_of_topic,
        )

    authors = dict(Author.objects.values_list("id", "slug"))
    links = (
        ArticleAuthor.objects.filter(is_public=True, published_at__lte=now)
        .order_by("author_id", "-published_at", "-article_id")
        .values_list("author_id", as_text("published_at"), "article_id")
        .iterator(chunk_size=5000)
    )
    listed = set()
    for author_id, rows in itertools.groupby(links, key=lambda link: link[0]):
        listed.add(author_id)
        yield from _owner_pages(
            "author", author_id, authors, rows, updated, per_page, feed_items, failed
        )
    for author_id in authors.keys() - listed:
        yield from _owner_pages(
            "author", author_id, authors, iter(()), updated, per_page, feed_items, failed
        )

    # The front page's list and the date archives: one read in the newest-first order.
    home = ListingPages(
        reverse("publishing:home"),
        per_page,
        emit,
        feeds=[reverse("publishing:feed"), reverse("publishing:feed-atom")],
        feed_items=feed_items,
        first_always=True,
    )
    dated: dict[str, ListingPages] = {}
    public = Article.objects.published(now).order_by("-published_at", "-id")
    for published_at, article_id, updated_at in public.values_list(
        as_text("published_at"), "id", as_text("updated_at")
    ).iterator(chunk_size=5000):
        row = (published_at, article_id, updated.get(article_id, updated_at))
        home.add(row)
        sitemap.add(article_id, updated_at)
        for level, path in zip(
            ("year", "month", "day"), _date_paths(moment(published_at)), strict=True
        ):
            current = dated.get(level)
            if current is None or current.path != path:
                if current is not None:
                    current.close()
                current = dated[level] = ListingPages(path, per_page, emit)
            current.add(row)
        yield from pending
        pending.clear()
    home.close()
    sitemap.close()
    for current in dated.values():
        current.close()
    yield from pending
    pending.clear()

    # Corrections: their list and feed.
    corrections = ListingPages(
        reverse("publishing:correction-list"),
        per_page,
        emit,
        feeds=[reverse("publishing:corrections-feed")],
        feed_items=feed_items,
    )
    for noted_at, correction_id, text, updated_at in (
        Correction.objects.public()
        .newest_first()
        .values_list(as_text("noted_at"), "id", "text", as_text("article__updated_at"))
        .iterator(chunk_size=5000)
    ):
        corrections.add((noted_at, correction_id, (_digest(text), updated_at)))
    corrections.close()
    yield from pending
    pending.clear()

    # Articles: what each page shows besides the site-wide parts.
    shown_corrections: dict[int, str] = {}
    for article_id, correction_id, kind, text, noted_at in (
        Correction.objects.shown()
        .order_by("article_id", "id")
        .values_list("article_id", "id", "kind", "text", as_text("noted_at"))
    ):
        shown_corrections[article_id] = _digest(
            shown_corrections.get(article_id), correction_id, kind, text, noted_at
        )
    detail = reverse("publishing:article-detail", args=["slug-placeholder"])
    for article_id, slug, updated_at, lead_image_id, first_topic in (
        Article.objects.published(now)
        .order_by("id")
        # Its first topic by name: where its related articles come from
        # (article_page.related_articles).
        .annotate(
            first_topic=Subquery(
                ArticleTopic.objects.filter(article=OuterRef("pk"))
                .order_by("topic__name", "topic_id")
                .values("topic_id")[:1]
            )
        )
        .values_list("id", "slug", as_text("updated_at"), "lead_image_id", "first_topic")
        .iterator(chunk_size=5000)
    ):
        related = newest_of_topic.get(first_topic, "")
        path = detail.replace("slug-placeholder", slug)
        sources = _digest(
            updated.get(article_id, updated_at),
            lead_image_id,
            shown_corrections.get(article_id),
            related,
        )
        yield Target(path, path, sources)

    page_uses = media.uses(ContentType.objects.get_for_model(Page).pk)
    for page_id, page_path, updated_at in (
        Page.objects.published(now)
        .order_by("path")
        .values_list("id", "path", "updated_at")
        .iterator()
    ):
        address = reverse("pages:page-detail", kwargs={"path": page_path})
        yield Target(
            address, address, _digest(updated_at, media.of(None, page_uses.get(page_id, ())))
        )

    # Old addresses (renamed slugs, an imported site's permalinks): the live site answers them
    # with a 301, the mirror with a page that sends readers on. Those with a query, or not a
    # page's shape (an old upload's file name), a static host cannot tell apart: left out.
    for path, *leads_to in (
        LegacyPath.objects.filter(is_gone=False)
        .exclude(path__contains="?")
        .order_by("path")
        .values_list(
            "path",
            "article_id",
            as_text("article__updated_at"),
            "topic_id",
            "author_id",
            "page_id",
            as_text("page__updated_at"),
        )
        .iterator(chunk_size=5000)
    ):
        if path.endswith("/") or path.endswith((".html", ".htm")):
            yield Target(path, path, _digest(leads_to), redirect=True)


class MediaState:
    """What each library item shows (its file, content and editable fields' time), read once,
    and the items each object of a type uses (media.MediaUse)."""

    def __init__(self) -> None:
        self.state = {
            item_id: _digest(file, content_hash, updated_at)
            for item_id, file, content_hash, updated_at in MediaItem.objects.values_list(
                "id", "file", "content_hash", as_text("updated_at")
            ).iterator(chunk_size=20000)
        }

    def uses(self, content_type_id: int) -> dict[int, list[int]]:
        found: dict[int, list[int]] = {}
        for object_id, item_id in (
            MediaUse.objects.filter(content_type_id=content_type_id)
            .order_by("object_id", "item_id")
            .values_list("object_id", "item_id")
            .iterator(chunk_size=20000)
        ):
            found.setdefault(object_id, []).append(item_id)
        return found

    def of(self, lead_image_id: int | None, item_ids: Iterable[int]) -> str:
        ids = sorted({*item_ids, *([lead_image_id] if lead_image_id else [])})
        return _digest([self.state.get(item_id) for item_id in ids])


def _owner_pages(
    kind: str,
    owner_id: int,
    slugs: dict[int, str],
    rows: Iterator[tuple[int, str, int]],
    updated: dict[int, str],
    per_page: int,
    feed_items: int,
    failed: list[str],
    newest_of_topic: dict[int, str] | None = None,
) -> Iterator[Target]:
    """A topic's or an author's list pages and feeds (`kind` "topic" or "author"); for a topic,
    the fingerprint of its newest articles (the related articles of those filed there) is left
    in `newest_of_topic`."""
    slug = slugs[owner_id]
    pending: list[Target] = []
    try:
        addresses = [
            reverse(f"publishing:{kind}-{name}", args=[slug])
            for name in ("detail", "feed", "feed-atom")
        ]
    except NoReverseMatch:
        failed.append(f"{kind} {slug!r} (no address for this slug)")
        return
    is_topic = newest_of_topic is not None
    pages = ListingPages(
        addresses[0],
        per_page,
        pending.append,
        feeds=addresses[1:],
        feed_items=max(feed_items, RELATED_COUNT + 1) if is_topic else feed_items,
    )
    for _, published_at, article_id in rows:
        pages.add((published_at, article_id, updated.get(article_id)))
        yield from pending
        pending.clear()
    if newest_of_topic is not None:
        newest_of_topic[owner_id] = _digest(pages.newest[: RELATED_COUNT + 1])
    pages.close()
    yield from pending
