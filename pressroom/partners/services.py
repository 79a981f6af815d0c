"""Writes for partners: registering them, storing what their feeds bring, and the queue's
actions (republish now, schedule, open as draft, dismiss and undo). Each is one transaction;
republishing goes through publishing's one write path for articles."""

from __future__ import annotations

import difflib
import hashlib
import html
import logging
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
from pressroom.partners.models import (
    MAX_INTERVAL_MINUTES,
    MIN_INTERVAL_MINUTES,
    ArticleLink,
    Feed,
    Item,
    Partner,
    PartnerAuthor,
    PartnerStateError,
    category_keys,
)
from pressroom.partners.parsing import Entry, FeedParseError, link_key, parse_feed, title_key
from pressroom.publishing import services as publishing_services
from pressroom.publishing.html import clean_body_html
from pressroom.publishing.models import Article, Author, Topic

logger = logging.getLogger(__name__)

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
    if not MIN_INTERVAL_MINUTES <= interval_minutes <= MAX_INTERVAL_MINUTES:
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


def fetch_feed(feed_id: int, near_titles: NearTitles | None = None) -> FetchResult:
    """Fetch one feed now (conditional GET) and put its new items in the queue. A failure, of
    any kind, is recorded on the feed (which then backs off) and returned, never raised: one
    feed's bug never stops the others. `near_titles`: the recent titles, shared by the feeds
    fetched one after the other (fetch_feeds)."""
    feed = Feed.objects.select_related("partner").get(pk=feed_id)
    result = FetchResult(feed.pk, feed.url)
    try:
        _fetch_and_store(feed, result, near_titles or NearTitles())
    except (outbound.OutboundError, FeedParseError, PartnerError) as error:
        _record_failure(feed, result, str(error))
    except Exception as error:
        # A bug of ours or of a library on this feed's bytes: kept for the admin and the log,
        # and the feed backs off like any failing one.
        logger.exception("Partner feed %s: unexpected error", feed.url)
        _record_failure(feed, result, f"unexpected error ({type(error).__name__}): {error}")
    return result


def fetch_feeds(feed_ids: Iterable[int]) -> list[FetchResult]:
    """Fetch these feeds one after the other, reading the recent titles once for all."""
    near_titles = NearTitles()
    return [fetch_feed(feed_id, near_titles) for feed_id in feed_ids]


def _fetch_and_store(feed: Feed, result: FetchResult, near_titles: NearTitles) -> None:
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
        # The usual answer: one UPDATE, no lock, no parsing.
        result.not_modified = True
        feed.record_success(etag="", last_modified="", not_modified=True)
        Feed.objects.filter(pk=feed.pk).update(**_fields(feed, SUCCESS_FIELDS))
        return
    if not response.ok:
        raise PartnerError(f"the server answered HTTP {response.status}")
    digest = hashlib.sha256(response.content).hexdigest()
    if digest == feed.content_hash:
        # The same bytes as last time from a server without conditional GET (or one whose
        # ETag changes with nothing else): as good as a 304, and not parsed again.
        result.not_modified = True
        feed.record_success(
            etag=response.etag, last_modified=response.last_modified, not_modified=False
        )
        feed.status = Feed.Status.NOT_MODIFIED
        Feed.objects.filter(pk=feed.pk).update(
            **_fields(feed, (*SUCCESS_FIELDS, "etag", "last_modified"))
        )
        return
    entries = parse_feed(
        response.content,
        url=response.url,
        content_type=response.headers.get("content-type", ""),
    )
    with transaction.atomic():
        feed = Feed.objects.select_for_update().select_related("partner").get(pk=feed.pk)
        added = store_entries(feed, entries[: settings.PARTNER_FEED_MAX_ITEMS], result, near_titles)
        feed.record_success(
            etag=response.etag, last_modified=response.last_modified, not_modified=False
        )
        feed.items_seen += result.new
        feed.content_hash = digest
        Feed.objects.filter(pk=feed.pk).update(
            **_fields(
                feed, (*SUCCESS_FIELDS, "etag", "last_modified", "items_seen", "content_hash")
            )
        )
    # Committed: the next feeds of this run see these titles too.
    near_titles.add(feed.partner_id, added)


SUCCESS_FIELDS = ("status", "last_error", "failures", "last_fetched_at", "next_fetch_at")


def _fields(feed: Feed, names: Iterable[str]) -> dict[str, Any]:
    return {name: getattr(feed, name) for name in names}


def _record_failure(feed: Feed, result: FetchResult, error: str) -> None:
    result.error = " ".join(error.split())[:1000]
    feed = Feed.objects.get(pk=feed.pk)  # as it is now: a failure in the middle changed none
    feed.record_failure(result.error)
    Feed.objects.filter(pk=feed.pk).update(**_fields(feed, SUCCESS_FIELDS))


