"""A corpus of known sanitizer bypasses, entered through the admin and through a WordPress import:
nothing executable survives on the article page, the topic page, the feeds or the digest email.

"Executable" is judged on the HTML as a browser would read it: no script, style, SVG, MathML,
object or form element, no event-handler or style attribute, no URL attribute with a scheme other
than http(s), mailto or tel, no iframe that is not an allowed embed rebuilt from its parsed parts,
and no id that could shadow the page's own. Pages carry the site's own scripts and forms, so a
page may have no more of each finding than the same page with harmless articles.
"""

from __future__ import annotations

import dataclasses
import re
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone

from pressroom.importers.tests.wxr_samples import post_item, small_export
from pressroom.newsletter import digests
from pressroom.publishing import services
from pressroom.publishing.html import BODY_ID_PREFIX, clean_body_html, embed_src
from pressroom.publishing.models import Article, Topic
from pressroom.publishing.tests.test_admin import article_form

pytestmark = pytest.mark.django_db

PAYLOADS = [
    line
    for line in (Path(__file__).parent / "data" / "sanitizer_bypass_payloads.txt")
    .read_text()
    .splitlines()
    if line.strip() and not line.startswith("#")
]
FORBIDDEN_TAGS = {
    "script", "style", "svg", "math", "object", "embed", "applet", "base", "meta", "link",
    "form", "input", "button", "textarea", "select", "option", "noscript", "template", "frame",
    "frameset", "xmp", "noembed", "plaintext", "isindex", "marquee", "body", "html", "head",
}  # fmt: skip
FORBIDDEN_ATTRIBUTES = {
    "style", "srcdoc", "formaction", "action", "background", "dynsrc", "lowsrc", "xlink:href",
    "data-bind", "x-on:click", "v-html", "name", "target",
}  # fmt: skip
URL_ATTRIBUTES = {"href", "src", "poster", "cite", "data", "action", "formaction", "background"}
SAFE_SCHEMES = {"http", "https", "mailto", "tel"}
FEED_NAMESPACES = {"atom": "http://www.w3.org/2005/Atom"}


def _scheme(url: str) -> str:
    """The scheme a browser sees: leading spaces and controls dropped, tabs and newlines removed."""
    url = re.sub(r"[\t\n\r]", "", url).lstrip("".join(chr(code) for code in range(33)))
    match = re.match(r"([a-zA-Z][a-zA-Z0-9+.-]*):", url)
    return match.group(1).lower() if match else ""


