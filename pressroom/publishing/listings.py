"""Reads for article lists: home, topic and author archives, feeds."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import QuerySet
from django.http import QueryDict
from django.utils import timezone

from pressroom.publishing.models import Article, ArticleAuthor, ArticleTopic, Author, Topic
from pressroom.publishing.pagination import Page, keyset_page


@dataclass(frozen=True, slots=True)
class Teaser:
    """What one teaser in a list shows, read as plain values: building model instances (and
    prefetching their bylines) cost a fifth of a listing page's render."""

    id: int
    title: str
    slug: str
    excerpt: str
    published_at: datetime
    original_outlet: str
    author_names: tuple[str, ...]


TEASER_FIELDS = ("title", "slug", "excerpt", "published_at", "original_outlet")


def _bylines(article_ids: list[int]) -> defaultdict[int, list[str]]:
    """Author names by article id, in one query (none for no articles)."""
    bylines: defaultdict[int, list[str]] = defaultdict(list)
    if not article_ids:
        return bylines
    # Ordered by name, as the authors' default ordering has always listed them on teasers.
    for article_id, name in (
        ArticleAuthor.objects.filter(article_id__in=article_ids)
        .order_by("author__name", "author_id")
        .values_list("article_id", "author__name")
    ):
        bylines[article_id].append(name)
    return bylines


def _teasers_page(rows: QuerySet, query: QueryDict, per_page: int, *, article: str) -> Page:
    """A keyset page of `rows` (archive links, or articles when `article` is "") whose items are
    teasers: the article's fields are read in the keyset query itself, the bylines in one more.
    """
    id_field = f"{article}_id" if article else "id"
    fields = [f"{article}__{name}" if article else name for name in TEASER_FIELDS]
    page = keyset_page(
        rows.values(*dict.fromkeys([id_field, "published_at", *fields])),
        query,
        per_page,
        time_field="published_at",
        id_field=id_field,
    )
    bylines = _bylines([row[id_field] for row in page.items])
    page.items = [
        Teaser(
            id=row[id_field],
            author_names=tuple(bylines[row[id_field]]),
            **{name: row[field] for name, field in zip(TEASER_FIELDS, fields, strict=True)},
        )
        for row in page.items
    ]
    return page


def topic_page(topic: Topic, query: QueryDict, per_page: int | None = None) -> Page:
    links = ArticleTopic.objects.filter(
        topic=topic, is_public=True, published_at__lte=timezone.now()
    )
    return _teasers_page(links, query, per_page or settings.ARTICLES_PER_PAGE, article="article")


def author_page(author: Author, query: QueryDict, per_page: int | None = None) -> Page:
    links = ArticleAuthor.objects.filter(
        author=author, is_public=True, published_at__lte=timezone.now()
    )
    return _teasers_page(links, query, per_page or settings.ARTICLES_PER_PAGE, article="article")


def latest_page(query: QueryDict, per_page: int | None = None) -> Page:
    return _teasers_page(
        Article.objects.published(), query, per_page or settings.ARTICLES_PER_PAGE, article=""
    )


def latest_articles(limit: int) -> list[Article]:
    return list(Article.objects.published().newest_first().for_listing()[:limit])


def featured_topics(limit: int = 8) -> list[Topic]:
    return list(Topic.objects.filter(is_featured=True).order_by("name")[:limit])


def cached_featured_topics() -> list[Topic]:
    """Featured topics from the cache the header navigation shares (cleared on any change)."""
    from pressroom.front.context_processors import navigation_topics

    return navigation_topics()
