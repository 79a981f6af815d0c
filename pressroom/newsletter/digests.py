"""Building a day's digest (once per date, whoever asks) and rendering it per topic selection."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from html import unescape
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, mailers
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.dateformat import format as format_date

from pressroom.lib.email import render_email
from pressroom.lib.pagecache import forget_cached_pages
from pressroom.media.rendering import current_file_addresses, image_file, images_prefetch
from pressroom.newsletter import tokens
from pressroom.newsletter.models import Delivery, Digest, DigestArticle, DigestEdition
from pressroom.publishing.html import html_to_text
from pressroom.publishing.models import Article, ArticleTopic, Topic
from pressroom.site.current import current_site

logger = logging.getLogger(__name__)

DIGEST_TEMPLATE = "newsletter/emails/digest"
ONE_OFF_TEMPLATE = "newsletter/emails/one_off"
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


def digest_waits_for_note(now: datetime | None = None) -> bool:
    """Whether today's digest waits for the editor's note (DIGEST_WAIT_FOR_NOTE_UNTIL): set, no
    note written for today yet, and the cutoff not reached. The wait is bounded by the cutoff."""
    cutoff = settings.DIGEST_WAIT_FOR_NOTE_UNTIL
    if cutoff is None:
        return False
    now = now or timezone.now()
    day = digest_date(now)
    hour, minute = cutoff
    deadline = scheduled_send_time(day).replace(hour=hour, minute=minute)
    if now >= deadline:
        return False
    return not DigestEdition.objects.filter(date=day).exclude(note="").exists()


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
    """What a worker needs to render any recipient's copy of a send, loaded once."""

    digest_id: int
    subject: str
    date: date
    archive_url: str
    entries: list[DigestEntry]
    section_names: dict[int, str]
    kind: str = Digest.Kind.DIGEST
    body_html: str = ""  # a one-off send's text (cleaned when saved)
    note: list[str] = field(default_factory=list)  # the editor's note, as paragraphs
    campaign_block: bool = True
    ref: str = ""  # the campaign tag on every link to the site

    @property
    def is_digest(self) -> bool:
        return self.kind == Digest.Kind.DIGEST

    def entries_for(self, topic_ids: frozenset[int] | None) -> list[DigestEntry]:
        if topic_ids is None:
            return self.entries
        return [entry for entry in self.entries if entry.topic_ids & topic_ids]

    def has_content_for(self, topic_ids: frozenset[int] | None) -> bool:
        """Whether a reader with these topics gets anything (a one-off send: always)."""
        return not self.is_digest or bool(self.entries_for(topic_ids))

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
        # Only a digest or a public send has a web page; a private send's would be a 404.
        archive_url=(
            f"{settings.SITE_URL}{digest.get_absolute_url()}"
            if digest.is_digest or digest.is_public
            else ""
        ),
        entries=entries,
        section_names={row.section.pk: row.section.name for row in rows if row.section},
        kind=digest.kind,
        body_html=email_body(digest.body),
        note=note_paragraphs(digest.editor_note),
        campaign_block=digest.with_campaign_block,
        ref=digest.campaign_ref,
    )


_LOCAL_ADDRESS = re.compile(r'(\s(?:src|href)=")(/(?!/)[^"]*)"')
_SRCSET = re.compile(r'(\ssrcset=")([^"]*)"')


def email_body(body: str) -> str:
    """A one-off send's body as mail clients need it: library files at their current address
    (a replaced file is deleted from storage) and every address on the site absolute."""
    [body] = current_file_addresses([body or ""])
    site = settings.SITE_URL.rstrip("/")
    body = _LOCAL_ADDRESS.sub(lambda found: f'{found.group(1)}{site}{found.group(2)}"', body)

    def absolute_candidates(found: re.Match[str]) -> str:
        candidates = [part.strip() for part in found.group(2).split(",")]
        fixed = [
            f"{site}{part}" if part.startswith("/") and not part.startswith("//") else part
            for part in candidates
        ]
        return f'{found.group(1)}{", ".join(fixed)}"'

    return _SRCSET.sub(absolute_candidates, body)


def note_paragraphs(note: str) -> list[str]:
    return [" ".join(part.split()) for part in re.split(r"\n\s*\n", note or "") if part.strip()]


def _site_url_pattern() -> re.Pattern[str]:
    return re.compile(re.escape(settings.SITE_URL.rstrip("/")) + r"(?:/[^\s\"'<>]*)?")