class Findings(HTMLParser):
    """Everything executable or page-shadowing in an HTML document, as (kind, detail) pairs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: Counter[tuple[str, str]] = Counter()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in FORBIDDEN_TAGS:
            detail = dict(attrs).get("src") or dict(attrs).get("type") or dict(attrs).get("rel")
            self.found["tag", f"{tag} {detail or ''}".strip()] += 1
        for name, value in attrs:
            value = value or ""
            if name.startswith("on") or name in FORBIDDEN_ATTRIBUTES:
                self.found["attribute", f"{tag}[{name}]"] += 1
            if name in URL_ATTRIBUTES and _scheme(value) not in SAFE_SCHEMES | {""}:
                self.found["url", f"{tag}[{name}]={_scheme(value)}:"] += 1
            if name == "srcset":
                for candidate in value.split(","):
                    if _scheme(candidate.strip()) not in SAFE_SCHEMES | {""}:
                        self.found["url", f"{tag}[srcset]"] += 1
            if name == "id":
                self.found["id", value] += 1
        if tag == "iframe":
            src = dict(attrs).get("src") or ""
            if embed_src(src) != src:
                self.found["iframe", src] += 1

    handle_startendtag = handle_starttag


def findings(document: str) -> Counter[tuple[str, str]]:
    parser = Findings()
    parser.feed(document)
    parser.close()
    return parser.found


def assert_body_is_inert(body: str, payload: str) -> None:
    found = findings(body)
    ids = {detail for kind, detail in found if kind == "id"}
    assert all(value.startswith(BODY_ID_PREFIX) for value in ids), (payload, body)
    assert not [key for key in found if key[0] != "id"], (payload, body, found)
    # A body the cleaner would change again could mutate in a browser's parser (mutation XSS).
    assert clean_body_html(body) == body, (payload, body)


def assert_no_more_than(page: Counter, baseline: Counter, where: str) -> None:
    extra = {key: count for key, count in page.items() if count > baseline.get(key, 0)}
    extra = {key: count for key, count in extra.items() if key[0] != "id"}
    assert not extra, (where, extra)
    body_ids = {detail for kind, detail in page if kind == "id"} - {
        detail for kind, detail in baseline if kind == "id"
    }
    assert all(value.startswith(BODY_ID_PREFIX) for value in body_ids), (where, body_ids)


def feed_html(xml: bytes) -> list[str]:
    """The HTML a feed reader renders: RSS descriptions and content:encoded, Atom summaries and
    content."""
    root = ET.fromstring(xml)  # noqa: S314  (our own feed)
    parts = []
    for element in root.iter():
        tag = element.tag.rsplit("}", 1)[-1]
        if tag in {"description", "encoded", "summary", "content", "title"} and element.text:
            parts.append(element.text)
    return parts


@pytest.fixture
def everything_on_one_page(settings):
    settings.ARTICLES_PER_PAGE = 500
    settings.FEED_ITEMS = 500
    settings.DIGEST_MAX_ARTICLES = 500
    settings.PAGE_CACHE_SECONDS = 0


def enter_through_the_admin(admin_client, topic: Topic) -> None:
    for number, payload in enumerate(PAYLOADS):
        response = admin_client.post(
            "/admin/publishing/article/add/",
            article_form(title=f"Payload {number}", body=payload, topics_chosen=[str(topic.pk)]),
        )
        assert response.status_code == 302, (payload, response.content[:3000])


def enter_through_a_wordpress_import(tmp_path: Path, topic: Topic) -> None:
    posted = datetime.now(UTC) - timedelta(hours=1)
    items = "".join(
        post_item(
            1000 + number,
            title=f"Payload {number}",
            # WordPress writes "]]>" inside CDATA as "]]]]><![CDATA[>".
            content=payload.replace("]]>", "]]]]><![CDATA[>"),
            post_name=f"payload-{number}",
            date=f"{posted:%Y-%m-%d %H:%M:%S}",
            date_gmt=f"{posted:%Y-%m-%d %H:%M:%S}",
            extra=f'<category domain="category" nicename="{topic.slug}">'
            f"<![CDATA[{topic.name}]]></category>",
        )
        for number, payload in enumerate(PAYLOADS)
    )
    path = tmp_path / "payloads.xml"
    path.write_bytes(small_export(items))
    call_command("import_wxr", str(path), stdout=StringIO())


@pytest.mark.parametrize("entry", ["admin", "wordpress import"])
def test_no_sanitizer_bypass_survives_on_any_page_feed_or_email(
    entry, admin_client, client, make_article, tmp_path, everything_on_one_page
):
    assert len(PAYLOADS) >= 50
    harmless_topic = services.save_topic(Topic(name="Harmless", slug="harmless"))
    # With a neighbour in its topic, so its page has the same frame (related articles) as the
    # payloads' pages, which share theirs.
    make_article("Harmless neighbour", topics=[harmless_topic])
    harmless = make_article("Harmless story", topics=[harmless_topic])
    topic = services.save_topic(Topic(name="Payloads", slug="payloads"))
    if entry == "admin":
        enter_through_the_admin(admin_client, topic)
    else:
        enter_through_a_wordpress_import(tmp_path, topic)
    articles = list(Article.objects.filter(title__startswith="Payload ").order_by("id"))
    assert len(articles) == len(PAYLOADS)
    topic = articles[0].topics.get()  # an import files them under a topic of its own

    for article, payload in zip(articles, PAYLOADS, strict=True):
        assert_body_is_inert(article.body, payload)

    article_baseline = findings(client.get(harmless.get_absolute_url()).content.decode())
    for article, payload in zip(articles, PAYLOADS, strict=True):
        response = client.get(article.get_absolute_url())
        assert response.status_code == 200
        assert_no_more_than(findings(response.content.decode()), article_baseline, payload)

    topic_baseline = findings(client.get(harmless_topic.get_absolute_url()).content.decode())
    topic_page = client.get(topic.get_absolute_url()).content.decode()
    assert topic_page.count("Payload ") >= len(PAYLOADS)
    assert_no_more_than(findings(topic_page), topic_baseline, "topic page")

    topic_url = topic.get_absolute_url()
    for url in ["/feed/", "/feed/atom/", f"{topic_url}feed/", f"{topic_url}feed/atom/"]:
        response = client.get(url)
        assert response.status_code == 200
        for html in feed_html(response.content):
            assert not [key for key in findings(html) if key[0] != "id"], (url, html)

    digest, _ = digests.create_digest(timezone.now() + timedelta(minutes=1))
    assert digest is not None
    content = digests.load_content(digest)
    assert len(content.entries) > len(PAYLOADS)
    _, _, email_html = digests.render_digest(content, content.entries)
    harmless_entries = [
        dataclasses.replace(item, title="Harmless", excerpt="Harmless") for item in content.entries
    ]
    _, _, harmless_html = digests.render_digest(content, harmless_entries)
    assert_no_more_than(findings(email_html), findings(harmless_html), "digest email")
    web_digest = client.get(digest.get_absolute_url())
    assert web_digest.status_code == 200
    assert_no_more_than(findings(web_digest.content.decode()), article_baseline, "web digest")
