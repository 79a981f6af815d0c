"""Reading a partner's feed: bytes in, entries out, no database and no network.

RSS 0.9x/1.0/2.0 (with content:encoded), Atom and WordPress's feeds are read by feedparser; JSON
Feed (1.0 and 1.1), which feedparser does not read, by the standard library. feedparser is only
ever given bytes the outbound helper fetched: it never fetches anything itself.
"""

from __future__ import annotations

import calendar
import html
import json
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import feedparser
from feedparser.urls import resolve_relative_uris

# Longest text kept from one entry: a full article is rarely past 200 kB of HTML.
MAX_CONTENT_CHARS = 500_000
MAX_SUMMARY_CHARS = 5_000
MAX_AUTHORS = 10
MAX_CATEGORIES = 20


class FeedParseError(Exception):
    """The bytes are not a feed we can read; the message says what they are instead."""


@dataclass
class Entry:
    guid: str
    link: str
    title: str
    summary: str = ""
    content: str = ""
    authors: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    published_at: datetime | None = None
    # The address relative links in the content and summary are read against.
    base: str = ""

    def resolve_links(self) -> None:
        """Make the content's and summary's relative addresses absolute. Done only for the
        entries that enter the queue: most of a feed is known already, and resolving (an HTML
        parse of each text) was a third of the cost of reading a feed."""
        if not self.base:
            return
        if RELATIVE_ADDRESS.search(self.content):
            self.content = resolve_relative_uris(self.content, self.base, "utf-8", "text/html")
        if RELATIVE_ADDRESS.search(self.summary):
            self.summary = resolve_relative_uris(self.summary, self.base, "utf-8", "text/html")


# An attribute holding an address that is not absolute ("/img/a.jpg", "photo.png", "//cdn").
RELATIVE_ADDRESS = re.compile(
    r"""\s(?:src|href|srcset|poster|cite)\s*=\s*["']?(?![a-z][a-z0-9+.-]*:|["'#])""", re.I
)


# Query parameters that only track where a reader came from: dropped before comparing links.
TRACKING_PARAMETER = re.compile(
    r"^(utm_\w*|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid|_hsenc|_hsmi|igshid|yclid|ref|ref_src|"
    r"source|cmpid|ncid|at_medium|at_campaign|s_cid|wt_mc)$",
    re.I,
)


def without_tracking(url: str) -> str:
    """The link as we keep it (and point canonical links at): its tracking parameters
    removed, the rest as the partner wrote it."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if not parts.query:
        return url
    kept = [
        (name, value)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
        if not TRACKING_PARAMETER.match(name)
    ]
    return urlunsplit(parts._replace(query=urlencode(kept)))


def link_key(url: str) -> str:
    """The link as it is compared: scheme and "www." ignored, host lower-case, no tracking
    parameters, no fragment, no trailing slash, the other parameters sorted."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return url.strip()[:1000]
    host = (parts.hostname or "").lower().removeprefix("www.")
    query = urlencode(
        sorted(
            (name, value)
            for name, value in parse_qsl(parts.query, keep_blank_values=True)
            if not TRACKING_PARAMETER.match(name)
        )
    )
    path = parts.path.rstrip("/") or "/"
    return (host + path + (f"?{query}" if query else ""))[:1000]


def title_key(title: str) -> str:
    """The title folded for comparison: accents, case, punctuation and spacing ignored, so
    “Peru’s miners march” and "Peru's Miners March!" are the same piece."""
    decomposed = unicodedata.normalize("NFKD", title)
    letters = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    words = re.findall(r"\w+", letters.casefold())
    return " ".join(words)[:300]


def _text(value: Any, limit: int) -> str:
    return str(value or "").strip()[:limit]


def _clean_url(value: Any, base: str) -> str:
    url = _text(value, 1000)
    if not url:
        return ""
    url = urljoin(base, url)
    return without_tracking(url) if urlsplit(url).scheme in {"http", "https"} else ""


