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

from datetime import datetime
from html import escape

from django.conf import settings
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from pressroom.media.rendering import picture_html
from pressroom.publishing.models import Article


def _local(value: datetime) -> datetime:
    """What the template engine does to a datetime before a filter sees it
    (`expects_localtime`): the current time zone."""
    return timezone.localtime(value) if timezone.is_aware(value) else value


def _long_date(value: datetime) -> str:
    # Imported here: the template library imports this module.
    from pressroom.publishing.templatetags.publishing import long_date

    return long_date(_local(value))


def _long_date_time(value: datetime) -> str:
    from pressroom.publishing.templatetags.publishing import long_date_time

    return long_date_time(_local(value))


def head_tags(article: Article, json_ld: str) -> SafeString:
    """The article's Open Graph times and tags, its JSON-LD (`json_ld`, already safe) and the
    embeds' script when the body has embeds."""
    published = (
        f'<meta property="article:published_time" content="{_local(article.published_at).isoformat()}">'
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
        f'<meta property="article:modified_time" content="{_local(article.updated_at).isoformat()}">\n'
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
    published = ""
    if article.published_at:
        at = _local(article.published_at)
        published = f'<time datetime="{at.isoformat()}">{_long_date(at)}</time>'
    updated = ""
    if notes := article.shown_corrections:
        last = _local(notes[-1].noted_at)
        updated = (
            f' · <a href="#corrections">Updated <time datetime="{last.isoformat()}">'
            f"{_long_date_time(last)}</time></a>"
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
    items = []
    for note in notes:
        noted_at = _local(note.noted_at)
        items.append(
            f'<p id="correction-{int(note.pk)}"><strong>{escape(note.get_kind_display())}, '
            f'<time datetime="{noted_at.isoformat()}">{_long_date(noted_at)}</time>:</strong> '
            f"{escape(note.text)}</p>"
        )
    every = escape(reverse("publishing:correction-list"))
    return mark_safe(
        '\n  <section class="corrections" id="corrections" aria-labelledby="corrections-heading">\n'
        '    <h2 id="corrections-heading">Corrections and updates</h2>\n'
        f"    {''.join(items)}\n"
        f'    <p class="corrections-policy"><a href="{every}">Every correction we have made</a></p>\n'
        "  </section>\n  "
    )


def share_list(article: Article) -> SafeString:
    """Plain share links (`share_links`): each opens the service's own page, nothing loads."""
    from pressroom.publishing.templatetags.publishing import share_links

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