def store_entries(
    feed: Feed,
    entries: Sequence[Entry],
    result: FetchResult,
    near_titles: NearTitles | None = None,
) -> list[str]:
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
    near_titles = near_titles or NearTitles()
    fresh: list[Item] = []
    for entry in usable:
        key = link_key(entry.link) if entry.link else ""
        folded = title_key(entry.title)
        if (
            entry.guid in guids
            or (key and key in link_keys)
            or (folded and folded in title_keys)
            or near_titles.match(folded, other_than=partner.pk)
        ):
            result.known += 1
            continue
        if not partner.accepts_authors(entry.authors):
            result.skipped += 1
            continue
        entry.resolve_links()
        # Known from here on: the same piece twice in one feed is one item.
        guids.add(entry.guid or entry.link)
        if key:
            link_keys.add(key)
        if len(folded) >= DISTINCT_TITLE_LENGTH:
            title_keys.add(folded)
        fresh.append(
            Item(
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
                category_keys=category_keys(entry.categories),
                published_at=entry.published_at,
            )
        )
    result.new_item_ids.extend(_insert_items(fresh, result))
    result.new = len(result.new_item_ids)
    stored = set(result.new_item_ids)
    return [item.title_key for item in fresh if item.pk in stored]


def _insert_items(items: list[Item], result: FetchResult) -> list[int]:
    """One INSERT for the new items; one by one only when a fetch of the same partner at the
    same time stored one of them first (the GUID constraint then tells which)."""
    if not items:
        return []
    try:
        with transaction.atomic():
            return [item.pk for item in Item.objects.bulk_create(items)]
    except IntegrityError:
        pass
    stored = []
    for item in items:
        item.pk = None
        try:
            with transaction.atomic():
                item.save(force_insert=True)
        except IntegrityError:
            result.known += 1
            continue
        stored.append(item.pk)
    return stored


class NearTitles:
    """Recent titles (of the last NEAR_TITLE_WINDOW, the newest 5,000), for finding a nearly
    identical one from another partner. Read once, when an entry first needs them (a fetch
    whose entries are all known reads none), and shared by the feeds a task fetches in a row.
    Only titles holding one of the entry's rarest words are compared (an index of words), and
    of those only the ones sharing most words reach difflib's ratio, so a fetch compares its
    entries with thousands of titles in well under a millisecond each."""

    LIMIT = 5000

    def __init__(self) -> None:
        self.titles: list[tuple[int, str, frozenset[str]]] | None = None
        self.postings: dict[str, list[int]] = {}  # word -> indexes in titles

    def _read(self) -> list[tuple[int, str, frozenset[str]]]:
        if self.titles is None:
            self.titles = []
            recent = (
                Item.objects.filter(fetched_at__gte=timezone.now() - NEAR_TITLE_WINDOW)
                .order_by("-fetched_at")
                .values_list("partner_id", "title_key")[: self.LIMIT]
            )
            for partner_id, title in recent:
                self._index(partner_id, title)
        return self.titles

    def _index(self, partner_id: int, title: str) -> None:
        assert self.titles is not None
        if not title:
            return
        words = frozenset(title.split())
        for word in words:
            self.postings.setdefault(word, []).append(len(self.titles))
        self.titles.append((partner_id, title, words))

    def add(self, partner_id: int, titles: Iterable[str]) -> None:
        if self.titles is not None:
            for title in titles:
                self._index(partner_id, title)

    def match(self, folded: str, *, other_than: int) -> bool:
        if len(folded) < DISTINCT_TITLE_LENGTH:
            return False
        titles = self._read()
        words = frozenset(folded.split())
        # Titles 90% alike share most of their words: 3 in 4 of the larger set, so at least
        # `need` of ours; such a title holds one of any len(words) - need + 1 of our words.
        need = (3 * len(words) + 3) // 4
        rarest = sorted(words, key=lambda word: len(self.postings.get(word, ())))
        candidates: set[int] = set()
        for word in rarest[: len(words) - need + 1]:
            candidates.update(self.postings.get(word, ()))
        matcher: difflib.SequenceMatcher[str] | None = None
        for index in candidates:
            partner_id, other, other_words = titles[index]
            if partner_id == other_than:
                continue
            if len(words & other_words) * 4 < max(len(words), len(other_words)) * 3:
                continue
            if matcher is None:
                matcher = difflib.SequenceMatcher(None, "", folded)  # seq2 is indexed once
            matcher.set_seq1(other)
            if matcher.ratio() >= NEAR_TITLE_RATIO:
                return True
        return False


def remember_article_links(articles: Sequence[Article]) -> None:
    """The link keys of these articles' original and canonical addresses, as now written (by
    publishing's services, through its articles_written signal, in their transaction)."""
    ArticleLink.objects.filter(article_id__in=[article.pk for article in articles]).delete()
    ArticleLink.objects.bulk_create(
        [
            ArticleLink(article_id=article.pk, link_key=key)
            for article in articles
            for key in {
                link_key(url) for url in (article.original_url, article.canonical_url) if url
            }
            if key
        ],
        ignore_conflicts=True,
    )


