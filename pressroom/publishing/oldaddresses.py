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

from django.conf import settings
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
    """A permanent redirect to `location`, or 410 Gone when `location` is None; `missing`: a
    404, as WordPress answered (`/?p=` of no post, a date with no posts)."""

    location: str | None
    reason: str = ""
    missing: bool = False


MISSING = Answer(None, missing=True)


def _is_number(text: str) -> bool:
    """ASCII digits only (`str.isdigit()` also takes '²', which `int()` refuses)."""
    return text.isascii() and text.isdigit() and len(text) <= 9


def resolve_front_page_query(request: HttpRequest, base: str = "/") -> Answer | None:
    """`/?s=peru`, `/?cat=7`, `/?paged=2`, `/?feed=rss2`, `/?m=202106`, and their mixes
    (`/?cat=7&paged=3`, `/?tag=peru&feed=atom`), of the front page at `base` (`/blog/` for a
    blog that lived in a folder): None when the query names nothing (`/?utm_source=x` stays the
    home page)."""
    query = request.GET
    page = int(query["paged"]) if _is_number(query.get("paged", "")) else 1
    if "s" in query:
        return _search(query.get("s", ""), _front_page_per_page(base), page)
    candidates = [f"{base}?{name}={query[name]}" for name in NAMING_PARAMETERS if query.get(name)]
    if candidates:
        legacy = _find([*candidates, request.get_full_path()])
        if legacy is None:
            return MISSING  # WordPress's 404 for a post, term or author it does not have
        target = legacy.target
        if isinstance(target, Topic | Author) and not legacy.is_gone:
            if query.get("feed"):
                return Answer(_feed_url(target, query["feed"]))
            per_page = legacy.per_page or _front_page_per_page(base)
            return _paged(target, per_page, page)
        return _answer(legacy)
    if query.get("feed"):
        return Answer(_feed_url(None, query["feed"]))
    if _is_number(query.get("m", "")) and len(query["m"]) in (4, 6, 8):
        month = query["m"]
        return (
            _dated_archive(
                int(month[:4]),
                int(month[4:6]) if len(month) >= 6 else None,
                int(month[6:8]) if len(month) == 8 else None,
                _front_page_per_page(base),
                page,
            )
            or MISSING
        )
    if "paged" in query:
        return _paged(None, _front_page_per_page(base), page) or MISSING
    return None


def _search(terms: str, per_page: int, page: int) -> Answer:
    """`/?s=peru&paged=2`: the search page holding the first result WordPress showed."""
    terms = terms.strip()[:MAX_SEARCH_LENGTH]
    params: dict[str, str | int] = {"q": terms} if terms else {}
    offset = (max(page, 1) - 1) * per_page
    if terms and (own_page := offset // settings.ARTICLES_PER_PAGE + 1) > 1:
        params["page"] = own_page
    return Answer(reverse("search:search") + ("?" + urlencode(params) if params else ""))


def resolve_old_front_page(request: HttpRequest) -> Answer | None:
    """The home of a blog that lived in a folder (`/blog/`, `/blog/?p=42`), or None when
    `request.path` was no old blog's home. Its query forms are the front page's."""
    base = request.path if request.path.endswith("/") else request.path + "/"
    if base == "/" or len(base) > 700 or not _is_old_blog_home(base):
        return None
    if request.GET:
        answer = resolve_front_page_query(request, base)
        if answer is not None:
            return answer
    return Answer(reverse("publishing:home"))


def _is_old_blog_home(base: str) -> bool:
    # The import files the old front page's paging under `<base>page/` (its posts per page).
    return LegacyPath.objects.filter(path=base + "page/", article=None, topic=None).exists()


def resolve_path(request: HttpRequest) -> Answer | None:
    """An old address nothing else answered, or None when it is not one."""
    path = request.path if request.path.endswith("/") else request.path + "/"
    if "\x00" in path or len(path) > 700:
        return None  # PostgreSQL refuses NUL in text; no stored path is longer
    answer = _stored([c for c in (request.get_full_path(), path) if c != "/"])
    if answer is not None:
        return answer
    if (answer := resolve_old_front_page(request)) is not None:
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
    return None if legacy is None else _answer(legacy)


def _answer(legacy: LegacyPath) -> Answer:
    if legacy.is_gone:
        return Answer(None, "This page of the old site was not brought over.")
    if isinstance(legacy.target, Article | Page) and not legacy.target.is_public:
        # Unpublished since (or not yet public): a 404 as on WordPress, not a redirect to one.
        return MISSING
    return Answer(legacy.target_url())


# What an answer reads of an old address and its target (target_url, _paged, _feed_url).
ANSWER_FIELDS = (
    "path",
    "is_gone",
    "per_page",
    "article__slug",
    "article__status",
    "article__published_at",
    "topic__slug",
    "author__slug",
    "media_item__file",
    "page__path",
    "page__status",
    "page__published_at",
)


def _find(candidates: list[str]) -> LegacyPath | None:
    candidates = [c for c in candidates if c and "\x00" not in c]
    if not candidates:
        return None
    # Only the columns an answer needs: the targets' whole rows (an article's body) and
    # `first()`'s ordering made this query cost half of a first answer's CPU.
    rows = {
        row.path: row
        for row in LegacyPath.objects.filter(path__in=candidates)
        .select_related("article", "topic", "author", "media_item", "page")
        .only(*ANSWER_FIELDS)
    }
    # `path` is unique: at most one row per candidate; the first candidate found wins.
    return next((rows[c] for c in candidates if c in rows), None)


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
    prefix = match["prefix"]
    if prefix != "/" and not _base(prefix)[0]:
        return None  # a date under a path that is no old blog
    return _dated_archive(
        int(match["year"]),
        int(match["month"]) if match["month"] else None,
        int(match["day"]) if match["day"] else None,
        _front_page_per_page(prefix),
        int(match["page"]) if match["page"] else 1,
    )


def _dated_archive(
    year: int, month: int | None, day: int | None, per_page: int, page: int
) -> Answer | None:
    """The year, month or day listing; a 404 (None) for a date with no posts, as WordPress
    answers (so made-up dates are not stored as redirects by the page cache)."""
    try:
        span = listings.date_range(year, month, day)
    except (ValueError, OverflowError):
        return None
    if listings.cursor_at_offset(span, 0) is None:
        return None
    kwargs = {"year": year} | ({"month": month} if month else {}) | ({"day": day} if day else {})
    name = (
        "publishing:archive-day"
        if day
        else "publishing:archive-month"
        if month
        else ("publishing:archive-year")
    )
    return _paged(span, per_page, page, reverse(name, kwargs=kwargs))
