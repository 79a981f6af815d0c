"""Reads for article lists: home, topic and author archives, feeds.

The archive pages are the most requested pages an outlet has, and each one renders them from a
single keyset read. That read is written out as SQL (the same statement on SQLite and
PostgreSQL) instead of being built with the ORM: building and compiling the QuerySet and turning
its rows into values cost about 2 ms a page, twenty times the 0.1 ms the statement takes through
Django's cursor, in a render whose whole budget is 3 ms (docs/performance.md). Everything else
reads through QuerySets.
"""

from __future__ import annotations

import copy
import functools
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from pressroom.lib.pagecache import ContentMemo
from pressroom.media.models import MediaItem
from pressroom.media.rendering import ROLES, load_images
from pressroom.publishing.curation import (
    HOME_FEATURED_COUNT,
    HOME_SLOTS_READ,
    MENU_MAX_ITEMS,
    HomeSlot,
    Menu,
    MenuItem,
)
from pressroom.publishing.links import slug_url_builder
from pressroom.publishing.models import Article, Author, Correction, Topic
from pressroom.publishing.models import Page as StandingPage
from pressroom.publishing.pagination import Cursor, Page, keyset_page


@dataclass(slots=True)
class Teaser:
    """What one teaser in a list shows, read as plain values: building model instances (and
    prefetching their bylines) cost a fifth of a listing page's render."""

    id: int
    title: str
    slug: str
    excerpt: str
    published_at: datetime
    original_outlet: str
    lead_image_id: int | None = None
    author_names: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        """The article's address (Article.get_absolute_url)."""
        return slug_url_builder("publishing:article-detail")(self.slug)


@dataclass(frozen=True)
class Archive:
    """One kind of archive: where its rows come from, which of them are public, and the
    (time, id) columns an index keeps in order (see the indexes of ArticleTopic, ArticleAuthor
    and Article)."""

    source: str
    public: str  # conditions; their %s placeholders are filled by `read`'s `params`
    time: str
    id: str

    def read(
        self, params: Sequence[object], cursor: Cursor | None, newer: bool, limit: int
    ) -> list[Teaser]:
        """`limit` teasers next to `cursor`, as pagination.keyset_page asks for them."""
        adapt = connection.ops.adapt_datetimefield_value
        # The index range is bounded by `time <= latest` and, for newer pages, `time >= cursor`.
        # Older pages take the earlier of now and the cursor as their one upper bound: with two
        # (`time <= now AND time <= cursor`) SQLite cannot tell which parameter is tighter and
        # would walk every newer row to reach a deep page. The OR gives no bound at all.
        latest = timezone.now()
        if cursor is not None and not newer:
            latest = min(latest, cursor.published_at)
        where = f"{self.public} AND {self.time} <= %s"
        arguments: list[Any] = [*params, adapt(latest)]
        if cursor is not None:
            at = adapt(cursor.published_at)
            past = ">" if newer else "<"
            if newer:
                where += f" AND {self.time} >= %s"
                arguments.append(at)
            where += f" AND ({self.time} {past} %s OR ({self.time} = %s AND {self.id} {past} %s))"
            arguments += [at, at, cursor.id]
        order = "ASC" if newer else "DESC"
        # Only the constants above and the keywords of this method go into the text: every
        # value is a parameter.
        sql = (
            "SELECT article.id, article.title, article.slug, article.excerpt,"  # noqa: S608
            f" {self.time}, article.original_outlet, article.lead_image_id"
            f" FROM {self.source} WHERE {where}"
            f" ORDER BY {self.time} {order}, {self.id} {order} LIMIT %s"
        )
        with connection.cursor() as database:
            database.execute(sql, [*arguments, limit])
            rows = database.fetchall()
        return _teasers(rows)

    def cursor_at(self, params: Sequence[object], offset: int) -> Cursor | None:
        """The `before` cursor of the page whose first row is the `offset`-th (from 0) in the
        archive's order, or None past its end: what an old offset-paginated address (WordPress's
        /tag/x/page/3/) becomes. The OFFSET walks the same index as a page read."""
        adapt = connection.ops.adapt_datetimefield_value
        sql = (
            f"SELECT {self.time}, {self.id} FROM {self.source}"  # noqa: S608
            f" WHERE {self.public} AND {self.time} <= %s"
            f" ORDER BY {self.time} DESC, {self.id} DESC LIMIT 1 OFFSET %s"
        )
        with connection.cursor() as database:
            arguments: list[Any] = [*params, adapt(timezone.now()), offset]
            database.execute(sql, arguments)
            row = database.fetchone()
        if row is None:
            return None
        at, article_id = row
        at = _aware(at, connection.timezone)
        # `before` is exclusive; the next id up at the same moment puts this row first.
        return Cursor(at, article_id + 1)


