"""Reads for article lists: home, topic and author archives, feeds."""

from __future__ import annotations

from django.conf import settings
from django.db.models import QuerySet
from django.http import QueryDict
from django.utils import timezone

from pressroom.publishing.models import Article, ArticleAuthor, ArticleTopic, Author, Topic
from pressroom.publishing.pagination import Page, keyset_page


def _articles_in_order(article_ids: list[int]) -> list[Article]:
    by_id = Article.objects.for_listing().in_bulk(article_ids)
    return [by_id[article_id] for article_id in article_ids if article_id in by_id]


def _links_page(links: QuerySet, query: QueryDict, per_page: int) -> Page:
    page = keyset_page(
        links.only("article_id", "published_at"),
        query,
        per_page,
        time_field="published_at",
        id_field="article_id",
    )
    page.items = _articles_in_order([link.article_id for link in page.items])
    return page


def topic_page(topic: Topic, query: QueryDict, per_page: int | None = None) -> Page:
    links = ArticleTopic.objects.filter(
        topic=topic, is_public=True, published_at__lte=timezone.now()
    )
    return _links_page(links, query, per_page or settings.ARTICLES_PER_PAGE)


def author_page(author: Author, query: QueryDict, per_page: int | None = None) -> Page:
    links = ArticleAuthor.objects.filter(
        author=author, is_public=True, published_at__lte=timezone.now()
    )
    return _links_page(links, query, per_page or settings.ARTICLES_PER_PAGE)


def latest_page(query: QueryDict, per_page: int | None = None) -> Page:
    page = keyset_page(
        Article.objects.published().only("id", "published_at"),
        query,
        per_page or settings.ARTICLES_PER_PAGE,
        time_field="published_at",
        id_field="id",
    )
    page.items = _articles_in_order([article.id for article in page.items])
    return page


def latest_articles(limit: int) -> list[Article]:
    return list(Article.objects.published().newest_first().for_listing()[:limit])


def featured_topics(limit: int = 8) -> list[Topic]:
    return list(Topic.objects.filter(is_featured=True).order_by("name")[:limit])


def cached_featured_topics() -> list[Topic]:
    """Featured topics from the cache the header navigation shares (cleared on any change)."""
    from pressroom.front.context_processors import navigation_topics

    return navigation_topics()
