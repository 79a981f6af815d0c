"""Building a day's digest (once per date, whoever asks) and rendering it per topic selection."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.dateformat import format as format_date

from pressroom.lib.email import render_email, send_email
from pressroom.lib.pagecache import forget_cached_pages
from pressroom.media.rendering import image_file, images_prefetch
from pressroom.newsletter import tokens
from pressroom.newsletter.models import Delivery, Digest, DigestArticle
from pressroom.publishing.models import Article, ArticleTopic, Topic
from pressroom.site.current import current_site

logger = logging.getLogger(__name__)

DIGEST_TEMPLATE = "newsletter/emails/digest"
# Personal links are rendered as these markers once per topic selection, then substituted.
PREFERENCES_MARKER = "__PRESSROOM_PREFERENCES_URL__"
UNSUBSCRIBE_MARKER = "__PRESSROOM_UNSUBSCRIBE_URL__"


def digest_timezone() -> ZoneInfo:
    return ZoneInfo(settings.DIGEST_TIMEZONE)


def digest_date(now: datetime | None = None) -> date:
    return (now or timezone.now()).astimezone(digest_timezone()).date()


def scheduled_send_time(day: date) -> datetime:
    hour, minute = settings.DIGEST_SEND_AT
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=digest_timezone())


# The thumbnail's width in the email, in CSS pixels; the file is the 400x300 crop, sharp on
# screens with two or more device pixels per CSS pixel.
THUMBNAIL_WIDTH = 160


@dataclass(frozen=True)
class DigestImage:
    """A thumbnail in the email: an absolute URL (mail clients fetch it from the site), the
    size it is shown at, and its alt text."""

    url: str
    width: int
    height: int
    alt: str


@dataclass(frozen=True)
class DigestEntry:
    article_id: int
    title: str
    excerpt: str
    url: str
    topic_ids: frozenset[int]
    section_id: int | None
    image: DigestImage | None = None


def _thumbnail(article: Article) -> DigestImage | None:
    """The lead image's 4:3 crop in JPEG/PNG (mail clients do not all read WebP or AVIF)."""
    lead = article.lead_image
    found = image_file(lead, "thumb-400")
    if lead is None or found is None or not found.width or not found.height:
        return None
    height = max(1, round(THUMBNAIL_WIDTH * found.height / found.width))
    alt = "" if lead.is_decorative else lead.alt_text
    return DigestImage(found.url, THUMBNAIL_WIDTH, height, alt)


@dataclass(frozen=True)
class Section:
    name: str
    entries: list[DigestEntry]


@dataclass(frozen=True)
class DigestContent:
    """What a worker needs to render any recipient's copy of a digest, loaded once."""

    digest_id: int
    subject: str
    date: date
    archive_url: str
    entries: list[DigestEntry]
    section_names: dict[int, str]

    def entries_for(self, topic_ids: frozenset[int] | None) -> list[DigestEntry]:
        if topic_ids is None:
            return self.entries
        return [entry for entry in self.entries if entry.topic_ids & topic_ids]

    def sections(self, entries: list[DigestEntry]) -> list[Section]:
        """Entries grouped by primary topic, sections in order of their first entry."""
        grouped: dict[int | None, list[DigestEntry]] = {}
        for entry in entries:
            grouped.setdefault(entry.section_id, []).append(entry)
        return [
            Section(self.section_names.get(key, "More news") if key else "More news", items)
            for key, items in sorted(grouped.items(), key=lambda item: item[0] is None)
        ]


def load_content(digest: Digest) -> DigestContent:
    rows_query = DigestArticle.objects.filter(digest=digest).select_related("article", "section")
    if settings.DIGEST_THUMBNAILS:
        rows_query = rows_query.prefetch_related(
            images_prefetch("article__lead_image", ("thumb-400",))
        )
    rows = list(rows_query.order_by("position"))
    topic_links: dict[int, set[int]] = {}
    for article_id, topic_id in ArticleTopic.objects.filter(
        article_id__in=[row.article_id for row in rows]
    ).values_list("article_id", "topic_id"):
        topic_links.setdefault(article_id, set()).add(topic_id)
    entries = [
        DigestEntry(
            article_id=row.article_id,
            title=row.article.title,
            excerpt=row.article.excerpt,
            url=f"{settings.SITE_URL}{row.article.get_absolute_url()}",
            topic_ids=frozenset(topic_links.get(row.article_id, ())),
            section_id=row.section_id,
            image=_thumbnail(row.article) if settings.DIGEST_THUMBNAILS else None,
        )
        for row in rows
    ]
    return DigestContent(
        digest_id=digest.pk,
        subject=digest.subject,
        date=digest.date,
        archive_url=f"{settings.SITE_URL}{digest.get_absolute_url()}",
        entries=entries,
        section_names={row.section.pk: row.section.name for row in rows if row.section},
    )