TOPIC_ARCHIVE = Archive(
    source="publishing_articletopic link"
    " INNER JOIN publishing_article article ON article.id = link.article_id",
    public="link.topic_id = %s AND link.is_public = %s",
    time="link.published_at",
    id="link.article_id",
)
AUTHOR_ARCHIVE = Archive(
    source="publishing_articleauthor link"
    " INNER JOIN publishing_article article ON article.id = link.article_id",
    public="link.author_id = %s AND link.is_public = %s",
    time="link.published_at",
    id="link.article_id",
)
LATEST = Archive(
    source="publishing_article article",
    # Article.objects.published(), as SQL (with `time <= now` added by `read`).
    public=f"article.status IN ({', '.join(['%s'] * len(Article.PUBLIC_STATUSES))})",
    time="article.published_at",
    id="article.id",
)


def _bylines(article_ids: list[int]) -> defaultdict[int, list[str]]:
    """Author names by article id, in one query (none for no articles)."""
    bylines: defaultdict[int, list[str]] = defaultdict(list)
    if not article_ids:
        return bylines
    placeholders = ", ".join(["%s"] * len(article_ids))
    with connection.cursor() as database:
        # In byline order, as the editor chose it (Article.bylines).
        database.execute(
            # Only placeholders go into the text.
            "SELECT byline.article_id, author.name FROM publishing_articleauthor byline"  # noqa: S608
            " INNER JOIN publishing_author author ON author.id = byline.author_id"
            f" WHERE byline.article_id IN ({placeholders}) ORDER BY byline.position, byline.id",
            article_ids,
        )
        for article_id, name in database.fetchall():
            bylines[article_id].append(name)
    return bylines


def teaser_images(teasers: Sequence[Teaser]) -> dict[int, MediaItem]:
    """The teasers' lead images by id, with their thumbnail renditions: two queries for any
    number of teasers (none when no teaser has an image)."""
    ids = {teaser.lead_image_id for teaser in teasers if teaser.lead_image_id}
    return load_images(ids, ROLES["teaser"].presets)


def _teasers_page(
    archive: Archive, params: Sequence[object], query: Mapping[str, str], per_page: int | None
) -> Page[Teaser]:
    """A keyset page of teasers from `archive`, their bylines read in one more query."""
    page = keyset_page(
        functools.partial(archive.read, params), query, per_page or settings.ARTICLES_PER_PAGE
    )
    bylines = _bylines([teaser.id for teaser in page.items])
    for teaser in page.items:
        teaser.author_names = tuple(bylines[teaser.id])
    return page


def topic_page(topic: Topic, query: Mapping[str, str], per_page: int | None = None) -> Page[Teaser]:
    return _teasers_page(TOPIC_ARCHIVE, [topic.pk, True], query, per_page)


def author_page(
    author: Author, query: Mapping[str, str], per_page: int | None = None
) -> Page[Teaser]:
    return _teasers_page(AUTHOR_ARCHIVE, [author.pk, True], query, per_page)


def latest_page(query: Mapping[str, str], per_page: int | None = None) -> Page[Teaser]:
    statuses = [status.value for status in Article.PUBLIC_STATUSES]
    return _teasers_page(LATEST, statuses, query, per_page)


def _latest_params() -> list[object]:
    return [status.value for status in Article.PUBLIC_STATUSES]


DATED = Archive(
    source=LATEST.source,
    public=f"{LATEST.public} AND article.published_at >= %s AND article.published_at < %s",
    time=LATEST.time,
    id=LATEST.id,
)


def date_range(year: int, month: int | None, day: int | None) -> tuple[datetime, datetime]:
    """The start and end of a year, month or day in the site's time zone; ValueError when
    there is no such date."""
    if not 1000 <= year < 9999:
        raise ValueError("year out of range")  # and clear of datetime's limits in any zone
    zone = timezone.get_default_timezone()
    start = datetime(year, month or 1, day or 1, tzinfo=zone)
    if day is not None:
        end = start.date() + timedelta(days=1)
    elif month is not None:
        end = (start.date().replace(day=28) + timedelta(days=4)).replace(day=1)
    else:
        end = start.date().replace(year=year + 1)
    return start, datetime(end.year, end.month, end.day, tzinfo=zone)


