"""Writes for partners: registering them, storing what their feeds bring, and the queue's
actions (republish now, schedule, open as draft, dismiss and undo). Each is one transaction;
republishing goes through publishing's one write path for articles."""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone

from pressroom.partners.images import ATTRIBUTE, remote_images
from pressroom.partners.models import (
    MAX_INTERVAL_MINUTES,
    MIN_INTERVAL_MINUTES,
    ArticleLink,
    Feed,
    Item,
    Partner,
    PartnerAuthor,
    PartnerError,
    PartnerStateError,
)
from pressroom.partners.parsing import link_key, title_key
from pressroom.partners.tasks import bring_partner_images_in
from pressroom.publishing import services as publishing_services
from pressroom.publishing.html import clean_body_html, html_to_text
from pressroom.publishing.models import Article, Author, Topic

logger = logging.getLogger(__name__)


def _check_feed_url(url: str) -> str:
    return _check_address(url, "a feed address", 1000)


def _check_address(url: str, what: str, longest: int) -> str:
    url = url.strip()
    if len(url) > longest:
        raise PartnerError(f"{what} is at most {longest} characters long")
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        raise PartnerError(f"{url[:200]!r} is not an http(s) address") from None
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
        site_url=_check_address(site_url, "a site address", 500)
        if site_url.strip()
        else _site_of(urls[0]),
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
            transaction.on_commit(
                lambda: bring_partner_images_in.enqueue(article.pk, partner.pk), robust=True
            )
    notice = "" if full_text else SUMMARY_ONLY_NOTICE.format(partner=partner.name)
    return Republished(article, notice)


def _plain(fragment: str) -> str:
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
