"""The parts of an article page built in Python, as `teaser_items` builds teasers.

Readers from search and social land on old articles no cache holds, so an article page's
render is paid on nearly every visit (issue 14, point 7). Through the template engine, its
head tags, kicker, byline, lead figure, corrections, share links and topic list were ~140
nodes and ~120 variable look-ups a render, each a few microseconds. Here each part is one
function that writes the markup the template wrote, byte for byte
(publishing/tests/test_article_markup.py renders both and compares them). Every value from the
database goes through `escape` (what autoescaping does) before it is placed in the markup;
nothing from the database is marked safe as it is.

`publishing/article_detail.html` calls these inside its documented blocks, so a theme still
replaces any of them with a block of its own (docs/editing.md).
"""

from __future__ import annotations

import functools
from datetime import datetime, tzinfo
from html import escape
from urllib.parse import quote

from django.conf import settings
from django.templatetags.static import static
from django.utils import timezone, translation
from django.utils.dates import MONTHS
from django.utils.safestring import SafeString, mark_safe

from pressroom.media.rendering import picture_html
from pressroom.publishing.links import fixed_url
from pressroom.publishing.models import Article


@functools.lru_cache(maxsize=16)
def month_names(language: str | None) -> dict[int, str]:
    """Month names, escaped, in `language` (the active one): lazy translations are costly to
    evaluate, twenty times a page."""
    return {number: escape(str(name)) for number, name in MONTHS.items()}


class _Dates:
    """Dates as the template filters `iso_time`, `long_date` and `long_date_time` write them,
    in the current time zone and language (read once per part of the page, not per date)."""

    def __init__(self) -> None:
        self.zone: tzinfo = timezone.get_current_timezone()
        self.months = month_names(translation.get_language())

    def local(self, value: datetime) -> datetime:
        # What the engine does before a filter that `expects_localtime` sees the value.
        return value.astimezone(self.zone) if timezone.is_aware(value) else value

    def long_date(self, local: datetime) -> str:
        return f"{local.day} {self.months[local.month]} {local.year:04d}"

    def long_date_time(self, local: datetime) -> str:
        return f"{self.long_date(local)}, {local.hour:02d}:{local.minute:02d}"


def head_tags(article: Article, json_ld: str) -> SafeString:
    """The article's Open Graph times and tags, its JSON-LD (`json_ld`, already safe) and the
    embeds' script when the body has embeds."""
    dates = _Dates()
    published = (
        f'<meta property="article:published_time" content="{dates.local(article.published_at).isoformat()}">'
        if article.published_at
        else ""
    )
    tags = "".join(
        f'<meta property="article:tag" content="{escape(topic.name)}">'
        for topic in article.shown_topics
    )
    embeds = (
        f'<script src="{escape(static("publishing/embeds.js"))}" defer></script>'
        if "<iframe" in article.body
        else ""
    )
    return mark_safe(
        f"{published}\n"
        f'<meta property="article:modified_time" content="{dates.local(article.updated_at).isoformat()}">\n'
        f"{tags}\n{json_ld}\n{embeds}"
    )


def kicker(article: Article) -> SafeString:
    """The first topic (by name) above the title."""
    topics = article.shown_topics
    if not topics:
        return SafeString("")
    first = topics[0]
    return mark_safe(
        f'<p class="kicker"><a href="{escape(first.get_absolute_url())}">{escape(first.name)}</a></p>'
    )


def byline(article: Article) -> SafeString:
    """Authors' photos, their names linked, the date and, after a correction, when it was last
    updated (a link to the corrections)."""
    authors = article.bylines
    photos = ""
    names = ""
    if authors:
        photos = (
            '<p class="byline-photos">'
            + "".join(
                picture_html(author.photo, "square", alt="", css_class="author-photo")
                for author in authors
                if author.photo
            )
            + "</p>"
        )
        names = (
            "By "
            + ", ".join(
                f'<a href="{escape(author.get_absolute_url())}">{escape(author.name)}</a>'
                for author in authors
            )
            + " · "
        )
    dates = _Dates()
    published = ""
    if article.published_at:
        at = dates.local(article.published_at)
        published = f'<time datetime="{at.isoformat()}">{dates.long_date(at)}</time>'
    updated = ""
    if notes := article.shown_corrections:
        last = dates.local(notes[-1].noted_at)
        updated = (
            f' · <a href="#corrections">Updated <time datetime="{last.isoformat()}">'
            f"{dates.long_date_time(last)}</time></a>"
        )
    return mark_safe(
        '\n    <div class="byline">\n'
        f"      {photos}\n"
        '      <p class="meta">\n'
        f"        {names}\n"
        f"        {published}\n"
        f"        {updated}\n"
        "      </p>\n"
        "    </div>\n    "
    )


