import functools
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from html import escape

from django import template
from django.conf import settings
from django.urls import get_script_prefix
from django.utils import timezone, translation
from django.utils.safestring import SafeString, mark_safe

from pressroom.lib.pagecache import ContentMemo
from pressroom.media.models import MediaItem
from pressroom.media.rendering import (
    image_file,
    picture_html,
    structured_data_images,
)
from pressroom.publishing import article_markup
from pressroom.publishing.embeds import click_to_load
from pressroom.publishing.hooks import article_foot_html
from pressroom.publishing.links import slug_url_builder
from pressroom.publishing.listings import HomeFront, Teaser, teaser_images
from pressroom.publishing.models import Article, Page
from pressroom.site.current import current_site, publisher_data

register = template.Library()

# What json_script escapes: nothing in the data can close the <script> or open a comment.
SCRIPT_SAFE = {ord(">"): "\\u003E", ord("<"): "\\u003C", ord("&"): "\\u0026"}


@register.simple_tag
def article_json_ld(article: Article) -> SafeString:
    """A schema.org NewsArticle for search engines, safe to embed in a <script>."""
    url = settings.SITE_URL + article.get_absolute_url()
    data = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": article.title[:110],
        "description": article.excerpt,
        "url": url,
        "mainEntityOfPage": article.effective_canonical_url or url,
        "dateModified": article.updated_at.isoformat(),
        "author": [
            {
                "@type": "Person",
                "name": author.name,
                "url": settings.SITE_URL + author.get_absolute_url(),
            }
            for author in article.bylines
        ],
        "publisher": publisher_data(current_site()),
        "keywords": [topic.name for topic in article.shown_topics],
    }
    if article.published_at:
        data["datePublished"] = article.published_at.isoformat()
    images = structured_data_images(article.lead_image)
    if images:
        # 16:9, 4:3 and 1:1 crops around the focal point: the ratios search engines ask for.
        data["image"] = [
            {"@type": "ImageObject", "url": image.url, "width": image.width, "height": image.height}
            for image in images
        ]
    elif article.lead_image_url:
        data["image"] = [article.lead_image_url]
    if corrections := article.shown_corrections:
        data["correction"] = [
            {
                "@type": "CorrectionComment",
                "text": f"{note.kind_label}: {note.text}",
                "datePublished": note.noted_at.isoformat(),
            }
            for note in corrections
        ]
    if article.is_republished:
        data["isBasedOn"] = article.original_url or article.original_outlet
    payload = json.dumps(data, ensure_ascii=False).translate(SCRIPT_SAFE)
    return mark_safe(f'<script type="application/ld+json">{payload}</script>')


@dataclass(frozen=True)
class SocialImage:
    """What link previews (Open Graph, Twitter cards) show for a page."""

    url: str
    width: int = 0
    height: int = 0
    mime_type: str = ""
    alt: str = ""


@register.simple_tag
def article_social_image(article: Article) -> SocialImage | None:
    """The lead image's 1200x630 card; an imported lead image's address; else the site-wide
    default (the site settings' share image, else SOCIAL_IMAGE_DEFAULT_URL); None when there
    is none of them."""
    lead = article.lead_image
    card = image_file(lead, "social")
    if lead is not None and card is not None:
        alt = "" if lead.is_decorative else lead.alt_text
        return SocialImage(card.url, card.width, card.height, card.mime_type, alt)
    if article.lead_image_url:
        return SocialImage(article.lead_image_url, alt=article.lead_image_alt)
    default = current_site().share_image
    if default is not None:
        return SocialImage(
            default.url, default.width, default.height, default.mime_type, default.alt
        )
    return None