def tag_links(text: str, ref: str, *, html: bool) -> str:
    """Every link to the site gets `ref=<the send's tag>`: visits and gifts are then counted per
    send (pressroom.newsletter.visits), and no link says who the reader is. In HTML only href
    attributes are tagged (an image is not a visit); personal links are still markers here."""
    if not ref:
        return text
    joiner = "&amp;" if html else "&"
    pattern = _site_url_pattern()

    def tagged(url: str) -> str:
        # Punctuation after an address in running text is not part of it.
        stripped = url.rstrip(".,;:!?)")
        if stripped != url:
            return tagged(stripped) + url[len(stripped) :]
        address, hash_mark, fragment = url.partition("#")
        if "ref=" in address:
            return url
        separator = joiner if "?" in address else "?"
        return f"{address}{separator}ref={ref}{hash_mark}{fragment}"

    if not html:
        return pattern.sub(lambda found: tagged(found.group(0)), text)
    return re.sub(
        r'href="([^"]*)"',
        lambda found: (
            f'href="{tagged(found.group(1))}"'
            if pattern.fullmatch(found.group(1))
            else found.group(0)
        ),
        text,
    )


def render_digest(
    content: DigestContent,
    entries: list[DigestEntry],
    *,
    preferences_url: str = PREFERENCES_MARKER,
    unsubscribe_url: str = UNSUBSCRIBE_MARKER,
) -> tuple[str, str, str]:
    """(subject, text, html) for one topic selection; personal links default to markers."""
    subject, text, html = render_email(
        DIGEST_TEMPLATE if content.is_digest else ONE_OFF_TEMPLATE,
        {
            "subject": content.subject,
            "date": content.date,
            "sections": content.sections(entries),
            "article_count": len(entries),
            "archive_url": content.archive_url,
            "preferences_url": preferences_url,
            "unsubscribe_url": unsubscribe_url,
            "note": content.note,
            "kind": content.kind,
            "body_html": content.body_html,
            "body_text": _body_text(content.body_html),
            "campaign_block": content.campaign_block,
        },
    )
    return (
        subject,
        tag_links(text, content.ref, html=False),
        tag_links(html, content.ref, html=True),
    )


_BLOCK_END = re.compile(r"</(p|h[1-6]|li|blockquote|figure|pre)>|<br\s*/?>", re.IGNORECASE)
_LINK = re.compile(r'<a\s[^>]*href="([^"]+)"[^>]*>(.*?)</a>', re.IGNORECASE | re.DOTALL)


def _body_text(body_html: str) -> str:
    """The plain-text part of a one-off send: paragraphs apart, each link's address after it."""
    if not body_html:
        return ""
    with_links = _LINK.sub(
        lambda found: f"{found.group(2)} ({unescape(found.group(1))})", body_html
    )
    blocks = _BLOCK_END.sub("\n\n", with_links)
    paragraphs = [html_to_text(block) for block in blocks.split("\n\n")]
    return "\n\n".join(paragraph for paragraph in paragraphs if paragraph)


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
    existing = Digest.objects.digests().filter(date=day).first()
    if existing:
        return existing, False
    previous = Digest.objects.digests().filter(date__lt=day).order_by("-date").first()
    since = previous.covers_until if previous else now - timedelta(hours=24)
    articles = list(
        Article.objects.published(now)
        .filter(published_at__gt=since)
        .newest_first()
        .only("id", "title")[: settings.DIGEST_MAX_ARTICLES]
    )
    edition = DigestEdition.objects.filter(date=day).first()
    lead = (
        Article.objects.published(now)
        .only("id", "title")
        .filter(pk=edition.lead_article_id)
        .first()
        if edition and edition.lead_article_id
        else None
    )
    if lead is not None:
        # The editor's choice goes first, whether or not it is among the day's articles.
        articles = [lead, *(article for article in articles if article.pk != lead.pk)]
        articles = articles[: settings.DIGEST_MAX_ARTICLES]
    else:
        lead = None
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
            # The chosen lead article (and so its section) first.
            not (lead is not None and pair[1].pk == lead.pk),
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
                editor_note=edition.note if edition else "",
                lead_article=lead,
            )
            DigestArticle.objects.bulk_create(
                DigestArticle(
                    digest=digest, article=article, section=primary.get(article.pk), position=i
                )
                for i, (_, article) in enumerate(ordered)
            )
    except IntegrityError:
        # Another worker built it a moment ago.
        return Digest.objects.digests().get(date=day), False
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


def render_preview(digest: Digest) -> tuple[str, str, str]:
    """(subject, text, html) as every reader gets it, personal links leading to the signup page
    (the admin's preview and the test email)."""
    content = load_content(digest)
    signup_url = tokens.absolute(reverse("newsletter:signup"))
    return render_digest(
        content, content.entries, preferences_url=signup_url, unsubscribe_url=signup_url
    )


def send_test_digest(digest: Digest, to: str) -> None:
    """The full send to one address (an editor checking it); personal links lead to signup."""
    subject, text, html = render_preview(digest)
    message = EmailMultiAlternatives(
        subject=f"[Test] {subject}",
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        connection=mailers["bulk"],
    )
    message.attach_alternative(html, "text/html")
    message.send()