def _dated_params(start: datetime, end: datetime) -> list[object]:
    adapt = connection.ops.adapt_datetimefield_value
    return [*_latest_params(), adapt(start), adapt(end)]


def dated_page(
    start: datetime, end: datetime, query: Mapping[str, str], per_page: int | None = None
) -> Page[Teaser]:
    """Articles published between `start` and `end` (a year, month or day archive)."""
    return _teasers_page(DATED, _dated_params(start, end), query, per_page)


def cursor_at_offset(
    owner: Topic | Author | tuple[datetime, datetime] | None, offset: int
) -> Cursor | None:
    """Where the keyset page starting at the `offset`-th article of an archive begins: a
    topic's, an author's, a date range's, or (None) the front page's."""
    if isinstance(owner, Topic):
        return TOPIC_ARCHIVE.cursor_at([owner.pk, True], offset)
    if isinstance(owner, Author):
        return AUTHOR_ARCHIVE.cursor_at([owner.pk, True], offset)
    if isinstance(owner, tuple):
        return DATED.cursor_at(_dated_params(*owner), offset)
    return LATEST.cursor_at(_latest_params(), offset)


def topic_or_404(slug: str) -> Topic:
    return _cached_by_slug(Topic, slug)


def author_or_404(slug: str) -> Author:
    # With the portrait and its renditions, which the profile shows.
    return _cached_by_slug(
        Author, slug, Author.objects.select_related("photo").prefetch_related("photo__renditions")
    )


_owners: ContentMemo[Topic | Author] = ContentMemo(max_entries=2048)


def _cached_by_slug[Owner: (Topic, Author)](
    model: type[Owner], slug: str, source: QuerySet[Owner] | None = None
) -> Owner:
    """The topic or author whose archive is asked for, kept until content changes: the lookup
    cost an archive page a tenth of its render. Unknown slugs raise Http404 and are not kept."""
    owner = _owners.get_or_set(
        (model, slug), lambda: get_object_or_404(source if source is not None else model, slug=slug)
    )
    # A copy per request: what one request caches on the instance stays its own.
    return copy.copy(owner)  # type: ignore[return-value]


def featured_topics(limit: int = 8) -> list[Topic]:
    return list(Topic.objects.filter(is_featured=True).order_by("name")[:limit])


_featured: ContentMemo[list[Topic]] = ContentMemo(max_entries=1)


def cached_featured_topics() -> list[Topic]:
    """The featured topics the header navigation and the home page show, read again once
    content changes."""
    return _featured.get_or_set("featured", featured_topics)


@dataclass(frozen=True, slots=True)
class HomeFront:
    """The first page of the home page: the lead story, the featured ones, then the newest
    that are neither."""

    lead: Teaser | None
    featured: list[Teaser]
    latest: list[Teaser]

    @property
    def lead_items(self) -> list[Teaser]:
        """The lead as a list, as the teaser list tag takes it."""
        return [self.lead] if self.lead is not None else []


def chosen_for_home() -> tuple[Teaser | None, list[Teaser]]:
    """The lead and featured stories editors chose that readers may see now (not expired,
    published), bylines included: three small queries, once per content generation.

    The slots are read first and their articles apart, by id: joined in one statement, SQLite's
    planner walked every published article (54 ms and 100 MB of pages on a 100,000-article
    site) to find the few with a slot."""
    now = timezone.now()
    slots = list(
        HomeSlot.objects.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .in_order()
        .values_list("placement", "article_id")[:HOME_SLOTS_READ]
    )
    articles = (
        Article.objects.published(now)
        .filter(pk__in={article_id for _, article_id in slots})
        .only(
            "id",
            "title",
            "slug",
            "excerpt",
            "published_at",
            "original_outlet",
            "lead_image_id",
        )
        .in_bulk()
    )
    lead: Teaser | None = None
    featured: list[Teaser] = []
    # The first lead showing and the featured ones, read apart: however many leads wait their
    # turn, they never take the featured stories' places.
    for placement, article_id in slots:
        article = articles.get(article_id)
        if article is None:
            continue
        teaser = Teaser(
            article.id,
            article.title,
            article.slug,
            article.excerpt,
            article.published_at,  # type: ignore[arg-type]  # published: never None
            article.original_outlet,
            article.lead_image_id,
        )
        if placement == HomeSlot.Placement.LEAD:
            lead = lead or teaser
        elif len(featured) < HOME_FEATURED_COUNT:
            featured.append(teaser)
    chosen = [teaser for teaser in [lead, *featured] if teaser is not None]
    bylines = _bylines([teaser.id for teaser in chosen])
    for teaser in chosen:
        teaser.author_names = tuple(bylines[teaser.id])
    return lead, featured