@register.simple_tag
def article_social_tags(article: Article) -> SafeString:
    """The Open Graph and Twitter image tags of `article_social_image`; empty when there is no
    image at all (the page then shows the site's default block)."""
    card = article_social_image(article)
    if card is None:
        return SafeString("")
    url = escape(card.url)
    tags = f'<meta property="og:image" content="{url}">'
    if card.width:
        tags += (
            f'<meta property="og:image:width" content="{int(card.width)}">'
            f'<meta property="og:image:height" content="{int(card.height)}">'
        )
    if card.mime_type:
        tags += f'<meta property="og:image:type" content="{escape(card.mime_type)}">'
    alt = escape(card.alt)
    if alt:
        tags += f'<meta property="og:image:alt" content="{alt}">'
    tags += (
        '\n<meta name="twitter:card" content="summary_large_image">'
        f'<meta name="twitter:image" content="{url}">'
    )
    if alt:
        tags += f'<meta name="twitter:image:alt" content="{alt}">'
    return mark_safe(tags)


_month_names = article_markup.month_names


@register.filter(expects_localtime=True)
def iso_time(value: datetime | None) -> str:
    """What `|date:'c'` gives (ISO 8601, in the current time zone), without Django's format
    machinery: the date filter cost an article page a twentieth of its render."""
    return value.isoformat() if value else ""


@register.filter(expects_localtime=True)
def long_date(value: datetime | None) -> SafeString:
    """What `|date:"j F Y"` gives ("5 March 2024", the month in the active language)."""
    if not value:
        return SafeString("")
    month = _month_names(translation.get_language())[value.month]  # escaped
    return mark_safe(f"{value.day} {month} {value.year:04d}")


@register.filter(expects_localtime=True)
def long_date_time(value: datetime | None) -> SafeString:
    """What `|date:"j F Y, H:i"` gives ("5 March 2024, 09:30")."""
    if not value:
        return SafeString("")
    return mark_safe(f"{long_date(value)}, {value.hour:02d}:{value.minute:02d}")


# Each teaser's markup, kept until content changes: a correction, a renamed author or anything
# else readers see bumps the content generation. Twenty teasers were a seventh of a list page.
_teaser_markup: ContentMemo[str] = ContentMemo(max_entries=4096)


@register.simple_tag
def teaser_items(teasers: Iterable[Teaser], heading_level: int = 2) -> SafeString:
    """The <li> of each teaser in a list page's <ul class="teasers">.

    Built here rather than with a template per teaser: twenty {% include %}s, their variable
    lookups and date filters were over half of a topic page's render. Every value goes through
    `escape` (what autoescaping does) before it is placed in the markup.
    """
    teasers = list(teasers)
    # Read only when some teaser's markup is not kept already, then for all of them at once.
    images = functools.cache(functools.partial(teaser_images, teasers))
    return _items_markup(teasers, int(heading_level), images)


@register.simple_tag
def teaser_items_split(teasers: Iterable[Teaser], first: int = 5) -> tuple[SafeString, SafeString]:
    """teaser_items for the first `first` teasers and for the rest, their images (when some
    markup is not kept) read at once: a list page with a block between its teasers."""
    teasers = list(teasers)
    images = functools.cache(functools.partial(teaser_images, teasers))
    return _items_markup(teasers[:first], 2, images), _items_markup(teasers[first:], 2, images)


@register.simple_tag
def teaser_titles(teasers: Iterable[Teaser], heading_level: int = 3) -> SafeString:
    """The <li> of each teaser as a title and date only (the home page's topic sections)."""
    zone = timezone.get_current_timezone()
    names = _month_names(translation.get_language())
    article_url = slug_url_builder("publishing:article-detail")
    level = int(heading_level)
    items = []
    for teaser in teasers:
        at = teaser.published_at.astimezone(zone)
        items.append(
            f'<li><h{level}><a href="{escape(article_url(teaser.slug))}">{escape(teaser.title)}'
            f'</a></h{level}> <time class="meta" datetime="{at.isoformat()}">'
            f"{at.day} {names[at.month]} {at.year}</time></li>"
        )
    return mark_safe("".join(items))


