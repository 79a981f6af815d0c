"""Full-text search over public articles: SQLite FTS5 or PostgreSQL, behind one interface."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db import connection
from django.db.models import F

from pressroom.publishing.html import html_to_text
from pressroom.publishing.models import Article
from pressroom.search.models import SearchDocument

INDEX_CHUNK = 1000


def _public_articles(article_ids: Iterable[int] | None) -> Iterable[tuple[int, str, str, str]]:
    """(id, title, excerpt, body) of the public articles among `article_ids` (or all), those
    scheduled for later included: one goes public when its time comes, without a save that
    would index it then, and the search page shows only what `published()` lets through.
    Plain values: a batch of an import holds hundreds."""
    articles = Article.objects.filter(status__in=Article.PUBLIC_STATUSES)
    if article_ids is not None:
        articles = articles.filter(id__in=list(article_ids))
    return articles.values_list("id", "title", "excerpt", "body").iterator(chunk_size=1000)


def _fts5_query(text: str) -> str:
    """Words of the reader's query as FTS5 prefix terms: no operator in it can cause an error."""
    words = re.findall(r"\w+", text.lower())
    return " ".join(f'"{word}"*' for word in words[:12])


def _written_public_articles(
    article_ids: list[int], written: Sequence[Article]
) -> Iterable[tuple[int, str, str, str]]:
    """What _public_articles reads, from the instances a write has just saved."""
    wanted = set(article_ids)
    for article in written:
        if article.pk in wanted and article.status in Article.PUBLIC_STATUSES:
            yield article.pk, article.title, article.excerpt, article.body


def index_articles(
    article_ids: Iterable[int] | None = None, *, written: Sequence[Article] | None = None
) -> int:
    """(Re)index the given articles, or all; drop those no longer public. Returns rows indexed.

    `written`: the articles as a write has just saved them (see the articles_written signal),
    read from the instances rather than from the database again.
    A few statements per thousand articles on either database: imports index a batch at a time.
    """
    ids = None if article_ids is None else list(article_ids)
    remove_articles(ids)
    if connection.vendor == "postgresql":
        # The weighted vector SearchDocument holds, computed by PostgreSQL from the three texts
        # (what SearchVector(Value(...), weight=..., config="english") builds, without the ORM
        # statement per article).
        sql = (
            f"INSERT INTO {SearchDocument._meta.db_table} (article_id, document) VALUES (%s,"  # noqa: S608
            " setweight(to_tsvector('english'::regconfig, %s), 'A')"
            " || setweight(to_tsvector('english'::regconfig, %s), 'B')"
            " || setweight(to_tsvector('english'::regconfig, %s), 'C'))"
        )
    else:
        sql = "INSERT INTO search_article_fts (rowid, title, excerpt, body) VALUES (%s, %s, %s, %s)"
    count = 0
    rows: list[tuple[int, str, str, str]] = []
    with connection.cursor() as cursor:
        articles = (
            _public_articles(ids)
            if ids is None or written is None
            else _written_public_articles(ids, written)
        )
        for article_id, title, excerpt, body in articles:
            rows.append((article_id, title, excerpt, html_to_text(body)))
            if len(rows) == INDEX_CHUNK:
                cursor.executemany(sql, rows)
                count, rows = count + len(rows), []
        if rows:
            cursor.executemany(sql, rows)
    return count + len(rows)


def remove_articles(article_ids: list[int] | None) -> None:
    if connection.vendor == "postgresql":
        documents = SearchDocument.objects.all()
        if article_ids is not None:
            documents = documents.filter(article_id__in=article_ids)
        documents.delete()
        return
    with connection.cursor() as cursor:
        if article_ids is None:
            cursor.execute("DELETE FROM search_article_fts")
        else:
            for start in range(0, len(article_ids), 500):
                chunk = article_ids[start : start + 500]
                placeholders = ",".join(["%s"] * len(chunk))
                cursor.execute(
                    f"DELETE FROM search_article_fts WHERE rowid IN ({placeholders})",  # noqa: S608 (placeholders only)
                    chunk,
                )


def search_article_ids(text: str, limit: int = 20, offset: int = 0) -> list[int]:
    """Ids of public articles matching `text`, best match first."""
    if not text.strip():
        return []
    if connection.vendor == "postgresql":
        query = SearchQuery(text, config="english", search_type="websearch")
        return list(
            SearchDocument.objects.filter(document=query)
            .annotate(rank=SearchRank(F("document"), query))
            .order_by("-rank", "-article_id")
            .values_list("article_id", flat=True)[offset : offset + limit]
        )
    match = _fts5_query(text)
    if not match:
        return []
    with connection.cursor() as cursor:
        # bm25 weights: a hit in the title counts most, then the excerpt, then the body.
        cursor.execute(
            "SELECT rowid FROM search_article_fts WHERE search_article_fts MATCH %s "
            "ORDER BY bm25(search_article_fts, 10.0, 4.0, 1.0), rowid DESC LIMIT %s OFFSET %s",
            [match, limit, offset],
        )
        return [row[0] for row in cursor.fetchall()]


# Counting stops here: "more than 1,000 results" tells a reader as much as an exact figure, and
# a common word would otherwise make every search count the whole index.
COUNT_CAP = 1000


def count_article_matches(text: str, cap: int = COUNT_CAP) -> int:
    """How many public articles match `text`, counted up to `cap` (one bounded query)."""
    if not text.strip():
        return 0
    if connection.vendor == "postgresql":
        query = SearchQuery(text, config="english", search_type="websearch")
        return SearchDocument.objects.filter(document=query)[:cap].count()
    match = _fts5_query(text)
    if not match:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM (SELECT rowid FROM search_article_fts"
            " WHERE search_article_fts MATCH %s LIMIT %s)",
            [match, cap],
        )
        return int(cursor.fetchone()[0])