_home: ContentMemo[tuple[Teaser | None, list[Teaser]]] = ContentMemo(max_entries=1)


def home_front(newest: Sequence[Teaser]) -> HomeFront:
    """The chosen stories (read once per content generation) with the gaps filled from
    `newest`, the home page's first page of newest articles: no lead chosen, or fewer featured
    than HOME_FEATURED_COUNT (expired, unpublished), and the newest take their places."""
    lead, chosen = _home.get_or_set("chosen", chosen_for_home)
    taken = {teaser.id for teaser in [lead, *chosen] if teaser is not None}
    rest = [teaser for teaser in newest if teaser.id not in taken]
    if lead is None and rest:
        lead = rest.pop(0)
    missing = max(HOME_FEATURED_COUNT - len(chosen), 0)
    featured = [*chosen, *rest[:missing]]
    return HomeFront(lead, featured, rest[missing:])


def newest_in_topics(topic_ids: Sequence[int], per_topic: int) -> dict[int, list[Teaser]]:
    """The `per_topic` newest public articles of each topic, by topic id, in
    one query: one index range per topic (topic_archive_order), joined by UNION ALL, so the
    cost does not grow with the topics' sizes. Bylines are not read (see `with_bylines`)."""
    topic_ids = list(dict.fromkeys(topic_ids))[:MAX_TOPICS_READ_AT_ONCE]
    if not topic_ids or per_topic <= 0:
        return {}
    adapt = connection.ops.adapt_datetimefield_value
    now = adapt(timezone.now())
    # Only constants go into the text: every value is a parameter. Each arm is its own
    # SELECT ... LIMIT inside a subquery, the one form SQLite and PostgreSQL both accept.
    arm = (
        "SELECT * FROM (SELECT link.topic_id, article.id, article.title, article.slug,"  # noqa: S608
        " article.excerpt, link.published_at, article.original_outlet, article.lead_image_id"
        f" FROM {TOPIC_ARCHIVE.source} WHERE link.topic_id = %s AND link.is_public = %s"
        " AND link.published_at <= %s"
        " ORDER BY link.published_at DESC, link.article_id DESC LIMIT %s) AS newest"
    )
    arguments: list[Any] = []
    for topic_id in topic_ids:
        arguments += [topic_id, True, now, per_topic]
    with connection.cursor() as database:
        database.execute(" UNION ALL ".join([arm] * len(topic_ids)), arguments)
        rows = database.fetchall()
    zone = connection.timezone
    found: dict[int, list[Teaser]] = {topic_id: [] for topic_id in topic_ids}
    for topic_id, id, title, slug, excerpt, at, outlet, image in rows:
        found[topic_id].append(Teaser(id, title, slug, excerpt, _aware(at, zone), outlet, image))
    return found


# Bounds on what one page reads beside its main list.
MAX_TOPICS_READ_AT_ONCE = 12
HOME_TOPIC_SECTIONS = 6
HOME_TOPIC_SECTION_ITEMS = 3


def teasers_by_id(article_ids: Sequence[int]) -> dict[int, Teaser]:
    """The public articles with these ids (a search's page of results) as teasers with their
    bylines, by id: two plain queries, where model instances and their prefetches were a
    quarter of a search page. Public is checked again here (LATEST's condition): an article
    unpublished between the search and this read is left out, not shown."""
    ids = list(dict.fromkeys(article_ids))
    if not ids:
        return {}
    placeholders = ", ".join(["%s"] * len(ids))
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as database:
        database.execute(
            # Only placeholders go into the text.
            "SELECT id, title, slug, excerpt, published_at, original_outlet, lead_image_id"  # noqa: S608
            f" FROM publishing_article article WHERE id IN ({placeholders})"
            f" AND {LATEST.public} AND {LATEST.time} <= %s",
            [*ids, *_latest_params(), now],
        )
        rows = database.fetchall()
    found = {teaser.id: teaser for teaser in _teasers(rows)}
    with_bylines(list(found.values()))
    return found


def _teasers(rows: Sequence[tuple[Any, ...]]) -> list[Teaser]:
    """Teasers of rows read by plain SQL: (id, title, slug, excerpt, published_at,
    original_outlet, lead_image_id)."""
    zone = connection.timezone
    return [
        Teaser(id, title, slug, excerpt, _aware(at, zone), outlet, image)
        for id, title, slug, excerpt, at, outlet, image in rows
    ]


