"""Writes to the publishing model.

Every article is written here: one at a time by `save_article` (the admin), many at a time by
`save_articles` (imports, generated corpora). Both apply the same rules, written once below:
`prepare_article` (cleaning, title, excerpt, status), `SlugReservations` (slugs), the listing
order the topic and author links copy (`Article.listing_state`), the old addresses
(`write_legacy_paths`), and the two announcements: `articles_written` inside the transaction
(search indexes with the rows) and `content_changed` after it commits (caches).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal
from urllib.parse import urlsplit

from django.core.validators import slug_unicode_re
from django.db import IntegrityError, transaction
from django.db.models import Model
from django.utils import timezone
from django.utils.text import slugify

from pressroom.lib.bulk import insert_rows
from pressroom.media import services as media_services
from pressroom.media.models import MediaItem
from pressroom.publishing.html import clean_body_html, make_excerpt, strip_control_characters
from pressroom.publishing.links import slug_url_builder
from pressroom.publishing.models import (
    Article,
    ArticleAuthor,
    ArticleStateError,
    ArticleTopic,
    Author,
    LegacyPath,
    Topic,
)
from pressroom.publishing.signals import articles_written, content_changed

ARTICLE_SLUG_LENGTH = Article._meta.get_field("slug").max_length or 255
# Everything an article write sets, in the order save_articles inserts and updates it.
ARTICLE_FIELDS = (
    *("title", "slug", "body", "editor_excerpt", "excerpt", "status", "published_at"),
    *("created_at", "updated_at", "lead_image_url", "lead_image_alt"),
    *("original_outlet", "original_url", "canonical_url"),
)
# Retries when another writer takes a slug between our look-up and our insert.
SLUG_ATTEMPTS = 5


class SlugReservations:
    """Unique slugs for a batch of rows of one model: one query for the whole batch, and one
    more only for a slug that is already taken. `unique_slug` is the batch of one.

    The wanted slug is kept as typed when it is a valid one ('Peru-2026' stays), else slugified
    ('Strike in Lima!' becomes 'strike-in-lima'); when that is taken the next free number is
    added ('peru-2'). Callers slugify a title or a name themselves (`wanted_slug`). A row keeps the slug it has when it still fits the text ('peru-2'
    stays 'peru-2' when the text is 'Peru').
    """

    def __init__(self, model: type[Model], texts: Iterable[str], *, max_length: int) -> None:
        self.model = model
        self.max_length = max_length
        bases = {self.base(text) for text in texts}
        self.owners = dict(model._default_manager.filter(slug__in=bases).values_list("slug", "pk"))
        self.reserved: set[str] = set()

    def base(self, text: str) -> str:
        if len(text) <= self.max_length and slug_unicode_re.fullmatch(text):
            return text
        return slugify(text, allow_unicode=True)[: self.max_length - 8].strip("-") or "untitled"

    def take(self, text: str, row: Model, current: str = "") -> str:
        """A free slug for `row` made from `text`; `current` is the slug the row has now."""
        base = self.base(text)
        if (
            current
            and current not in self.reserved
            and (
                current == base
                or re.fullmatch(rf"{re.escape(base[: self.max_length - 8])}-\d+", current)
            )
        ):
            slug = current
        elif base not in self.reserved and self.owners.get(base, row.pk) == row.pk:
            slug = base
        else:
            stem = base[: self.max_length - 8].strip("-") or "untitled"
            taken = self.reserved | set(
                self.model._default_manager.filter(slug__startswith=stem)
                .exclude(pk=row.pk)
                .values_list("slug", flat=True)
            )
            number = 2
            while f"{stem}-{number}" in taken:
                number += 1
            slug = f"{stem}-{number}"
        self.reserved.add(slug)
        return slug


def wanted_slug(slug: str, name: str) -> str:
    """The slug a row asks for: the one typed, else one made from its title or name."""
    return slug or slugify(name, allow_unicode=True)


def unique_slug(
    model: type[Model], text: str, *, exclude_pk: int | None = None, max_length: int = 200
) -> str:
    """A slug made from `text` that no other row of `model` has: 'peru', 'peru-2', ..."""
    wanted = wanted_slug("", text)
    return SlugReservations(model, [wanted], max_length=max_length).take(
        wanted, model(pk=exclude_pk)
    )


def announce_change(article_ids: Iterable[int] = ()) -> None:
    """Tell caches and federation, once the transaction has committed."""
    ids = list(article_ids)
    transaction.on_commit(lambda: content_changed.send(sender=Article, article_ids=ids))


def _announce_written(article_ids: list[int]) -> None:
    """Tell what keeps a copy of articles (search) now, inside the writing transaction, so its
    copy commits or rolls back with the rows; then tell caches after the commit."""
    articles_written.send(sender=Article, article_ids=article_ids)
    announce_change(article_ids)


def prepare_article(article: Article, *, now: datetime | None = None) -> None:
    """The rules every article write applies, in memory: a cleaned body, a title on one line,
    the excerpt, a future publication scheduled, the canonical URL of a republished piece.
    A title longer than the column (an import's) is cut to fit rather than refused."""
    article.body = clean_body_html(article.body or "")
    title = " ".join(strip_control_characters(article.title).split())
    article.title = title[: Article._meta.get_field("title").max_length]
    for field in ("editor_excerpt", "lead_image_alt", "original_outlet"):
        setattr(article, field, strip_control_characters(getattr(article, field)))
    article.excerpt = make_excerpt(article.body, article.editor_excerpt)
    if (
        article.status == Article.Status.PUBLISHED
        and article.published_at is not None
        and article.published_at > (now or timezone.now())
    ):
        # Published with a future time (an import, a form) is scheduled; say so in lists.
        article.status = Article.Status.SCHEDULED
    if article.original_url and not article.canonical_url:
        article.canonical_url = article.original_url


class MissingAltTextError(ArticleStateError):
    """A public article would show library images that nobody has described."""

    def __init__(self, items: list[MediaItem]) -> None:
        self.items = items
        names = ", ".join(f"“{item}”" for item in items[:10])
        super().__init__(
            f"Add alt text to {names} in the media library (or mark them decorative) "
            "before publishing: readers who cannot see images need it."
        )


def images_of(article: Article) -> tuple[MediaItem | None, list[MediaItem]]:
    """The lead image and the library items the body points at."""
    lead = article.lead_image if article.lead_image_id else None
    return lead, media_services.items_in_html(article.body)


def images_lacking_alt_text(article: Article) -> list[MediaItem]:
    lead, body_items = images_of(article)
    items = {item.pk: item for item in [*([lead] if lead else []), *body_items]}
    return [item for item in items.values() if item.needs_alt_text]


def record_media_uses(article: Article, *, is_new: bool = False) -> None:
    """What the article uses from the library now (a new article without images: nothing to
    write, so bulk imports of text pay no query)."""
    lead, body_items = images_of(article)
    if is_new and lead is None and not body_items:
        return
    media_services.record_uses(article, "lead image", [lead] if lead else [], label=article.title)
    media_services.record_uses(article, "body", body_items, label=article.title)


def sync_listing_links(article: Article) -> None:
    """Copy the article's public order into its topic and author links."""
    is_public, published_at = article.listing_state()
    ArticleTopic.objects.filter(article=article).update(
        is_public=is_public, published_at=published_at
    )
    ArticleAuthor.objects.filter(article=article).update(
        is_public=is_public, published_at=published_at
    )


@transaction.atomic
def save_article(
    article: Article,
    *,
    authors: Sequence[Author] | None = None,
    topics: Iterable[Topic] | None = None,
    legacy_paths: Iterable[str] = (),
    require_alt_text: bool = True,
) -> Article:
    """Create or update an article: clean, excerpt, slug, links, media uses, then announce.

    A public article whose library images lack alt text (and are not decorative) is refused
    with MissingAltTextError; importers of old content may pass `require_alt_text=False`.
    """
    save_articles(
        [
            ArticleWrite(
                article,
                author_ids=None if authors is None else [author.pk for author in authors],
                topic_ids=None if topics is None else [topic.pk for topic in topics],
                legacy_paths=list(legacy_paths),
                require_alt_text=require_alt_text,
            )
        ]
    )
    return article


@dataclass
class ArticleWrite:
    """One article for `save_articles`: the instance (new, or loaded and changed) and what goes
    with it. `None` for authors or topics leaves the article's bylines or topics as they are."""

    article: Article
    author_ids: Sequence[int] | None = None  # in byline order
    topic_ids: Iterable[int] | None = None
    legacy_paths: Sequence[str] = ()  # old addresses that redirect to the article
    updated_at: datetime | None = None  # default: now
    require_alt_text: bool = True  # refuse a public article with undescribed library images
    # Filled in by save_articles: old addresses that already led elsewhere, left as they were.
    clashing_paths: list[str] = dataclasses.field(default_factory=list)


@transaction.atomic
def save_articles(writes: Sequence[ArticleWrite]) -> list[Article]:
    """Create or update many articles with a few statements: what `save_article` does for one.

    For imports and generated corpora; the caller's own bookkeeping may share the transaction
    (call it inside `transaction.atomic()`), so a batch is written whole or not at all.
    """
    if not writes:
        return []
    now = timezone.now()
    articles = [write.article for write in writes]
    previous_slugs = dict(
        Article.objects.filter(pk__in=[a.pk for a in articles if a.pk]).values_list("pk", "slug")
    )
    for write in writes:
        prepare_article(write.article, now=now)
        write.article.updated_at = write.updated_at or now
        public = write.article.status in Article.PUBLIC_STATUSES
        if (
            write.require_alt_text
            and public
            and (missing := images_lacking_alt_text(write.article))
        ):
            raise MissingAltTextError(missing)
    for attempt in range(SLUG_ATTEMPTS):
        try:
            with transaction.atomic():
                _insert_or_update(articles, previous_slugs)
            break
        except IntegrityError:
            # Another writer took one of these slugs since we looked: look again.
            taken = Article.objects.filter(slug__in=[a.slug for a in articles])
            if (
                attempt == SLUG_ATTEMPTS - 1
                or not taken.exclude(pk__in=[a.pk for a in articles if a.pk]).exists()
            ):
                raise
            for article in articles:
                if article.pk not in previous_slugs:
                    article.pk = None
    _write_links(writes)
    for write in writes:
        record_media_uses(write.article, is_new=write.article.pk not in previous_slugs)
    article_url = slug_url_builder("publishing:article-detail")
    old_addresses: dict[str, Article | Topic] = {}
    for write in writes:
        article = write.article
        previous = previous_slugs.get(article.pk)
        if previous and previous != article.slug:
            # Links to the old address keep working.
            old_addresses[article_url(previous)] = article
    write_legacy_paths(old_addresses)
    # An old address given with the article never takes over one leading elsewhere (a second
    # imported site with the same permalink): it is reported instead.
    clashes = set(
        write_legacy_paths(
            {path: write.article for write in writes for path in write.legacy_paths},
            keep_existing=True,
        )
    )
    if clashes:
        for write in writes:
            write.clashing_paths = [
                path for path in map(normalize_legacy_path, write.legacy_paths) if path in clashes
            ]
    _announce_written([article.pk for article in articles])
    return articles


def _insert_or_update(articles: list[Article], previous_slugs: Mapping[int, str]) -> None:
    """Settle the slugs, then insert the new articles and update the others."""
    wanted = [wanted_slug(article.slug, article.title) for article in articles]
    slugs = SlugReservations(Article, wanted, max_length=ARTICLE_SLUG_LENGTH)
    for article, text in zip(articles, wanted, strict=True):
        article.slug = slugs.take(text, article, previous_slugs.get(article.pk, ""))
    new = [article for article in articles if article.pk is None]
    updated = [article for article in articles if article.pk is not None]
    if len(articles) == 1:
        # One article (the admin's save): the ORM's own insert or update.
        articles[0].save()
        return
    insert_rows(
        Article,
        ARTICLE_FIELDS,
        ([getattr(article, name) for name in ARTICLE_FIELDS] for article in new),
    )
    ids = dict(Article.objects.filter(slug__in=[a.slug for a in new]).values_list("slug", "pk"))
    for article in new:
        article.pk = ids[article.slug]
        article._state.adding = False
    Article.objects.bulk_update(updated, ARTICLE_FIELDS)


def _write_links(writes: Sequence[ArticleWrite]) -> None:
    """Bylines and topics as given, each link carrying the article's listing order."""
    replaced_authors = [w.article.pk for w in writes if w.author_ids is not None]
    replaced_topics = [w.article.pk for w in writes if w.topic_ids is not None]
    ArticleAuthor.objects.filter(article_id__in=replaced_authors).delete()
    ArticleTopic.objects.filter(article_id__in=replaced_topics).delete()
    author_rows: list[tuple[int, int, int, bool, datetime | None]] = []
    topic_rows: list[tuple[int, int, bool, datetime | None]] = []
    kept: list[Article] = []
    for write in writes:
        article = write.article
        is_public, published_at = article.listing_state()
        if write.author_ids is not None:
            author_rows += [
                (article.pk, author_id, position, is_public, published_at)
                for position, author_id in enumerate(dict.fromkeys(write.author_ids))
            ]
        if write.topic_ids is not None:
            topic_rows += [
                (article.pk, topic_id, is_public, published_at)
                for topic_id in dict.fromkeys(write.topic_ids)
            ]
        if write.author_ids is None or write.topic_ids is None:
            kept.append(article)
    insert_rows(
        ArticleAuthor, ["article", "author", "position", "is_public", "published_at"], author_rows
    )
    insert_rows(ArticleTopic, ["article", "topic", "is_public", "published_at"], topic_rows)
    for article in kept:
        # Links the write left in place still take the article's (maybe new) listing order.
        sync_listing_links(article)


@transaction.atomic
def publish_article(article: Article, at: datetime | None = None) -> Article:
    """Publish now, or schedule for `at`. Raises ArticleStateError when it cannot be."""
    article.publish(at=at)
    return save_article(article)


@transaction.atomic
def unpublish_article(article: Article) -> Article:
    article.unpublish()
    return save_article(article)


@transaction.atomic
def delete_article(article: Article) -> None:
    article_id = article.pk
    media_services.forget_uses(article)
    article.delete()
    _announce_written([article_id])


# What an old address may lead to besides an article, topic or author.
FRONT_PAGE: Final = "front-page"  # an old blog's home, e.g. /page/2/'s archive
GONE: Final = "gone"  # answered 410 Gone: a WordPress page Pressroom has no model for
type LegacyTarget = Article | Topic | Author | Literal["front-page", "gone"]


def _legacy_columns(target: LegacyTarget) -> tuple[int | None, int | None, int | None, bool]:
    """(article id, topic id, author id, is gone) of a LegacyPath row leading to `target`."""
    return (
        target.pk if isinstance(target, Article) else None,
        target.pk if isinstance(target, Topic) else None,
        target.pk if isinstance(target, Author) else None,
        target == GONE,
    )


def write_legacy_paths(
    wanted: Mapping[str, LegacyTarget], *, keep_existing: bool = False, per_page: int | None = None
) -> list[str]:
    """Make each old path redirect to its target, in three queries however many there are.

    A path that already leads elsewhere is re-pointed, unless `keep_existing` (an import from
    a second site must not take over the first one's addresses): it is then left alone and
    returned among the clashes. `per_page` is how many posts the old archive at these paths
    showed a page. The front page itself ('/') never redirects, nor does a path that is
    already the target's own address."""
    targets: dict[str, LegacyTarget] = {}
    for raw, target in wanted.items():
        path = normalize_legacy_path(raw)
        own = target.get_absolute_url() if isinstance(target, Article | Topic | Author) else "/"
        if path and path != "/" and path != own:
            targets[path] = target
    if not targets:
        return []
    to_update = []
    clashes = []
    for legacy in LegacyPath.objects.filter(path__in=list(targets)):
        target = targets.pop(legacy.path)
        columns = _legacy_columns(target)
        current = (legacy.article_id, legacy.topic_id, legacy.author_id, legacy.is_gone)
        if current != columns and keep_existing:
            clashes.append(legacy.path)
        elif current != columns or (per_page and legacy.per_page != per_page):
            legacy.article_id, legacy.topic_id, legacy.author_id, legacy.is_gone = columns
            legacy.per_page = per_page or legacy.per_page
            to_update.append(legacy)
    LegacyPath.objects.bulk_update(to_update, ["article", "topic", "author", "is_gone", "per_page"])
    insert_rows(
        LegacyPath,
        ["path", "article", "topic", "author", "is_gone", "per_page"],
        [(path, *_legacy_columns(target), per_page) for path, target in targets.items()],
    )
    return sorted(clashes)


def normalize_legacy_path(path: str) -> str:
    """'/2019/05/story' and 'https://old.example/2019/05/story/' both become '/2019/05/story/'."""
    parts = urlsplit(path.strip())
    normalized = parts.path or "/"
    if not normalized.startswith("/"):
        normalized = "/" + normalized
    if not normalized.endswith("/") and "." not in normalized.rsplit("/", 1)[-1]:
        normalized += "/"
    if parts.query:
        normalized += "?" + parts.query
    return normalized[:700]


@transaction.atomic
def save_topic(topic: Topic) -> Topic:
    topic.name = strip_control_characters(topic.name)
    topic.description = strip_control_characters(topic.description)
    if not topic.slug:
        topic.slug = unique_slug(Topic, topic.name, exclude_pk=topic.pk)
    previous = Topic.objects.filter(pk=topic.pk).values_list("slug", flat=True).first()
    topic.save()
    if previous and previous != topic.slug:
        # Links to the old address (and its feeds and pages) keep working.
        write_legacy_paths({slug_url_builder("publishing:topic-detail")(previous): topic})
    announce_change()
    return topic


@transaction.atomic
def save_topics(new: Sequence[Topic], changed: Sequence[Topic] = ()) -> None:
    """Create and update many topics in a few statements (imports): what `save_topic` does for
    one. A new topic's slug is the one it asks for (else one made from its name), made unique
    across the batch and the table; `changed` topics have their name, description and parent
    written. The change is announced after commit."""
    for topic in [*new, *changed]:
        topic.name = strip_control_characters(topic.name)
        topic.description = strip_control_characters(topic.description)
    wanted = [wanted_slug(topic.slug, topic.name) for topic in new]
    slugs = SlugReservations(Topic, wanted, max_length=Topic._meta.get_field("slug").max_length)
    for topic, text in zip(new, wanted, strict=True):
        topic.slug = slugs.take(text, topic)
    Topic.objects.bulk_create(new)
    Topic.objects.bulk_update(
        [topic for topic in changed if topic.pk], ["name", "description", "parent"]
    )
    announce_change()


@transaction.atomic
def save_author(author: Author) -> Author:
    author.name = strip_control_characters(author.name)
    author.bio = strip_control_characters(author.bio)
    if not author.slug:
        author.slug = unique_slug(Author, author.name, exclude_pk=author.pk)
    previous = Author.objects.filter(pk=author.pk).values_list("slug", flat=True).first()
    author.save()
    media_services.record_uses(
        author, "photo", [author.photo] if author.photo_id else [], label=author.name
    )
    if previous and previous != author.slug:
        write_legacy_paths({slug_url_builder("publishing:author-detail")(previous): author})
    announce_change()
    return author
