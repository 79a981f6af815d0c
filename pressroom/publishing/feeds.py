"""RSS 2.0 and Atom feeds of the newest articles, site-wide and per topic."""

from __future__ import annotations

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.feedgenerator import Atom1Feed, Enclosure, Rss201rev2Feed, SyndicationFeed
from django.utils.formats import date_format
from django.utils.html import escape

from pressroom.media.rendering import (
    ImageFile,
    current_file_addresses,
    image_file,
    images_prefetch,
)
from pressroom.publishing.embeds import embeds_as_links
from pressroom.publishing.html import strip_control_characters
from pressroom.publishing.models import Article, Author, Correction, Topic
from pressroom.site.current import current_site


def _xml_safe(value: object) -> object:
    """Strings (and lists of them) without the characters XML cannot carry."""
    if isinstance(value, str):
        return strip_control_characters(value)
    if isinstance(value, list | tuple):
        return type(value)(_xml_safe(item) for item in value)
    return value


class XmlSafeFeedMixin:
    """Text is cleaned where it enters, but a row written some other way (an SQL update, an
    older import) must not make a whole feed fail (UnserializableContentError, a 500)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(  # type: ignore[call-arg]
            *(_xml_safe(value) for value in args),
            **{key: _xml_safe(value) for key, value in kwargs.items()},
        )

    def add_item(self, *args: object, **kwargs: object) -> None:
        super().add_item(  # type: ignore[misc]
            *(_xml_safe(value) for value in args),
            **{key: _xml_safe(value) for key, value in kwargs.items()},
        )


MEDIA_RSS = "http://search.yahoo.com/mrss/"
# The lead image in feeds: a width rendition (never a crop: readers show the whole picture),
# large enough for a reader's full-width view.
FEED_IMAGE_PRESET = "w1280"


class MediaRssMixin:
    """Each item's lead image as Media RSS <media:content> (with its credit), which feed readers
    show as the item's picture; the same file is the item's enclosure. No <media:description>:
    feedparser (and readers built on it) would take it for the item's summary."""

    def add_media_namespace(self, attributes: dict[str, str]) -> dict[str, str]:
        return {**attributes, "xmlns:media": MEDIA_RSS}

    def add_media_content(self, handler, item: dict) -> None:
        image: ImageFile | None = item.get("image")
        if image is None:
            return
        attributes = {"url": image.url, "type": image.mime_type, "medium": "image"}
        if image.size:
            attributes["fileSize"] = str(image.size)
        if image.width and image.height:
            attributes["width"], attributes["height"] = str(image.width), str(image.height)
        handler.startElement("media:content", attributes)
        if item.get("image_credit"):
            handler.addQuickElement("media:credit", item["image_credit"])
        handler.endElement("media:content")


class FullTextRssFeed(XmlSafeFeedMixin, MediaRssMixin, Rss201rev2Feed):
    """RSS 2.0 with each article's whole body in <content:encoded>, for readers and partner
    outlets that republish from the feed; <description> keeps the excerpt."""

    def rss_attributes(self) -> dict[str, str]:
        return self.add_media_namespace(
            {
                **super().rss_attributes(),
                "xmlns:content": "http://purl.org/rss/1.0/modules/content/",
            }
        )

    def add_item_elements(self, handler, item: dict) -> None:
        super().add_item_elements(handler, item)
        if item.get("content_encoded"):
            handler.addQuickElement("content:encoded", item["content_encoded"])
        self.add_media_content(handler, item)


class FullTextAtomFeed(XmlSafeFeedMixin, MediaRssMixin, Atom1Feed):
    """Atom with each article's whole body as <content type="html">; <summary> is the excerpt.
    The lead image is a <link rel="enclosure"> and a <media:content>."""

    def root_attributes(self) -> dict[str, str]:
        return self.add_media_namespace(super().root_attributes())

    def add_item_elements(self, handler, item: dict) -> None:
        super().add_item_elements(handler, item)
        if item.get("content_encoded"):
            handler.addQuickElement("content", item["content_encoded"], {"type": "html"})
        self.add_media_content(handler, item)


# Topics, and each lead image with its width renditions (bylines come from with_bylines()): a
# constant number of queries.
FEED_PREFETCH = ("topics", images_prefetch("lead_image", ("widths",)))


def with_feed_bodies(articles: list[Article]) -> list[Article]:
    """Each article with `feed_body`, its body as feeds carry it: library files at their
    current addresses (a replaced file's old ones are gone from storage), read for every item
    at once, and embeds as links to the embedded page rather than players."""
    bodies = current_file_addresses(article.body for article in articles)
    for article, body in zip(articles, bodies, strict=True):
        article.feed_body = embeds_as_links(body)  # type: ignore[attr-defined]
    return articles


