"""Writes for partners: registering them, storing what their feeds bring, and the queue's
actions (republish now, schedule, open as draft, dismiss and undo). Each is one transaction;
republishing goes through publishing's one write path for articles."""

from __future__ import annotations

import difflib
import html
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.utils import timezone

from pressroom.lib import outbound
from pressroom.media import services as media_services
from pressroom.media.models import MediaError
from pressroom.partners.models import Feed, Item, Partner, PartnerStateError
from pressroom.partners.parsing import Entry, FeedParseError, link_key, parse_feed, title_key
from pressroom.publishing import services as publishing_services
from pressroom.publishing.html import clean_body_html
from pressroom.publishing.models import Article, Author, Topic

# Titles this alike (difflib's ratio on folded titles) across partners are one piece told twice.
NEAR_TITLE_RATIO = 0.9
# How far back near-identical titles are looked for: a wire piece runs within days.
NEAR_TITLE_WINDOW = timedelta(days=14)
# Shorter folded titles ("Editorial", "Weekly roundup") are never taken for one piece.
DISTINCT_TITLE_LENGTH = 20
# Images brought into the library from one republished piece, at most.
MAX_IMAGES = 20
IMAGE_TAG = re.compile(r"<img\b[^>]*>", re.I)
ATTRIBUTE = re.compile(r"""\s([\w:-]+)\s*=\s*("[^"]*"|'[^']*')""")


class PartnerError(Exception):
    """Input the partners' services refuse; the message is for the person who gave it."""


def _check_feed_url(url: str) -> str:
    url = url.strip()
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        raise PartnerError(f"{url[:200]!r} is not an http(s) address") from None
    if len(url) > 1000:
        raise PartnerError("a feed address is at most 1000 characters long")
    return url


@transaction.atomic
def add_partner(
    name: str,
    feed_urls: Sequence[str],
    *,
    site_url: str = "",
    licence: str = "",
    topics: Iterable[Topic] = (),
    full_text: bool = False,
    allowed_authors: str = "",
    interval_minutes: int = 30,
) -> Partner:
    """Register a partner outlet with its feeds (fetched by the worker from now on)."""
    name = " ".join(name.split())
    if not name or len(name) > 200:
        raise PartnerError("a partner's name is 1 to 200 characters long")
    if Partner.objects.filter(name__iexact=name).exists():
        raise PartnerError(f"there is already a partner called {name!r}")
    # The same address given twice is one feed.
    urls = list(dict.fromkeys(_check_feed_url(url) for url in feed_urls))
    if not urls:
        raise PartnerError("give at least one feed address")
    taken = Feed.objects.filter(url__in=urls).select_related("partner").first()
    if taken is not None:
        raise PartnerError(f"{taken.url} is already a feed of {taken.partner.name}")
    if not 5 <= interval_minutes <= 7 * 24 * 60:
        raise PartnerError("the fetch interval is 5 minutes to a week")
    partner = Partner.objects.create(
        name=name,
        site_url=site_url.strip() or _site_of(urls[0]),
        licence=" ".join(licence.split())[:200],
        full_text=full_text,
        allowed_authors=allowed_authors[:10_000],
    )
    partner.topics.set(list(topics))
    Feed.objects.bulk_create(
        [Feed(partner=partner, url=url, interval_minutes=interval_minutes) for url in urls]
    )
    return partner


def _site_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/"


@dataclass
class FetchResult:
    feed_id: int
    url: str
    new: int = 0
    known: int = 0
    skipped: int = 0  # by authors outside the partner's allow-list
    failed: int = 0  # entries without an address or identifier
    not_modified: bool = False
    error: str = ""
    new_item_ids: list[int] = field(default_factory=list)


