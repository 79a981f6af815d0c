"""Polling partners' feeds: fetching each through the outbound helper, and storing the
entries not seen before in the curation queue (known again by GUID, link or title)."""

from __future__ import annotations

import difflib
import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from pressroom.lib import outbound
from pressroom.partners.models import (
    Feed,
    Item,
    Partner,
    PartnerError,
    category_keys,
)
from pressroom.partners.parsing import Entry, FeedParseError, link_key, parse_feed, title_key

logger = logging.getLogger(__name__)

SUCCESS_FIELDS = ("status", "last_error", "failures", "last_fetched_at", "next_fetch_at")

# Titles this alike (difflib's ratio on folded titles) across partners are one piece told twice.
NEAR_TITLE_RATIO = 0.9


# How far back near-identical titles are looked for: a wire piece runs within days.
NEAR_TITLE_WINDOW = timedelta(days=14)


# Shorter folded titles ("Editorial", "Weekly roundup") are never taken for one piece.
DISTINCT_TITLE_LENGTH = 20


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
    # A title names one piece only when it is distinctive, recent and from another partner:
    # "Editorial", "(untitled)" or a partner's daily column recur under one title, and each is
    # a piece of its own (its GUID and link tell); the same piece from two partners is one.
    title_keys = set(
        Item.objects.filter(
            title_key__in=[
                folded
                for folded in (title_key(e.title) for e in usable)
                if len(folded) >= DISTINCT_TITLE_LENGTH
            ],
            fetched_at__gte=timezone.now() - NEAR_TITLE_WINDOW,
        )
        .exclude(partner=partner)
        .values_list("title_key", flat=True)
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
