"""`pressroom export --format wxr`: a WordPress export that `pressroom import_wxr` brings back
into an empty site as the same articles, pages, authors, topics and lead images."""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import stat
import xml.etree.ElementTree as ET
from datetime import datetime

from django.conf import settings
from django.core.management import call_command
from django.db.models import Prefetch

from pressroom.importers.wxr import WxrAuthor, WxrItem, WxrTerm, parse_wxr
from pressroom.portability.tests.conftest import empty_the_site
from pressroom.publishing.models import Article, ArticleAuthor, Page

WP = "{http://wordpress.org/export/1.2/}"
BETWEEN_BLOCKS = re.compile(
    r"(</?(?:p|h[1-6]|ul|ol|li|blockquote|figure|figcaption|div|pre|table|tr|td|th)(?:\s[^>]*)?>)\s+(?=<)"
)


def _blocks(html: str) -> str:
    """The body with no whitespace between blocks: the import's wpautop puts a line break
    after block tags, which readers never see."""
    return BETWEEN_BLOCKS.sub(r"\1", html)


def _second(moment: datetime | None) -> datetime | None:
    return moment.replace(microsecond=0) if moment else None


def _articles() -> dict[str, dict[str, object]]:
    found = {}
    bylines = Prefetch(
        "author_links",
        queryset=ArticleAuthor.objects.select_related("author").order_by("position", "pk"),
    )
    for article in Article.objects.prefetch_related("topics", bylines).select_related("lead_image"):
        lead = article.lead_image
        found[article.slug] = {
            "title": article.title,
            "body": _blocks(article.body),
            "excerpt": article.editor_excerpt,
            "status": article.status,
            # WordPress keeps dates to the second.
            "published_at": _second(article.published_at),
            # A WordPress post has one author: the first byline (the others go out as
            # Co-Authors Plus terms, which import_wxr does not read).
            "author": [(link.author.slug, link.author.name) for link in article.author_links.all()][
                :1
            ],
            "topics": sorted(topic.slug for topic in article.topics.all()),
            "topic_names": sorted(topic.name for topic in article.topics.all()),
            "lead_image": hashlib.sha256(lead.file.read()).hexdigest() if lead else None,
            "lead_image_alt": lead.alt_text if lead else None,
        }
    return found


def _pages() -> dict[str, tuple[str, str, str, object]]:
    return {
        page.path: (page.title, _blocks(page.body), page.status, _second(page.published_at))
        for page in Page.objects.all()
    }


def test_a_wxr_export_imports_back_as_the_same_site(demo_site, tmp_path):
    articles_before = _articles()
    pages_before = _pages()
    assert any(article["lead_image"] for article in articles_before.values())
    export = tmp_path / "site.xml"
    out = io.StringIO()
    call_command("export", "--format", "wxr", str(export), stdout=out)
    assert "posts (articles): 24" in out.getvalue()
    assert stat.S_IMODE(export.stat().st_mode) == 0o600

    # Well-formed XML, WXR 1.2, as ElementTree reads it.
    root = ET.parse(export).getroot()  # noqa: S314  # the file this test just wrote
    channel = root.find("channel")
    assert channel.findtext(f"{WP}wxr_version") == "1.2"
    kinds = [item.findtext(f"{WP}post_type") for item in channel.iter("item")]
    assert kinds.count("post") == 24
    assert kinds.count("page") == len(pages_before)
    assert kinds.count("attachment") == 1
    # And as the importer's own reader reads it.
    with export.open("rb") as source:
        records = list(parse_wxr(source))
    assert sum(isinstance(r, WxrAuthor) for r in records) == 3
    assert sum(isinstance(r, WxrTerm) for r in records) == 5
    items = [r for r in records if isinstance(r, WxrItem)]
    posts = {item.slug: item for item in items if item.post_type == "post"}
    assert set(posts) == set(articles_before)
    lead = demo_site["article"]
    attachment = next(item for item in items if item.post_type == "attachment")
    assert posts[lead.slug].thumbnail_id == attachment.post_id
    # A second byline goes out as Co-Authors Plus exports it.
    coauthored = next(a for a in Article.objects.all() if a.author_links.count() > 1)
    second = coauthored.author_links.order_by("position", "pk")[1].author.slug
    element = next(
        item for item in channel.iter("item") if item.findtext(f"{WP}post_name") == coauthored.slug
    )
    assert ("author", f"cap-{second}") in {
        (category.get("domain"), category.get("nicename")) for category in element.iter("category")
    }

    uploads = tmp_path / "uploads"
    shutil.copytree(settings.MEDIA_ROOT, uploads)
    empty_the_site()
    shutil.rmtree(settings.MEDIA_ROOT)
    assert not Article.objects.exists()

    call_command("import_wxr", str(export), "--media-dir", str(uploads), stdout=io.StringIO())

    articles_after = _articles()
    assert set(articles_after) == set(articles_before)
    for slug, before in articles_before.items():
        for key, value in before.items():
            assert articles_after[slug][key] == value, (
                f"{slug} {key}: {value!r} != {articles_after[slug][key]!r}"
            )
    assert _pages() == pages_before