def parse_feed(data: bytes, *, url: str = "", content_type: str = "") -> list[Entry]:
    """The entries of a feed, newest first as the feed gives them. Raises FeedParseError for
    anything that is not a feed (an HTML page, broken XML with no entries, bad JSON)."""
    stripped = data.lstrip()[:1]
    if "json" in content_type.lower() or stripped in (b"{", b"["):
        return _parse_json_feed(data, url)
    parsed = feedparser.parse(
        data,
        response_headers={"content-location": url, "content-type": content_type or "text/xml"},
        # Relative addresses are resolved for the new entries only (Entry.resolve_links).
        resolve_relative_uris=False,
        sanitize_html=False,  # our own cleaner (nh3) cleans everything we keep
    )
    if not parsed.get("version"):
        if re.search(rb"<html\b", data[:4096], re.I):
            raise FeedParseError("this address serves an HTML page, not a feed")
        reason = parsed.get("bozo_exception")
        raise FeedParseError(f"not a feed: {_text(reason, 200) or 'no RSS, Atom or JSON Feed'}")
    if parsed.get("bozo") and not parsed.entries:
        raise FeedParseError(f"broken feed: {_text(parsed.get('bozo_exception'), 200)}")
    return [_entry(raw, url) for raw in parsed.entries]


def _entry(raw: Any, base: str) -> Entry:
    link = _clean_url(raw.get("link"), base)
    guid = _text(raw.get("id") or link or raw.get("title"), 1000)
    contents = raw.get("content") or []
    html_content = next(
        (c.get("value", "") for c in contents if "html" in c.get("type", "")),
        contents[0].get("value", "") if contents else "",
    )
    summary = raw.get("summary", "")
    if html_content and html_content.strip() == summary.strip():
        # RSS with only <description>: feedparser gives it as both.
        html_content = "" if len(summary) < 1000 else html_content
    authors = [a.get("name", "") for a in raw.get("authors") or [] if a.get("name")]
    if not authors and raw.get("author"):
        authors = [raw["author"]]
    published = raw.get("published_parsed") or raw.get("updated_parsed")
    detail = contents[0] if contents else raw.get("summary_detail") or {}
    return Entry(
        guid=guid,
        link=link,
        title=_text(raw.get("title"), 300) or "(untitled)",
        summary=_text(summary, MAX_SUMMARY_CHARS),
        content=_text(html_content, MAX_CONTENT_CHARS),
        authors=[_text(name, 200) for name in authors[:MAX_AUTHORS]],
        categories=[
            _text(tag.get("term"), 100) for tag in (raw.get("tags") or [])[:MAX_CATEGORIES]
        ],
        published_at=datetime.fromtimestamp(calendar.timegm(published), UTC) if published else None,
        base=_text(detail.get("base"), 1000) or link or base,
    )


def _json_date(value: Any) -> datetime | None:
    text = _text(value, 50)
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _parse_json_feed(data: bytes, base: str) -> list[Entry]:
    try:
        document = json.loads(data)
    except (ValueError, RecursionError) as error:
        raise FeedParseError(f"broken JSON Feed: {_text(error, 200)}") from None
    if not isinstance(document, dict) or not str(document.get("version", "")).startswith(
        "https://jsonfeed.org/version/"
    ):
        raise FeedParseError("not a feed: JSON without a jsonfeed.org version")
    items = document.get("items")
    if not isinstance(items, list):
        raise FeedParseError("broken JSON Feed: no list of items")
    feed_authors = _json_authors(document)
    entries = []
    for raw in items:
        if not isinstance(raw, dict):
            continue
        link = _clean_url(raw.get("url") or raw.get("external_url"), base)
        title = _text(raw.get("title"), 300)
        entries.append(
            Entry(
                guid=_text(raw.get("id") or link or title, 1000),
                link=link,
                title=title or "(untitled)",
                summary=_text(raw.get("summary"), MAX_SUMMARY_CHARS),
                content=_text(raw.get("content_html"), MAX_CONTENT_CHARS)
                or _text_to_html(_text(raw.get("content_text"), MAX_CONTENT_CHARS)),
                authors=_json_authors(raw) or feed_authors,
                categories=[
                    _text(tag, 100) for tag in (raw.get("tags") or [])[:MAX_CATEGORIES] if tag
                ]
                if isinstance(raw.get("tags"), list)
                else [],
                published_at=_json_date(raw.get("date_published") or raw.get("date_modified")),
                base=link or base,
            )
        )
    return entries


def _text_to_html(text: str) -> str:
    """A JSON Feed's plain text as paragraphs."""
    return "".join(
        f"<p>{html.escape(part.strip())}</p>" for part in text.split("\n\n") if part.strip()
    )


def _json_authors(raw: dict[str, Any]) -> list[str]:
    people = raw.get("authors")
    if not isinstance(people, list):
        people = [raw["author"]] if isinstance(raw.get("author"), dict) else []
    return [
        _text(person.get("name"), 200)
        for person in people[:MAX_AUTHORS]
        if isinstance(person, dict) and person.get("name")
    ]
