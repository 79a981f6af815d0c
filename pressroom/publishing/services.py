"""Writes to the publishing model. Every save of an article goes through `save_article`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from urllib.parse import urlsplit

from django.db import IntegrityError, transaction
from django.db.models import Model
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from pressroom.media import services as media_services
from pressroom.media.models import MediaItem
from pressroom.publishing.html import clean_body_html, make_excerpt
from pressroom.publishing.models import (
    Article,
    ArticleAuthor,
    ArticleStateError,
    ArticleTopic,
    Author,
    LegacyPath,
    Topic,
)
from pressroom.publishing.signals import content_changed


def unique_slug(
    model: type[Model], text: str, *, exclude_pk: int | None = None, max_length: int = 200
) -> str:
    """A slug made from `text` that no other row of `model` has: 'peru', 'peru-2', ..."""
    base = slugify(text, allow_unicode=True)[: max_length - 8].strip("-") or "untitled"
    taken = set(
        model._default_manager.filter(slug__startswith=base)
        .exclude(pk=exclude_pk)
        .values_list("slug", flat=True)
    )
    if base not in taken:
        return base
    number = 2
    while f"{base}-{number}" in taken:
        number += 1
    return f"{base}-{number}"


def announce_change(article_ids: Iterable[int] = ()) -> None:
    """Tell caches, search and federation, once the transaction has committed."""
    ids = list(article_ids)
    transaction.on_commit(lambda: content_changed.send(sender=Article, article_ids=ids))


def prepare_article(article: Article) -> None:
    """Clean the body, compute the excerpt and settle the slug, in memory."""
    article.body = clean_body_html(article.body or "")
    article.title = " ".join(article.title.split())
    article.excerpt = make_excerpt(article.body, article.editor_excerpt)
    if not article.slug:
        article.slug = unique_slug(Article, article.title, exclude_pk=article.pk, max_length=255)
    elif Article.objects.filter(slug=article.slug).exclude(pk=article.pk).exists():
        article.slug = unique_slug(Article, article.slug, exclude_pk=article.pk, max_length=255)
    if (
        article.status == Article.Status.PUBLISHED
        and article.published_at is not None
        and article.published_at > timezone.now()
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


def record_media_uses(article: Article) -> None:
    lead, body_items = images_of(article)
    media_services.record_uses(article, "lead image", [lead] if lead else [], label=article.title)
    media_services.record_uses(article, "body", body_items, label=article.title)


def sync_listing_links(article: Article) -> None:
    """Copy the article's public order into its topic and author links."""
    is_public = article.status in Article.PUBLIC_STATUSES
    ArticleTopic.objects.filter(article=article).update(
        is_public=is_public, published_at=article.published_at
    )
    ArticleAuthor.objects.filter(article=article).update(
        is_public=is_public, published_at=article.published_at
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
    previous_slug = (
        Article.objects.filter(pk=article.pk).values_list("slug", flat=True).first()
        if article.pk
        else None
    )
    prepare_article(article)
    public = article.status in Article.PUBLIC_STATUSES
    if require_alt_text and public and (missing := images_lacking_alt_text(article)):
        raise MissingAltTextError(missing)
    article.updated_at = timezone.now()
    _save_with_free_slug(article)
    if previous_slug and previous_slug != article.slug:
        # Links to the old address keep working.
        add_legacy_path(reverse("publishing:article-detail", args=[previous_slug]), article=article)
    if authors is not None:
        set_authors(article, authors)
    if topics is not None:
        set_topics(article, topics)
    for path in legacy_paths:
        add_legacy_path(path, article=article)
    sync_listing_links(article)
    record_media_uses(article)
    announce_change([article.pk])
    return article


def _save_with_free_slug(article: Article, attempts: int = 5) -> None:
    """Save, taking the next free slug if another writer took this one in the meantime.

    Two editors saving the same title at once both see 'strike' as free; the second insert
    then fails on the unique index, and that writer becomes 'strike-2' instead of an error.
    """
    for attempt in range(attempts):
        try:
            with transaction.atomic():
                article.save()
            return
        except IntegrityError:
            slug_taken = Article.objects.filter(slug=article.slug).exclude(pk=article.pk).exists()
            if not slug_taken or attempt == attempts - 1:
                raise
            article.slug = unique_slug(Article, article.slug, exclude_pk=article.pk, max_length=255)


def set_authors(article: Article, authors: Sequence[Author]) -> None:
    wanted = {author.pk: position for position, author in enumerate(authors)}
    ArticleAuthor.objects.filter(article=article).exclude(author_id__in=wanted).delete()
    existing = {link.author_id: link for link in ArticleAuthor.objects.filter(article=article)}
    for author_id, position in wanted.items():
        link = existing.get(author_id)
        if link is None:
            ArticleAuthor.objects.create(article=article, author_id=author_id, position=position)
        elif link.position != position:
            link.position = position
            link.save(update_fields=["position"])


def set_topics(article: Article, topics: Iterable[Topic]) -> None:
    wanted = {topic.pk for topic in topics}
    ArticleTopic.objects.filter(article=article).exclude(topic_id__in=wanted).delete()
    existing = set(ArticleTopic.objects.filter(article=article).values_list("topic_id", flat=True))
    ArticleTopic.objects.bulk_create(
        ArticleTopic(article=article, topic_id=topic_id) for topic_id in wanted - existing
    )


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
    announce_change([article_id])


def add_legacy_path(
    path: str, *, article: Article | None = None, topic: Topic | None = None
) -> None:
    """Make `path` redirect to the article or topic (re-pointing it if it led elsewhere)."""
    path = normalize_legacy_path(path)
    if not path or path == (article or topic).get_absolute_url():  # type: ignore[union-attr]
        return
    LegacyPath.objects.update_or_create(path=path, defaults={"article": article, "topic": topic})


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
    if not topic.slug:
        topic.slug = unique_slug(Topic, topic.name, exclude_pk=topic.pk)
    topic.save()
    announce_change()
    return topic


@transaction.atomic
def save_author(author: Author) -> Author:
    if not author.slug:
        author.slug = unique_slug(Author, author.name, exclude_pk=author.pk)
    author.save()
    announce_change()
    return author