@register.simple_tag
def home_teaser_items(front: HomeFront, heading_level: int = 3) -> dict[str, SafeString]:
    """teaser_items for the home page's three lists ("lead", "featured", "latest"), whose
    images, when some markup is not kept, are read at once for all three."""
    every = [*front.lead_items, *front.featured, *front.latest]
    images = functools.cache(functools.partial(teaser_images, every))
    level = int(heading_level)
    return {
        # The lead's picture spans the column and is the first thing on the screen.
        "lead": _items_markup(front.lead_items, level, images, role="feature"),
        "featured": _items_markup(front.featured, level, images),
        "latest": _items_markup(front.latest, level, images),
    }


def _items_markup(
    teasers: list[Teaser],
    level: int,
    images: Callable[[], dict[int, MediaItem]],
    role: str = "teaser",
) -> SafeString:
    language = translation.get_language()
    zone = timezone.get_current_timezone()
    prefix = get_script_prefix()  # what the article URLs start with
    markup = _teaser_markup.get_or_set_many(
        (
            (teaser.id, level, language, zone, prefix, role),
            functools.partial(_teaser_item, teaser, level, language, zone, images, role),
        )
        for teaser in teasers
    )
    return mark_safe("".join(markup))


def _teaser_item(
    teaser: Teaser,
    level: int,
    language: str | None,
    zone: tzinfo,
    images: Callable[[], dict[int, MediaItem]],
    role: str = "teaser",
) -> str:
    thumbnail = ""
    if teaser.lead_image_id:
        thumbnail = picture_html(images().get(teaser.lead_image_id), role, css_class="teaser-image")
    published_at = teaser.published_at.astimezone(zone)
    date = f"{published_at.day} {_month_names(language)[published_at.month]} {published_at.year}"
    byline = ", ".join(map(escape, teaser.author_names))
    article_url = slug_url_builder("publishing:article-detail")(teaser.slug)
    return (
        '<li class="teaser">\n  <article>\n'
        f'    <h{level}><a href="{escape(article_url)}">{escape(teaser.title)}</a>'
        f"</h{level}>\n"
        f'    <p class="meta"><time datetime="{published_at.isoformat()}">{date}</time>'
        f"{' · ' + byline if byline else ''}"
        f"{' · via ' + escape(teaser.original_outlet) if teaser.original_outlet else ''}</p>\n"
        f"{'    ' + thumbnail + chr(10) if thumbnail else ''}"
        f"    {'<p>' + escape(teaser.excerpt) + '</p>' if teaser.excerpt else ''}\n"
        "  </article>\n</li>\n"
    )


# An article page's parts, built in Python (publishing/article_markup.py says why).
@register.simple_tag
def article_head(article: Article) -> SafeString:
    return article_markup.head_tags(article, article_json_ld(article))


register.simple_tag(article_markup.kicker, name="article_kicker")
register.simple_tag(article_markup.byline, name="article_byline")
register.simple_tag(article_markup.lead_figure, name="article_lead_figure")
register.simple_tag(article_markup.corrections, name="article_corrections")
register.simple_tag(article_markup.share_list, name="article_share_links")
register.simple_tag(article_markup.topic_list, name="article_topic_list")


# The plain share links, for a theme's own article template (article_share_links lists them).
register.simple_tag(article_markup.share_links, name="share_links")


@register.filter
def reader_body(body_html: str) -> SafeString:
    """An article body as readers get it: embeds wait behind a click-to-load placeholder."""
    return mark_safe(click_to_load(body_html))  # the body was cleaned on save


@register.simple_tag
def article_foot(article: Article) -> SafeString:
    """What apps above publishing add at the foot of an article (publishing/hooks.py)."""
    return mark_safe(article_foot_html(article))  # each provider returns rendered templates


@register.filter
def has_embeds(body_html: str) -> bool:
    return "<iframe" in body_html


@register.simple_tag
def published_page_url(path: str) -> str:
    """The address of the published page at `path` ('contact'), or '' when there is none, so
    a template links to it only when readers can open it."""
    page = Page.objects.published().at_path(path).only("path").first()
    return page.get_absolute_url() if page is not None else ""