def fetch_feed(feed_id: int) -> FetchResult:
    """Fetch one feed now (conditional GET) and put its new items in the queue. A failure is
    recorded on the feed (which then backs off) and returned, never raised."""
    feed = Feed.objects.select_related("partner").get(pk=feed_id)
    result = FetchResult(feed.pk, feed.url)
    try:
        response = outbound.fetch(
            feed.url,
            etag=feed.etag,
            last_modified=feed.last_modified,
            max_bytes=settings.PARTNER_FEED_MAX_BYTES,
            headers={
                "Accept": "application/rss+xml, application/atom+xml, application/feed+json, "
                "application/xml;q=0.9, */*;q=0.5"
            },
        )
        if response.not_modified:
            result.not_modified = True
        elif not response.ok:
            raise PartnerError(f"the server answered HTTP {response.status}")
        else:
            entries = parse_feed(
                response.content,
                url=response.url,
                content_type=response.headers.get("content-type", ""),
            )
    except (outbound.OutboundError, FeedParseError, PartnerError) as error:
        result.error = str(error)[:1000]
        Feed.objects.filter(pk=feed.pk).update(**_failure_fields(feed, result.error))
        return result
    with transaction.atomic():
        feed = Feed.objects.select_for_update().select_related("partner").get(pk=feed.pk)
        if not result.not_modified:
            store_entries(feed, entries[: settings.PARTNER_FEED_MAX_ITEMS], result)
        feed.record_success(
            etag=response.etag,
            last_modified=response.last_modified,
            not_modified=result.not_modified,
        )
        feed.items_seen = feed.items.count()
        feed.save()
    return result


def _failure_fields(feed: Feed, error: str) -> dict[str, Any]:
    feed.record_failure(error)
    return {
        name: getattr(feed, name)
        for name in ("status", "last_error", "failures", "last_fetched_at", "next_fetch_at")
    }


def store_entries(feed: Feed, entries: Sequence[Entry], result: FetchResult) -> None:
    """Queue the entries not seen before. A piece is known again by its GUID (from this
    partner), its link without tracking parameters, or its title (exact once folded, or nearly
    the same from another partner lately): items dismissed or republished stay rows, so they
    never come back."""
    partner = feed.partner
    usable = []
    for entry in entries:
        if not (entry.guid or entry.link):
            result.failed += 1
        else:
            usable.append(entry)
    guids = set(
        Item.objects.filter(partner=partner, guid__in=[e.guid for e in usable]).values_list(
            "guid", flat=True
        )
    )
    link_keys = set(
        Item.objects.filter(link_key__in=[link_key(e.link) for e in usable if e.link]).values_list(
            "link_key", flat=True
        )
    )
    # A title names one piece only when it is distinctive and recent: "Editorial", "(untitled)"
    # or a weekly column's name recur, and each is a piece of its own (GUID and link tell).
    title_keys = set(
        Item.objects.filter(
            title_key__in=[
                folded
                for folded in (title_key(e.title) for e in usable)
                if len(folded) >= DISTINCT_TITLE_LENGTH
            ],
            fetched_at__gte=timezone.now() - NEAR_TITLE_WINDOW,
        ).values_list("title_key", flat=True)
    )
    recent_titles = NearTitles(
        Item.objects.filter(fetched_at__gte=timezone.now() - NEAR_TITLE_WINDOW)
        .exclude(partner=partner)
        .order_by("-fetched_at")
        .values_list("title_key", flat=True)[:5000]
    )
    for entry in usable:
        key = link_key(entry.link) if entry.link else ""
        folded = title_key(entry.title)
        if (
            entry.guid in guids
            or (key and key in link_keys)
            or (folded and folded in title_keys)
            or recent_titles.match(folded)
        ):
            result.known += 1
            continue
        if not partner.accepts_authors(entry.authors):
            result.skipped += 1
            continue
        try:
            with transaction.atomic():
                item = Item.objects.create(
                    partner=partner,
                    feed=feed,
                    guid=entry.guid or entry.link,
                    link=entry.link,
                    link_key=key,
                    title=entry.title,
                    title_key=folded,
                    summary=entry.summary,
                    content=entry.content,
                    authors=entry.authors,
                    categories=entry.categories,
                    published_at=entry.published_at,
                )
        except IntegrityError:
            # The same GUID twice in one feed, or a fetch of the same partner at the same time.
            result.known += 1
            continue
        guids.add(item.guid)
        if key:
            link_keys.add(key)
        if len(folded) >= DISTINCT_TITLE_LENGTH:
            title_keys.add(folded)
        result.new += 1
        result.new_item_ids.append(item.pk)