class LatestArticlesFeed(Feed):
    feed_type: type[SyndicationFeed] = FullTextRssFeed
    description_template = None

    def title(self, topic: Topic | None = None) -> str:
        return f"{topic.name} — {current_site().name}" if topic else current_site().name

    def link(self, topic: Topic | None = None) -> str:
        return topic.get_absolute_url() if topic else "/"

    def description(self, topic: Topic | None = None) -> str:
        # Plain text, escaped like the items' descriptions: RSS readers treat it as HTML.
        return escape(self.plain_description(topic))

    def plain_description(self, topic: Topic | None = None) -> str:
        return topic.description if topic and topic.description else current_site().tagline

    def items(self, topic: Topic | None = None) -> list[Article]:
        articles = Article.objects.published()
        if topic is not None:
            articles = articles.for_topic(topic)
        found = list(
            articles.newest_first()
            .with_bylines()
            .with_corrections()
            .prefetch_related(*FEED_PREFETCH)[: settings.FEED_ITEMS]
        )
        return with_feed_bodies(found)

    def item_title(self, item: Article) -> str:
        return item.title

    def item_description(self, item: Article) -> str:
        # Readers treat a description as HTML; the excerpt is plain text, so escape it.
        return escape(item.excerpt)

    def item_pubdate(self, item: Article):
        return item.published_at

    def item_updateddate(self, item: Article):
        return item.updated_at

    def item_author_name(self, item: Article) -> str:
        return ", ".join(author.name for author in item.bylines)

    def item_categories(self, item: Article) -> list[str]:
        return [topic.name for topic in item.topics.all()]

    def item_guid(self, item: Article) -> str:
        return f"{settings.SITE_URL}/articles/{item.pk}"

    item_guid_is_permalink = False

    def item_extra_kwargs(self, item: Article) -> dict:
        # Corrections travel with the text, so a reader of the feed sees them too.
        extra: dict[str, object] = {
            "content_encoded": getattr(item, "feed_body", item.body)
            + corrections_html(item.shown_corrections)
        }
        image = image_file(item.lead_image, FEED_IMAGE_PRESET)
        if image is not None and item.lead_image is not None:
            extra["image"] = image
            extra["image_credit"] = item.lead_image.credit
        return extra

    def item_enclosures(self, item: Article) -> list[Enclosure]:
        image = image_file(item.lead_image, FEED_IMAGE_PRESET)
        if image is None:
            return []
        return [Enclosure(image.url, str(image.size), image.mime_type)]

    def feed_url(self, topic: Topic | None = None) -> str:
        return topic.get_absolute_url() + "feed/" if topic else "/feed/"


class LatestArticlesAtomFeed(LatestArticlesFeed):
    feed_type = FullTextAtomFeed
    # Atom's <subtitle> is text (type="text"), so it carries the description unescaped.
    subtitle = LatestArticlesFeed.plain_description

    def feed_url(self, topic: Topic | None = None) -> str:
        return topic.get_absolute_url() + "feed/atom/" if topic else "/feed/atom/"


class AuthorFeed(LatestArticlesFeed):
    """An author's newest articles (WordPress's /author/<login>/feed/ leads here)."""

    def get_object(self, request: HttpRequest, slug: str) -> Author:  # type: ignore[override]
        return get_object_or_404(Author, slug=slug)

    def title(self, author: Author) -> str:  # type: ignore[override]
        return f"{author.name} — {current_site().name}"

    def link(self, author: Author) -> str:  # type: ignore[override]
        return author.get_absolute_url()

    def description(self, author: Author) -> str:  # type: ignore[override]
        return author.bio or current_site().tagline

    def items(self, author: Author) -> list[Article]:  # type: ignore[override]
        found = list(
            Article.objects.published()
            .by_author(author)
            .newest_first()
            .with_bylines()
            .with_corrections()
            .prefetch_related(*FEED_PREFETCH)[: settings.FEED_ITEMS]
        )
        return with_feed_bodies(found)

    def feed_url(self, author: Author) -> str:  # type: ignore[override]
        return author.get_absolute_url() + "feed/"


class AuthorAtomFeed(AuthorFeed):
    feed_type = FullTextAtomFeed
    subtitle = AuthorFeed.description

    def feed_url(self, author: Author) -> str:  # type: ignore[override]
        return author.get_absolute_url() + "feed/atom/"


class TopicFeed(LatestArticlesFeed):
    def get_object(self, request: HttpRequest, slug: str) -> Topic:  # type: ignore[override]
        return get_object_or_404(Topic, slug=slug)


class TopicAtomFeed(LatestArticlesAtomFeed):
    def get_object(self, request: HttpRequest, slug: str) -> Topic:  # type: ignore[override]
        return get_object_or_404(Topic, slug=slug)


def corrections_html(corrections) -> str:
    """The corrections of an article as the article page words them, for feeds."""
    return "".join(
        f"<p><strong>{escape(c.get_kind_display())}, "
        f"{date_format(timezone.localtime(c.noted_at), 'j F Y')}:</strong> "
        f"{escape(c.text)}</p>"
        for c in corrections
    )


class CorrectionsFeed(Feed):
    """Every correction and update, newest first: /corrections/feed/."""

    feed_type = FullTextRssFeed

    def title(self) -> str:
        return f"Corrections — {current_site().name}"

    def link(self) -> str:
        return "/corrections/"

    def description(self) -> str:
        return f"Corrections and updates to articles of {current_site().name}."

    def items(self) -> list[Correction]:
        return list(
            Correction.objects.public()
            .select_related("article")
            .newest_first()[: settings.FEED_ITEMS]
        )

    def item_title(self, item: Correction) -> str:
        return f"{item.get_kind_display()}: {item.article.title}"

    def item_description(self, item: Correction) -> str:
        return escape(item.text)

    def item_link(self, item: Correction) -> str:
        return item.article.get_absolute_url() + f"#correction-{item.pk}"

    def item_pubdate(self, item: Correction):
        return item.noted_at

    def item_guid(self, item: Correction) -> str:
        return f"{settings.SITE_URL}/corrections/{item.pk}"

    item_guid_is_permalink = False