def fetch_partner(partner: Partner | None = None) -> list[FetchResult]:
    feeds = Feed.objects.filter(is_active=True)
    if partner is not None:
        feeds = feeds.filter(partner=partner)
    return fetch_feeds(feeds.values_list("pk", flat=True))


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
    full_text = _has_full_text(item)
    if full_text:
        # The partner's images stay at their addresses until the worker brings them into the
        # library (bring_images_in): nothing is downloaded inside the editor's request.
        body = clean_body_html(item.content)
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
            authors=bylines_for(partner, item.authors),
            topics=list(partner.topics.all()),
            by=by,
            note=f"Republished from {partner.name}",
        )
        item.mark_republished(article, by)
        item.save(update_fields=["state", "state_changed_at", "state_changed_by", "article"])
        if full_text and remote_images(article.body):
            from pressroom.partners.tasks import bring_partner_images_in

            transaction.on_commit(
                lambda: bring_partner_images_in.enqueue(article.pk, partner.pk), robust=True
            )
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


def bylines_for(partner: Partner, names: Sequence[str]) -> list[Author]:
    """The partner's authors as our bylines: each an author of their own for this partner
    (reused for their next piece), never one of ours who happens to share the name."""
    authors = []
    for name in dict.fromkeys(" ".join(n.split())[:200] for n in names if n.strip()):
        key = title_key(name)[:200] or name.casefold()
        known = PartnerAuthor.objects.filter(partner=partner, name_key=key).select_related("author")
        found = known.first()
        if found is None:
            author = publishing_services.save_author(
                Author(name=name, website=partner.site_url[:500])
            )
            found = PartnerAuthor.objects.create(partner=partner, name_key=key, author=author)
        authors.append(found.author)
    return authors


def remote_images(body: str) -> dict[str, str]:
    """The body's images on other sites (address -> alt text), at most MAX_IMAGES."""
    sources: dict[str, str] = {}
    for tag in IMAGE_TAG.findall(body):
        attributes = {
            name.lower(): html.unescape(value[1:-1]) for name, value in ATTRIBUTE.findall(tag)
        }
        src = attributes.get("src", "")
        if src.startswith(("http://", "https://")) and src not in sources:
            sources[src] = attributes.get("alt", "")
            if len(sources) == MAX_IMAGES:
                break
    return sources


def bring_images_in(article_id: int, partner_id: int) -> int:
    """Copy a republished article's partner images into the media library, credited to the
    partner, and point the body at the copies; returns how many. Run by the worker after the
    article is saved (never inside an editor's request). Safe to run twice: the library knows
    an image by its bytes, and an address already replaced is not in the body any more. An
    image that cannot be fetched, is refused, or lacks the alt text a public article needs
    stays at its address."""
    article = Article.objects.filter(pk=article_id).first()
    partner = Partner.objects.filter(pk=partner_id).first()
    if article is None or partner is None:
        return 0
    sources = remote_images(article.body)
    if not sources:
        return 0
    brought: dict[str, str] = {}
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
        brought[url] = item.file.url
    with transaction.atomic():
        # The article as it is now: the editor may have changed it meanwhile.
        article = Article.objects.select_for_update().get(pk=article_id)
        public = article.status in Article.PUBLIC_STATUSES
        body = article.body
        for url, new in brought.items():
            if public and not sources[url].strip():
                continue  # a public article shows no library image without alt text
            body = body.replace(f'src="{html.escape(url)}"', f'src="{html.escape(new)}"')
            body = body.replace(f'src="{url}"', f'src="{new}"')
        if body == article.body:
            return 0
        article.body = body
        publishing_services.save_article(article, note=f"Images brought in from {partner.name}")
    return len(brought)


def preview_body(item: Item) -> str:
    """Exactly the body republishing would write, for the review page; nothing in it is loaded
    from the partner's or anyone's site in the admin: each image, video, audio or embedded
    player shows as a link to its address."""
    body = clean_body_html(item.content) if _has_full_text(item) else summary_body(item)
    body = MEDIA_WRAPPER.sub("", body)
    return MEDIA_TAG.sub(_media_placeholder, body)


# What a browser would load by itself, and the tags around it that go with it in the preview.
MEDIA_TAG = re.compile(r"<(img|video|audio|iframe)\b[^>]*>", re.I)
MEDIA_WRAPPER = re.compile(r"<source\b[^>]*>|</?picture\b[^>]*>|</(?:video|audio|iframe)>", re.I)
MEDIA_LABELS = {"img": "Image", "video": "Video", "audio": "Audio", "iframe": "Embedded"}


def _media_placeholder(match: re.Match[str]) -> str:
    attributes = {
        name.lower(): html.unescape(value[1:-1]) for name, value in ATTRIBUTE.findall(match[0])
    }
    kind = MEDIA_LABELS[match[1].lower()]
    src, alt = attributes.get("src", ""), attributes.get("alt", "").strip()
    if kind == "Image":
        label = f"Image: {alt}" if alt else "Image without alt text"
    else:
        label = f"{kind}: {src}" if src else kind
    if not src.startswith(("http://", "https://")):
        return f'<span class="image-placeholder">[{html.escape(label)}]</span>'
    return (
        f'<a class="image-placeholder" href="{html.escape(src)}" rel="noopener noreferrer">'
        f"[{html.escape(label)}]</a>"
    )


def _has_full_text(item: Item) -> bool:
    return bool(item.partner.full_text and item.content.strip())


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
