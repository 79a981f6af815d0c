"""`pressroom export --format wxr`: the site as a WordPress export (WXR 1.2), to leave with.

What WordPress's own Tools > Export writes, so WordPress (and `pressroom import_wxr`) imports
it: the authors, the topics as categories (with their parents), the media library's images as
attachments (their public URL, and `_wp_attached_file` naming the file under MEDIA_ROOT, so an
import with `--media-dir MEDIA_ROOT` finds them), the articles as posts (`_thumbnail_id` for the
lead image) and the pages. No comments (Pressroom has none).

Limits of the format: a WordPress post has one author (`dc:creator`): the first byline;
"in review" is WordPress's "pending" (an import makes it a draft); dates are kept to the
second; a byline's other authors go out as Co-Authors Plus terms (`domain="author"`, which that
plugin imports and import_wxr does not read); menus, corrections and revisions have no place in WXR (the
full export keeps them). Post ids share one space in
WordPress: articles keep their ids, pages and attachments are numbered after them.

Written as it is read (one row at a time through iterator()), never the whole site in memory.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO
from urllib.parse import quote
from xml.sax.saxutils import XMLGenerator
from xml.sax.xmlreader import AttributesImpl

from django.conf import settings
from django.db.models import Max, Prefetch
from django.utils import timezone

from pressroom.media.models import MediaItem
from pressroom.portability.archive import PortabilityError, _open_private
from pressroom.publishing.models import Article, ArticleAuthor, Author, Page, Topic

Progress = Callable[[str], None]
NAMESPACES = {
    "excerpt": "http://wordpress.org/export/1.2/excerpt/",
    "content": "http://purl.org/rss/1.0/modules/content/",
    "wfw": "http://wellformedness.org/wiki/CommentAPI/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "wp": "http://wordpress.org/export/1.2/",
}
# XML 1.0 allows no C0 control character but tab, newline and carriage return.
FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
ARTICLE_STATUSES: dict[str, str] = {
    Article.Status.PUBLISHED: "publish",
    Article.Status.SCHEDULED: "future",
    Article.Status.DRAFT: "draft",
    Article.Status.IN_REVIEW: "pending",
}
CHUNK = 1000
NO_DATE = "0000-00-00 00:00:00"


class _Writer:
    def __init__(self, generator: XMLGenerator) -> None:
        self.out = generator
        self.depth = 0

    def start(self, name: str, attributes: dict[str, str] | None = None) -> None:
        self.out.ignorableWhitespace("\n" + "\t" * self.depth)
        self.out.startElement(name, AttributesImpl(attributes or {}))
        self.depth += 1

    def end(self, name: str) -> None:
        self.depth -= 1
        self.out.ignorableWhitespace("\n" + "\t" * self.depth)
        self.out.endElement(name)

    def element(
        self, name: str, text: object = "", attributes: dict[str, str] | None = None
    ) -> None:
        self.out.ignorableWhitespace("\n" + "\t" * self.depth)
        self.out.startElement(name, AttributesImpl(attributes or {}))
        self.out.characters(FORBIDDEN.sub("", str(text)))
        self.out.endElement(name)

    def meta(self, key: str, value: object) -> None:
        self.start("wp:postmeta")
        self.element("wp:meta_key", key)
        self.element("wp:meta_value", value)
        self.end("wp:postmeta")


def _dates(moment: datetime | None) -> tuple[str, str]:
    """WordPress's local and GMT dates, or its empty date."""
    if moment is None:
        return NO_DATE, NO_DATE
    local = timezone.localtime(moment)
    gmt = moment.astimezone(UTC)
    return local.strftime("%Y-%m-%d %H:%M:%S"), gmt.strftime("%Y-%m-%d %H:%M:%S")


def _rfc822(moment: datetime | None) -> str:
    return moment.strftime("%a, %d %b %Y %H:%M:%S +0000") if moment else ""


