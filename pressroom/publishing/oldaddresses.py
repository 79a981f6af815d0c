"""Where an old (WordPress) address leads now: the one place that reads it.

Stored addresses (LegacyPath rows: posts, tags, categories, authors, `/?cat=7`) are looked up
as they are; the rest of WordPress's scheme is read from their shape, relative to a stored
address or the front page: `<archive>/page/N/`, `<archive>/feed/(rss2|rss|rdf|atom)/`,
`/2021/06/08/`, `/comments/feed/`, `/?s=`, `/?paged=`, `/?feed=`. So a topic renamed after the
import is still found through its row, and its feeds and pages with it.

Every answer is a path built here from reverse() and the database, never from the request, so
no redirect leaves the site; and no target is itself an old address, so none loops.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from django.http import HttpRequest
from django.urls import reverse

from pressroom.media.rendering import nearest_width
from pressroom.publishing import listings
from pressroom.publishing.models import Article, Author, LegacyPath, Page, Topic

WORDPRESS_PER_PAGE = 10  # WordPress's default posts_per_page
MAX_OLD_PAGE = 100_000  # deeper pages are refused, so no request scans further
MAX_SEARCH_LENGTH = 200
# WordPress's front-page queries that name a post, page, term or author (stored at import).
NAMING_PARAMETERS = (
    *("p", "page_id", "cat", "tag", "author", "category_name", "name", "attachment_id"),
)
# WordPress's copies of an upload: photo-300x200.jpg (a size it made), photo-scaled.jpg (the
# large original it shrank since 5.3). Each is answered by the library item of photo.jpg.
_SIZE_VARIANT = re.compile(
    r"^(?P<stem>/.+?)-(?P<width>[0-9]{1,5})x(?P<height>[0-9]{1,5})(?P<extension>\.[A-Za-z0-9]{2,5})$"
)
_FILE_NAME = re.compile(r"/[^/]*\.[A-Za-z0-9]{2,5}$")

# The shortest base first (non-greedy): '/tag/x/feed/atom/' is the feed of '/tag/x/'.
_SUFFIX = re.compile(
    r"^(?P<base>/(?:.*?/)??)(?:"
    r"(?P<comments>comments/feed/(?:(?:rss2|rss|rdf|atom)/)?)"
    r"|(?:feed/)?(?P<feed>rss2|rss|rdf|atom)/|feed/|page/(?P<page>[0-9]{1,6})/)$"
)
_DATE = re.compile(
    r"^(?P<prefix>/(?:.*?/)??)(?P<year>[0-9]{4})/(?:(?P<month>[0-9]{1,2})/(?:(?P<day>[0-9]{1,2})/)?)?"
    r"(?:page/(?P<page>[0-9]{1,6})/)?$"
)


@dataclass(frozen=True)
class Answer:
    """A permanent redirect to `location`, or 410 Gone when `location` is None."""

    location: str | None
    reason: str = ""


def resolve_front_page_query(request: HttpRequest) -> Answer | None:
    """`/?s=peru`, `/?cat=7`, `/?paged=2`, `/?feed=rss2`: None when the query names nothing
    (`/?utm_source=x` stays the home page)."""
    query = request.GET
    if "s" in query:
        terms = query.get("s", "").strip()[:MAX_SEARCH_LENGTH]
        return Answer(reverse("search:search") + ("?" + urlencode({"q": terms}) if terms else ""))
    candidates = [f"/?{name}={query[name]}" for name in NAMING_PARAMETERS if query.get(name)]
    if candidates:
        answer = _stored([*candidates, request.get_full_path()])
        if answer is not None:
            return answer
    if query.get("feed"):
        return Answer(_feed_url(None, query["feed"]))
    if query.get("paged", "").isdigit():
        return _paged(None, _front_page_per_page("/"), int(query["paged"]))
    return None


def resolve_path(request: HttpRequest) -> Answer | None:
    """An old address nothing else answered, or None when it is not one."""
    path = request.path if request.path.endswith("/") else request.path + "/"
    if "\x00" in path or len(path) > 700:
        return None  # PostgreSQL refuses NUL in text; no stored path is longer
    answer = _stored([c for c in (request.get_full_path(), path) if c != "/"])
    if answer is not None:
        return answer
    if _FILE_NAME.search(request.path):
        return _upload(request.path)
    if (match := _SUFFIX.match(path)) and (answer := _suffixed(match)) is not None:
        return answer
    if match := _DATE.match(path):
        return _dated(match)
    return None


def _stored(candidates: list[str]) -> Answer | None:
    legacy = _find(candidates)
    if legacy is None:
        return None
    if legacy.is_gone:
        return Answer(None, "This page of the old site was not brought over.")
    return Answer(legacy.target_url())


def _find(candidates: list[str]) -> LegacyPath | None:
    candidates = [c for c in candidates if c and "\x00" not in c]
    if not candidates:
        return None
    return (
        LegacyPath.objects.filter(path__in=candidates)
        .select_related("article", "topic", "author", "media_item", "page")
        .first()
    )


def _upload(path: str) -> Answer | None:
    """An old upload (any query, such as ?w=640, aside), or a size WordPress made of it: the
    library file, or its rendition nearest that width once the worker has made it."""
    candidates = [path]
    width = None
    if match := _SIZE_VARIANT.match(path):
        width = int(match["width"])
        candidates += [
            match["stem"] + match["extension"],
            match["stem"] + "-scaled" + match["extension"],
        ]
    rows = LegacyPath.objects.filter(path__in=candidates, media_item__isnull=False)
    found = {row.path: row for row in rows.select_related("media_item")}
    row = next((found[c] for c in candidates if c in found), None)
    item = row.media_item if row is not None else None
    if item is None:
        return None
    if width is not None and item.is_image:
        rendition = nearest_width(item, width)
        if rendition is not None:
            return Answer(rendition.url)
    return Answer(item.url)


def _front_page_per_page(base: str) -> int:
    """How many posts the old front page at `base` showed a page (stored at import)."""
    row = LegacyPath.objects.filter(path=base + "page/").values_list("per_page", flat=True).first()
    return row or WORDPRESS_PER_PAGE


def _base(base: str) -> tuple[bool, LegacyPath | None]:
    """Whether `base` is an old archive (front page, topic, author...), and its row."""
    if base == "/":
        return True, _find(["/page/"])
    row = _find([base, base + "page/"])
    return row is not None, row


def _suffixed(match: re.Match[str]) -> Answer | None:
    base = match["base"]
    found, row = _base(base)
    if not found:
        return None
    if row is not None and row.is_gone:
        return Answer(None, "This page of the old site was not brought over.")
    target = row.target if row is not None else None
    if match["comments"]:
        return Answer(reverse("publishing:feed"))
    if match["page"] is not None:
        if isinstance(target, Article | Page):
            return Answer(target.get_absolute_url())  # a post or page split into pages
        per_page = (row.per_page if row is not None else None) or _front_page_per_page("/")
        return _paged(target, per_page, int(match["page"]))
    if isinstance(target, Article | Page):
        return Answer(None, "Comment feeds of the old site were not brought over.")
    return Answer(_feed_url(target, match["feed"] or "rss2"))


def _feed_url(target: Topic | Author | None, kind: str) -> str:
    atom = kind == "atom"
    if isinstance(target, Topic):
        name = "publishing:topic-feed-atom" if atom else "publishing:topic-feed"
        return reverse(name, kwargs={"slug": target.slug})
    if isinstance(target, Author):
        name = "publishing:author-feed-atom" if atom else "publishing:author-feed"
        return reverse(name, kwargs={"slug": target.slug})
    return reverse("publishing:feed-atom" if atom else "publishing:feed")


def _paged(
    target: Topic | Author | tuple[datetime, datetime] | None,
    per_page: int,
    page: int,
    url: str | None = None,
) -> Answer | None:
    """The keyset page that starts with the first article the old page `page` showed."""
    if isinstance(target, Topic | Author):
        url = target.get_absolute_url()
    url = url or reverse("publishing:home")
    if page <= 1:
        return Answer(url)
    if page > MAX_OLD_PAGE:
        return None
    offset = (page - 1) * per_page
    cursor = listings.cursor_at_offset(target, offset)
    if cursor is None:
        # Past the end. One page past it is an archive that lost posts on the way (ones not
        # brought over): land on what was the previous page. Further is a 404, as in WordPress.
        cursor = listings.cursor_at_offset(target, offset - per_page)
        if cursor is None:
            return None
        if offset - per_page == 0:
            return Answer(url)
    return Answer(f"{url}?before={cursor.encode()}")


def _dated(match: re.Match[str]) -> Answer | None:
    year = int(match["year"])
    month = int(match["month"]) if match["month"] else None
    day = int(match["day"]) if match["day"] else None
    try:
        span = listings.date_range(year, month, day)
    except (ValueError, OverflowError):
        return None
    prefix = match["prefix"]
    if prefix != "/" and not _base(prefix)[0]:
        return None  # a date under a path that is no old blog
    kwargs = {"year": year} | ({"month": month} if month else {}) | ({"day": day} if day else {})
    name = (
        "publishing:archive-day"
        if day
        else "publishing:archive-month"
        if month
        else ("publishing:archive-year")
    )
    url = reverse(name, kwargs=kwargs)
    page = int(match["page"]) if match["page"] else 1
    return _paged(span, _front_page_per_page(prefix), page, url)