class NearTitles:
    """Recent titles of other partners, for finding a nearly identical one. Titles that share
    too few words are passed over with set operations (done in C) before difflib's ratio, so a
    fetch compares its entries with thousands of titles in milliseconds."""

    def __init__(self, titles: Iterable[str]) -> None:
        self.titles = [(title, frozenset(title.split())) for title in titles if title]

    def match(self, folded: str) -> bool:
        if len(folded) < DISTINCT_TITLE_LENGTH:
            return False
        words = frozenset(folded.split())
        matcher: difflib.SequenceMatcher[str] | None = None
        for other, other_words in self.titles:
            # Titles 90% alike share most of their words: 3 in 4 of the larger set.
            if len(words & other_words) * 4 < max(len(words), len(other_words)) * 3:
                continue
            if matcher is None:
                matcher = difflib.SequenceMatcher(None, "", folded)  # seq2 is indexed once
            matcher.set_seq1(other)
            if matcher.ratio() >= NEAR_TITLE_RATIO:
                return True
        return False


def fetch_partner(partner: Partner | None = None) -> list[FetchResult]:
    feeds = Feed.objects.filter(is_active=True)
    if partner is not None:
        feeds = feeds.filter(partner=partner)
    return [fetch_feed(feed_id) for feed_id in feeds.values_list("pk", flat=True)]


def claim_due_feeds(now: datetime | None = None, limit: int = 1000) -> list[int]:
    """The feeds whose time has come, each held back for a few minutes so that the next poll
    does not queue them again while their fetch waits for a worker."""
    now = now or timezone.now()
    with transaction.atomic():
        ids = list(
            Feed.objects.due(now)
            .select_for_update(skip_locked=True)
            .order_by("next_fetch_at")
            .values_list("pk", flat=True)[:limit]
        )
        Feed.objects.filter(pk__in=ids).update(next_fetch_at=now + timedelta(minutes=10))
    return ids


# The queue's actions ---------------------------------------------------------------------------


class Mode:
    NOW = "now"
    SCHEDULE = "schedule"
    DRAFT = "draft"


@dataclass
class Republished:
    article: Article
    # For the editor, when they have something left to do (paste the text, describe images).
    notice: str = ""


SUMMARY_ONLY_NOTICE = (
    "{partner}'s feed carries only a summary: this draft holds the summary and a link to the "
    "original. Paste the full text from the original before publishing."
)


def republish_item(
    item: Item, *, mode: str = Mode.NOW, at: datetime | None = None, by: Any = None
) -> Republished:
    """One click: the partner's piece becomes our article, with its title, cleaned body (its
    images brought into the library, credited to the partner), bylines, original outlet and
    address as canonical link, the partner's licence and default topics. Published now,
    scheduled `at`, or opened as a draft; a summary-only feed always opens a draft.

    Raises PartnerStateError when the item left the queue meanwhile, and publishing's
    ArticleStateError (images without alt text) when it cannot be public yet."""
    if mode not in (Mode.NOW, Mode.SCHEDULE, Mode.DRAFT):
        raise PartnerError(f"unknown way to republish: {mode!r}")
    if mode == Mode.SCHEDULE and (at is None or at <= timezone.now()):
        raise PartnerError("choose a time in the future to schedule it")
    partner = item.partner
    full_text = bool(partner.full_text and item.content.strip())
    if full_text:
        # Images are downloaded before the transaction: a slow server holds no lock.
        body = bring_images_in(clean_body_html(item.content), partner)
    else:
        body = summary_body(item)
        mode = Mode.DRAFT
    with transaction.atomic():
        item = Item.objects.select_for_update().select_related("partner").get(pk=item.pk)
        if item.state != Item.State.NEW:
            raise PartnerStateError(
                f"“{item.title}” is {item.get_state_display().lower()} already."
            )
        article = Article(
            title=item.title,
            body=body,
            editor_excerpt="" if full_text else html.unescape(_plain(item.summary))[:1000],
            original_outlet=partner.name,
            original_url=item.link,
            canonical_url=item.link,
            licence=partner.licence,
            status=Article.Status.DRAFT,
        )
        if mode == Mode.NOW:
            article.status, article.published_at = Article.Status.PUBLISHED, timezone.now()
        elif mode == Mode.SCHEDULE:
            article.status, article.published_at = Article.Status.PUBLISHED, at
        publishing_services.save_article(
            article,
            authors=bylines_for(item.authors),
            topics=list(partner.topics.all()),
            by=by,
            note=f"Republished from {partner.name}",
        )
        item.mark_republished(article, by)
        item.save(update_fields=["state", "state_changed_at", "state_changed_by", "article"])
    notice = "" if full_text else SUMMARY_ONLY_NOTICE.format(partner=partner.name)
    return Republished(article, notice)