def export_wxr(path: Path, *, progress: Progress = print) -> dict[str, int]:
    """Write the WordPress export at `path` (owner-only, like every export); return counts."""
    path = Path(path).absolute()
    if path.exists():
        raise PortabilityError(f"{path} already exists; name a new file")
    if not path.parent.is_dir():
        raise PortabilityError(f"{path.parent} is not a directory")
    partial = path.with_name(f".{path.name}.partial")
    with contextlib.suppress(FileNotFoundError):
        partial.unlink()
    try:
        with _open_private(partial) as raw:
            counts = _write(raw, progress)
        os.replace(partial, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        raise
    return counts


def _write(raw: IO[bytes], progress: Progress) -> dict[str, int]:
    from pressroom.site.models import SiteSettings  # the name and tagline of the channel

    generator = XMLGenerator(raw, encoding="utf-8", short_empty_elements=True)
    out = _Writer(generator)
    site_url = settings.SITE_URL
    site = SiteSettings.objects.first()
    last_article = Article.objects.aggregate(last=Max("pk"))["last"] or 0
    last_page = Page.objects.aggregate(last=Max("pk"))["last"] or 0
    page_offset = last_article
    attachment_offset = last_article + last_page

    generator.startDocument()
    out.start("rss", {"version": "2.0", **{f"xmlns:{k}": v for k, v in NAMESPACES.items()}})
    out.start("channel")
    out.element("title", site.name if site else "")
    out.element("link", site_url)
    out.element("description", site.tagline if site else "")
    out.element("pubDate", _rfc822(timezone.now()))
    out.element("language", settings.LANGUAGE_CODE)
    out.element("wp:wxr_version", "1.2")
    out.element("wp:base_site_url", site_url)
    out.element("wp:base_blog_url", site_url)

    counts = {"authors": 0, "categories": 0, "attachments": 0, "posts": 0, "pages": 0}
    for author in Author.objects.order_by("pk").iterator(chunk_size=CHUNK):
        out.start("wp:author")
        out.element("wp:author_id", author.pk)
        out.element("wp:author_login", author.slug)
        out.element("wp:author_email", "")  # authors have none; accounts stay private
        out.element("wp:author_display_name", author.name)
        out.element("wp:author_first_name", "")
        out.element("wp:author_last_name", "")
        out.end("wp:author")
        counts["authors"] += 1
    progress(f"authors: {counts['authors']}")

    for topic in Topic.objects.select_related("parent").order_by("pk").iterator(chunk_size=CHUNK):
        out.start("wp:category")
        out.element("wp:term_id", topic.pk)
        out.element("wp:category_nicename", quote(topic.slug, safe=""))
        out.element("wp:category_parent", quote(topic.parent.slug, safe="") if topic.parent else "")
        out.element("wp:cat_name", topic.name)
        out.element("wp:category_description", topic.description)
        out.end("wp:category")
        counts["categories"] += 1
    progress(f"categories (topics): {counts['categories']}")

    images = MediaItem.objects.filter(kind=MediaItem.Kind.IMAGE).order_by("pk")
    for item in images.iterator(chunk_size=CHUNK):
        local, gmt = _dates(item.created_at)
        url = item.file.url
        out.start("item")
        out.element("title", item.original_name)
        out.element("link", site_url + url if url.startswith("/") else url)
        out.element("pubDate", _rfc822(item.created_at))
        out.element("dc:creator", "")
        out.element(
            "guid", site_url + url if url.startswith("/") else url, {"isPermaLink": "false"}
        )
        out.element("description", "")
        out.element("content:encoded", item.caption)
        out.element("excerpt:encoded", item.caption)
        out.element("wp:post_id", attachment_offset + item.pk)
        out.element("wp:post_date", local)
        out.element("wp:post_date_gmt", gmt)
        out.element("wp:post_name", quote(item.key, safe=""))
        out.element("wp:status", "inherit")
        out.element("wp:post_parent", 0)
        out.element("wp:menu_order", 0)
        out.element("wp:post_type", "attachment")
        out.element("wp:post_password", "")
        out.element("wp:attachment_url", site_url + url if url.startswith("/") else url)
        out.meta("_wp_attached_file", item.file.name)
        if item.alt_text:
            out.meta("_wp_attachment_image_alt", item.alt_text)
        out.end("item")
        counts["attachments"] += 1
    progress(f"attachments (images): {counts['attachments']}")

    articles = (
        Article.objects.order_by("pk")
        .select_related("lead_image")
        .prefetch_related(
            Prefetch(
                "author_links",
                queryset=ArticleAuthor.objects.select_related("author").order_by("position", "pk"),
            ),
            "topics",
        )
    )
    for article in articles.iterator(chunk_size=CHUNK):
        local, gmt = _dates(article.published_at)
        bylines = [link.author for link in article.author_links.all()]
        out.start("item")
        out.element("title", article.title)
        out.element("link", site_url + article.get_absolute_url())
        out.element("pubDate", _rfc822(article.published_at))
        out.element("dc:creator", bylines[0].slug if bylines else "")
        out.element("guid", f"{site_url}/?p={article.pk}", {"isPermaLink": "false"})
        out.element("description", "")
        out.element("content:encoded", article.body)
        out.element("excerpt:encoded", article.editor_excerpt)
        out.element("wp:post_id", article.pk)
        out.element("wp:post_date", local)
        out.element("wp:post_date_gmt", gmt)
        out.element("wp:post_name", quote(article.slug, safe=""))
        out.element("wp:status", ARTICLE_STATUSES.get(article.status, "draft"))
        out.element("wp:post_parent", 0)
        out.element("wp:menu_order", 0)
        out.element("wp:post_type", "post")
        out.element("wp:post_password", "")
        out.element("wp:is_sticky", 0)
        for topic in sorted(article.topics.all(), key=lambda topic: topic.pk):
            out.element(
                "category",
                topic.name,
                {"domain": "category", "nicename": quote(topic.slug, safe="")},
            )
        for coauthor in bylines[1:]:  # as the Co-Authors Plus plugin exports them
            out.element(
                "category",
                coauthor.name,
                {"domain": "author", "nicename": quote(f"cap-{coauthor.slug}", safe="")},
            )
        if article.lead_image and article.lead_image.kind == MediaItem.Kind.IMAGE:
            out.meta("_thumbnail_id", attachment_offset + article.lead_image.pk)
        out.end("item")
        counts["posts"] += 1
    progress(f"posts (articles): {counts['posts']}")

    for page in Page.objects.order_by("pk").iterator(chunk_size=CHUNK):
        local, gmt = _dates(page.published_at)
        out.start("item")
        out.element("title", page.title)
        out.element("link", site_url + page.get_absolute_url())
        out.element("pubDate", _rfc822(page.published_at))
        out.element("dc:creator", "")
        out.element(
            "guid", f"{site_url}/?page_id={page_offset + page.pk}", {"isPermaLink": "false"}
        )
        out.element("description", "")
        out.element("content:encoded", page.body)
        out.element("excerpt:encoded", page.summary)
        out.element("wp:post_id", page_offset + page.pk)
        out.element("wp:post_date", local)
        out.element("wp:post_date_gmt", gmt)
        out.element("wp:post_name", quote(page.slug, safe=""))
        out.element("wp:status", "publish" if page.status == Page.Status.PUBLISHED else "draft")
        parent = page.parent_id
        out.element("wp:post_parent", page_offset + parent if parent else 0)
        out.element("wp:menu_order", 0)
        out.element("wp:post_type", "page")
        out.element("wp:post_password", "")
        out.end("item")
        counts["pages"] += 1
    progress(f"pages: {counts['pages']}")

    out.end("channel")
    out.end("rss")
    generator.ignorableWhitespace("\n")
    generator.endDocument()
    return counts