def lead_figure(article: Article) -> SafeString:
    """The lead image from the library with its caption and credit; an imported lead image's
    address; or nothing."""
    image = article.lead_image
    if image:
        caption = ""
        if image.caption or image.credit:
            credit = f' <span class="credit">{escape(image.credit)}</span>' if image.credit else ""
            caption = f"<figcaption>{escape(image.caption)}{credit}</figcaption>"
        picture = picture_html(image, "lead", css_class="lead-image")
        return mark_safe(f'<figure class="lead-figure">{picture}{caption}</figure>\n  ')
    if article.lead_image_url:
        return mark_safe(
            f'<figure class="lead-figure"><img class="lead-image" '
            f'src="{escape(article.lead_image_url)}" alt="{escape(article.lead_image_alt)}">'
            "</figure>"
        )
    return SafeString("")


def corrections(article: Article) -> SafeString:
    """The dated corrections and updates readers see, oldest first, and a link to every
    correction the outlet has made; nothing when there is none."""
    notes = article.shown_corrections
    if not notes:
        return SafeString("")
    dates = _Dates()
    items = []
    for note in notes:
        noted_at = dates.local(note.noted_at)
        items.append(
            f'<p id="correction-{int(note.pk)}"><strong>{escape(note.kind_label)}, '
            f'<time datetime="{noted_at.isoformat()}">{dates.long_date(noted_at)}</time>:'
            f"</strong> {escape(note.text)}</p>"
        )
    every = escape(fixed_url("publishing:correction-list"))
    return mark_safe(
        '\n  <section class="corrections" id="corrections" aria-labelledby="corrections-heading">\n'
        '    <h2 id="corrections-heading">Corrections and updates</h2>\n'
        f"    {''.join(items)}\n"
        f'    <p class="corrections-policy"><a href="{every}">Every correction we have made</a></p>\n'
        "  </section>\n  "
    )


def share_links(title: str, url: str) -> list[tuple[str, str]]:
    """(label, address) of plain share links: each opens the service's own share page, so the
    article page loads nothing from any of them."""
    text, address = quote(title, safe=""), quote(url, safe="")
    return [
        ("Email", f"mailto:?subject={text}&body={address}"),
        ("Bluesky", f"https://bsky.app/intent/compose?text={text}%20{address}"),
        ("Facebook", f"https://www.facebook.com/sharer/sharer.php?u={address}"),
        ("WhatsApp", f"https://wa.me/?text={text}%20{address}"),
        ("LinkedIn", f"https://www.linkedin.com/sharing/share-offsite/?url={address}"),
    ]


def share_list(article: Article) -> SafeString:
    """The share links as the article's footer lists them."""
    links = share_links(article.title, settings.SITE_URL + article.get_absolute_url())
    items = "".join(
        f'<li><a href="{escape(address)}" rel="nofollow noopener">{escape(label)}</a></li>'
        for label, address in links
    )
    return mark_safe(
        '\n    <h2 class="visually-hidden">Share</h2>\n    \n'
        f'    <ul class="share-links" aria-label="Share this article">{items}</ul>\n    '
    )


def topic_list(article: Article) -> SafeString:
    """Every topic of the article, linked, at its foot."""
    topics = article.shown_topics
    if not topics:
        return SafeString("")
    items = "".join(
        f'<li><a href="{escape(topic.get_absolute_url())}">{escape(topic.name)}</a></li>'
        for topic in topics
    )
    return mark_safe(
        f'\n    <h2 class="visually-hidden">Topics</h2>\n    <ul class="tags">{items}</ul>\n    '
    )