def _plain(fragment: str) -> str:
    from pressroom.publishing.html import html_to_text

    return html_to_text(fragment)


def summary_body(item: Item) -> str:
    summary = clean_body_html(item.summary) if "<" in item.summary else ""
    if not summary:
        summary = f"<p>{html.escape(item.summary)}</p>" if item.summary else ""
    link = (
        f'<p><a href="{html.escape(item.link)}">Read it at {html.escape(item.partner.name)}</a></p>'
        if item.link
        else ""
    )
    return summary + link


def bylines_for(names: Sequence[str]) -> list[Author]:
    """The partner's authors as our bylines: an author of that name if we have one, else new."""
    authors = []
    for name in dict.fromkeys(" ".join(n.split())[:200] for n in names if n.strip()):
        author = Author.objects.filter(name__iexact=name).first()
        if author is None:
            author = publishing_services.save_author(Author(name=name))
        authors.append(author)
    return authors


def bring_images_in(body: str, partner: Partner) -> str:
    """Copy the body's images into the media library, credited to the partner, and point the
    body at the copies. An image that cannot be fetched or is refused stays at its address."""
    sources: dict[str, str] = {}
    for tag in IMAGE_TAG.findall(body)[:MAX_IMAGES]:
        attributes = {
            name.lower(): html.unescape(value[1:-1]) for name, value in ATTRIBUTE.findall(tag)
        }
        src = attributes.get("src", "")
        if src.startswith(("http://", "https://")) and src not in sources:
            sources[src] = attributes.get("alt", "")
    if not sources:
        return body
    replacements: dict[str, str] = {}
    for url, answer in outbound.fetch_each(
        list(sources), max_bytes=settings.MEDIA_MAX_UPLOAD_BYTES
    ):
        if isinstance(answer, outbound.OutboundError) or not answer.ok:
            continue
        name = PurePosixPath(urlsplit(url).path).name or "image"
        try:
            item, _ = media_services.add_item_from_bytes(
                answer.content, name, alt_text=sources[url], credit=partner.name
            )
        except MediaError:
            continue
        replacements[url] = item.file.url
    for url, new in replacements.items():
        body = body.replace(f'src="{html.escape(url)}"', f'src="{html.escape(new)}"')
        body = body.replace(f'src="{url}"', f'src="{new}"')
    return body


def dismiss_item(item: Item, *, by: Any = None) -> Item:
    return _change_state(item, Item.dismiss, by)


def undo_dismiss_item(item: Item, *, by: Any = None) -> Item:
    return _change_state(item, Item.undo_dismiss, by)


@transaction.atomic
def _change_state(item: Item, change: Callable[[Item, Any], None], by: Any) -> Item:
    """Apply a state change to the item as it is now (locked: two editors act in turn)."""
    item = Item.objects.select_for_update().get(pk=item.pk)
    change(item, by)
    item.save(update_fields=["state", "state_changed_at", "state_changed_by"])
    return item
