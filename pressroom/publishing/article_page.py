"""Reads for an article's page: the article, its lead image, bylines, topics, corrections and
related articles, in as few statements as the page allows.

Readers from search and social land on old articles that no cache holds, so what an article
page reads is paid on nearly every visit. Through prefetch_related the page made four queries
(the article, bylines, corrections, topics; five with the lead image's renditions), and
building and compiling them was over half of its render (docs/performance.md). Here:

- the article and its lead image are one query;
- which authors and topics it has, and its corrections themselves, are one statement written
  as SQL (the same on SQLite and PostgreSQL), in the editor's byline order, the topics' name
  order and the corrections' date order;
- the authors and topics themselves come from a memo kept per content generation (a site has
  a few hundred of them, shared by every article), so they cost no query once read;
- the lead image's renditions are read only when it has one.

What is read is left where prefetch_related would leave it, so `Article.bylines`,
`Article.shown_corrections` and `Article.shown_topics` read it without a query, in templates
and in the JSON-LD alike. Nothing of one article is kept between requests: each visit reads its own.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from django.db import connection
from django.db.models import Model, Q
from django.http import Http404

from pressroom.lib.pagecache import ContentMemo
from pressroom.lib.prepared import PreparedRead, instance_from_db
from pressroom.media.models import Rendition
from pressroom.media.rendering import STRUCTURED_DATA_PRESETS, WIDTH_PRESETS
from pressroom.publishing import listings
from pressroom.publishing.listings import Teaser
from pressroom.publishing.models import Article, ArticleAuthor, Author, Correction, Topic

# What the article is linked to, by kind: 0 an author (in byline order), 1 a topic (in name
# order, as Topic's ordering has `article.topics.all()`), 2 a correction readers see (in
# Correction's order, its kind, text and date in the last three columns: the corrections are
# read here rather than by a statement of their own). Only placeholders are filled in.
# The corrections come first: PostgreSQL types each column of a UNION from its first rows
# that name one, and a date column first met as NULL would be taken for text.
_LINKS_SQL = (
    "SELECT 2, note.id, NULL, NULL, note.id, note.kind, note.text, note.noted_at"
    " FROM publishing_correction note WHERE note.article_id = %s AND note.removed_at IS NULL"
    " UNION ALL"
    " SELECT 0, link.author_id, link.position, NULL, link.id, NULL, NULL, NULL"
    " FROM publishing_articleauthor link WHERE link.article_id = %s"
    " UNION ALL"
    " SELECT 1, link.topic_id, NULL, topic.name, link.id, NULL, NULL, NULL"
    " FROM publishing_articletopic link"
    " INNER JOIN publishing_topic topic ON topic.id = link.topic_id"
    " WHERE link.article_id = %s"
    " ORDER BY 1, 3, 4, 8, 5"
)
# The fields of a correction the links statement reads (the others load if ever asked for).
_CORRECTION_FIELDS = ["id", "article_id", "kind", "text", "noted_at", "removed_at"]

# The lead image's renditions the page shows: the lead picture's widths in every format, the
# social card and the structured data's crops in the format every client reads (JPEG, PNG).
# An image has thirty; the other crops (the teasers' and their AVIF and WebP) are not read.
LEAD_IMAGE_RENDITIONS = WIDTH_PRESETS | Q(
    preset__in=["social", *STRUCTURED_DATA_PRESETS], format__in=["jpeg", "png"]
)

# The two reads an article page makes through the ORM, compiled once per process (compiling
# them was most of their cost): the article with its lead image, and the lead image's
# renditions.
_article_at = PreparedRead(
    lambda slug: Article.objects.select_related("lead_image").filter(slug=slug),
    placeholder="prepared-slug",
)
_renditions_of = PreparedRead(
    lambda pk: Rendition.objects.filter(LEAD_IMAGE_RENDITIONS, item_id=pk),
    placeholder=-1,
    constants=True,
)

# Authors and topics by id, shared by every article page until content changes (a renamed
# author or topic moves the generation on).
_records: ContentMemo[Author | Topic | None] = ContentMemo(max_entries=4096)

# How many related articles an article page shows.
RELATED_COUNT = 4

# The newest teasers of each topic, for the related articles of every article filed there.
_topic_newest: ContentMemo[list[Teaser]] = ContentMemo(max_entries=1024)


def article_or_404(slug: str) -> Article:
    """The article at `slug` (public or not: the view decides who may see it) with everything
    its page shows in place; Http404 when there is none."""
    found = _article_at(slug)
    if not found:
        raise Http404("No such article.")
    article = found[0]  # slugs are unique
    keep_page_parts(article)
    return article


def keep_page_parts(article: Article) -> None:
    """Read the article's bylines, topics, corrections and lead image renditions in at most
    two statements (one when it has no lead image) and leave them where
    prefetch_related would."""
    with connection.cursor() as database:
        database.execute(_LINKS_SQL, [article.pk, article.pk, article.pk])
        rows = database.fetchall()
    bylines = [
        (author_id, position, link_id)
        for kind, author_id, position, _, link_id, *_ in rows
        if kind == 0
    ]
    topic_ids = [record_id for kind, record_id, *_ in rows if kind == 1]
    noted_at = _datetime_reader()
    notes = [
        instance_from_db(
            Correction,
            connection.alias,
            _CORRECTION_FIELDS,
            [note_id, article.pk, note_kind, text, noted_at(when), None],
        )
        for kind, note_id, _, _, _, note_kind, text, when in rows
        if kind == 2
    ]

    authors = _by_id(Author, [author_id for author_id, _, _ in bylines])
    links = []
    for author_id, position, link_id in bylines:
        author = authors.get(author_id)
        if author is None:
            continue  # deleted since the links were read
        link = instance_from_db(
            ArticleAuthor,
            connection.alias,
            ["id", "article_id", "author_id", "position"],
            [link_id, article.pk, author_id, position],
        )
        ArticleAuthor.author.field.set_cached_value(link, author)
        links.append(link)
    topics = _by_id(Topic, topic_ids)

    _keep_prefetched(article, "author_links", links)
    _keep_prefetched(article, "topics", [topics[pk] for pk in topic_ids if pk in topics])
    _keep_prefetched(article, "corrections", notes)
    if article.lead_image is not None:
        # Those the page shows (LEAD_IMAGE_RENDITIONS).
        _keep_prefetched(article.lead_image, "renditions", _renditions_of(article.lead_image.pk))


def _datetime_reader() -> Callable[[Any], Any]:
    """What turns a date-time column read by plain SQL into what the ORM would give: SQLite
    returns text (its backend's converter parses it, in the database's time zone);
    PostgreSQL's driver returns the date-time itself."""
    convert = getattr(connection.ops, "convert_datetimefield_value", None)
    if convert is None:
        return lambda value: value
    return lambda value: convert(value, None, connection)