def _aware(at: datetime, zone: tzinfo) -> datetime:
    """A date-time read by plain SQL as the ORM gives it: SQLite hands back naive date-times
    in the connection's time zone (`zone`), PostgreSQL aware ones."""
    return at if at.tzinfo else at.replace(tzinfo=zone)


def with_bylines(teasers: list[Teaser]) -> list[Teaser]:
    """The teasers with their author names, read in one query for all of them."""
    bylines = _bylines([teaser.id for teaser in teasers])
    for teaser in teasers:
        teaser.author_names = tuple(bylines[teaser.id])
    return teasers


@dataclass(frozen=True, slots=True)
class TopicSection:
    topic: Topic
    teasers: list[Teaser]


def home_topic_sections() -> list[TopicSection]:
    """The featured topics' newest articles for the home page's topic sections: one query for
    all of them (bylines in one more), kept until content changes."""

    def read() -> list[TopicSection]:
        topics = cached_featured_topics()[:HOME_TOPIC_SECTIONS]
        by_topic = newest_in_topics([topic.pk for topic in topics], HOME_TOPIC_SECTION_ITEMS)
        with_bylines([teaser for teasers in by_topic.values() for teaser in teasers])
        return [
            TopicSection(topic, by_topic[topic.pk]) for topic in topics if by_topic.get(topic.pk)
        ]

    return _topic_sections.get_or_set("sections", read)


_topic_sections: ContentMemo[list[TopicSection]] = ContentMemo(max_entries=1)


@dataclass(frozen=True, slots=True)
class MenuLink:
    label: str
    url: str


def menu_links() -> dict[str, list[MenuLink]]:
    """Every menu's links as readers see them, in the editors' order, by menu location: one
    query for all menus, read as plain values (MenuItem.text and target_url, without building
    instances or calling reverse() per link)."""
    topic_url = slug_url_builder("publishing:topic-detail")
    menus: dict[str, list[MenuLink]] = {location: [] for location in Menu.Location.values}
    rows = list(
        MenuItem.objects.in_menus().values_list(
            *("menu__location", "label", "url", "topic__name", "topic__slug"),
            *("page_id", "page__title", "page__path"),
        )
    )
    # A page shows while readers may see it (the generation moves on when one goes public).
    linked_pages = {row[5] for row in rows if row[5]}
    live_pages = (
        set(
            StandingPage.objects.published()
            .filter(pk__in=linked_pages)
            .values_list("pk", flat=True)
        )
        if linked_pages
        else set()
    )
    for location, label, url, topic_name, topic_slug, page_id, page_title, page_path in rows:
        if page_id and page_id not in live_pages:
            continue
        text = label.strip() or topic_name or page_title or ""
        address = topic_url(topic_slug) if topic_slug else f"/{page_path}/" if page_id else url
        if text and len(menus.setdefault(location, [])) < MENU_MAX_ITEMS:
            menus[location].append(MenuLink(text, address))
    return menus


_menus: ContentMemo[dict[str, list[MenuLink]]] = ContentMemo(max_entries=1)


def cached_menus() -> dict[str, list[MenuLink]]:
    """Every menu's links by location ("header", "footer"), read again once content changes."""
    return _menus.get_or_set("menus", menu_links)


def cached_menu_links(location: str) -> list[MenuLink]:
    """The header's or the footer's links, read again once content changes."""
    return cached_menus().get(location, [])


CORRECTIONS_PER_PAGE = 30


def _read_corrections(cursor: Cursor | None, newer: bool, limit: int) -> list[Correction]:
    rows = (
        Correction.objects.public()
        .select_related("article")
        .only("id", "kind", "text", "noted_at", "article__title", "article__slug")
    )
    if cursor is None:
        return list(rows.newest_first()[:limit])
    at, pk = cursor.published_at, cursor.id
    if newer:
        rows = rows.filter(Q(noted_at__gt=at) | Q(noted_at=at, id__gt=pk)).order_by(
            "noted_at", "id"
        )
    else:
        rows = rows.filter(Q(noted_at__lt=at) | Q(noted_at=at, id__lt=pk)).newest_first()
    return list(rows[:limit])


def corrections_page(query: Mapping[str, str]) -> Page[Correction]:  # type: ignore[type-var]
    """A keyset page of the corrections readers see, newest first (/corrections/).
    (mypy does not see a model's `id` as the protocol's read-only `id`.)"""
    return keyset_page(_read_corrections, query, CORRECTIONS_PER_PAGE)  # type: ignore[type-var]