def render_digest(
    content: DigestContent,
    entries: list[DigestEntry],
    *,
    preferences_url: str = PREFERENCES_MARKER,
    unsubscribe_url: str = UNSUBSCRIBE_MARKER,
) -> tuple[str, str, str]:
    """(subject, text, html) for one topic selection; personal links default to markers."""
    return render_email(
        DIGEST_TEMPLATE,
        {
            "subject": content.subject,
            "date": content.date,
            "sections": content.sections(entries),
            "article_count": len(entries),
            "archive_url": content.archive_url,
            "preferences_url": preferences_url,
            "unsubscribe_url": unsubscribe_url,
        },
    )


def _primary_topics(article_ids: list[int]) -> dict[int, Topic]:
    """Each article's first topic (the one it was filed under first)."""
    primary: dict[int, Topic] = {}
    links = ArticleTopic.objects.filter(article_id__in=article_ids).select_related("topic")
    for link in links.order_by("id"):
        primary.setdefault(link.article_id, link.topic)
    return primary


def _subject(day: date, lead_title: str) -> str:
    when = format_date(day, "j F Y")
    subject = f"{current_site().name} Daily Digest, {when}: {lead_title}"
    return subject if len(subject) <= 250 else subject[:249] + "…"


def create_digest(
    now: datetime | None = None, *, send_after: datetime | None = None
) -> tuple[Digest | None, bool]:
    """Create today's digest unless it exists: returns (digest, created).

    Gathers what was published since the previous digest (the first one: the last 24 hours).
    Nothing new: no digest, (None, False). Safe to call from several machines at once: the date
    is unique, and the loser of the race gets the winner's digest. Deliveries come next, from
    `tasks.build_and_queue_digest`.
    """
    now = now or timezone.now()
    day = digest_date(now)
    existing = Digest.objects.filter(date=day).first()
    if existing:
        return existing, False
    previous = Digest.objects.filter(date__lt=day).order_by("-date").first()
    since = previous.covers_until if previous else now - timedelta(hours=24)
    articles = list(
        Article.objects.published(now)
        .filter(published_at__gt=since)
        .newest_first()
        .only("id", "title")[: settings.DIGEST_MAX_ARTICLES]
    )
    if not articles:
        logger.info("Nothing published since %s: no digest for %s", since, day)
        return None, False
    primary = _primary_topics([article.pk for article in articles])
    # Sections in the order of their newest article; newest first inside each section.
    section_order: dict[int | None, int] = {}
    for article in articles:
        topic = primary.get(article.pk)
        section_order.setdefault(topic.pk if topic else None, len(section_order))
    ordered = sorted(
        enumerate(articles),
        key=lambda pair: (
            section_order[primary[pair[1].pk].pk if pair[1].pk in primary else None],
            pair[0],
        ),
    )
    try:
        with transaction.atomic():
            digest = Digest.objects.create(
                date=day,
                subject=_subject(day, articles[0].title),
                covers_from=since,
                covers_until=now,
                send_after=send_after,
            )
            DigestArticle.objects.bulk_create(
                DigestArticle(
                    digest=digest, article=article, section=primary.get(article.pk), position=i
                )
                for i, (_, article) in enumerate(ordered)
            )
    except IntegrityError:
        # Another worker built it a moment ago.
        return Digest.objects.get(date=day), False
    # /digest/archive/ is a cached public page: announce the new digest once it is committed.
    transaction.on_commit(forget_cached_pages)
    return digest, True


def batch_numbers(digest: Digest) -> list[int]:
    return list(
        digest.deliveries.filter(state=Delivery.State.PENDING)
        .values_list("batch", flat=True)
        .distinct()
        .order_by("batch")
    )


def send_test_digest(digest: Digest, to: str) -> None:
    """The full digest to one address (an editor checking it); personal links lead to signup."""
    content = load_content(digest)
    signup_url = tokens.absolute(reverse("newsletter:signup"))
    context = {
        "subject": f"[Test] {content.subject}",
        "date": content.date,
        "sections": content.sections(content.entries),
        "article_count": len(content.entries),
        "archive_url": content.archive_url,
        "preferences_url": signup_url,
        "unsubscribe_url": signup_url,
    }
    send_email(to, DIGEST_TEMPLATE, context, mailer="bulk")