def _keep_prefetched(instance: Model, name: str, rows: list[Any]) -> None:
    """Leave `rows` where prefetch_related leaves the relation `name`'s result, as a list (as
    media.rendering.load_images does for renditions): Article.bylines, shown_corrections,
    shown_topics and the manager's all() read it without a query. A QuerySet with its result
    in place, as prefetch_related makes, cost a tenth of the page to build for three relations;
    so filter() and count() on these relations are not for the page's render (nothing in it
    calls them)."""
    cache: dict[str, Any] = instance.__dict__.setdefault("_prefetched_objects_cache", {})
    cache[name] = rows


def _by_id[Record: (Author, Topic)](model: type[Record], ids: Sequence[int]) -> dict[int, Record]:
    """The authors or topics with these ids, from the memo, the missing ones read in one
    query."""
    if not ids:
        return {}

    def read() -> dict[int, Record]:
        source: Any = (
            Author.objects.select_related("photo").prefetch_related("photo__renditions")
            if model is Author
            else Topic.objects.all()
        )
        return source.in_bulk(list(ids))

    # Read only when some record is not kept, then for all of them at once.
    read_once = functools.cache(read)
    found = _records.get_or_set_many(
        ((model, pk), functools.partial(_one_of, read_once, pk)) for pk in ids
    )
    # Shared, not copied (a copy of each cost more than the rest of the read): pages only read
    # them, and whatever a render loads onto one lazily is content of the same generation.
    return {pk: record for pk, record in zip(ids, found, strict=True) if record is not None}  # type: ignore[misc]


def _one_of(read: Any, pk: int) -> Author | Topic | None:
    return read().get(pk)


def related_articles(article: Article) -> list[Teaser]:
    """The newest public articles of the article's first topic (by name), itself left out:
    up to RELATED_COUNT teasers, read once per topic and content generation, so an article
    page pays no query for them while its topic's list is kept."""
    first = next(iter(article.shown_topics), None)
    if first is None:
        return []
    newest = _topic_newest.get_or_set(
        first.pk, lambda: listings.topic_page(first, {}, per_page=RELATED_COUNT + 1).items
    )
    return [teaser for teaser in newest if teaser.id != article.pk][:RELATED_COUNT]
