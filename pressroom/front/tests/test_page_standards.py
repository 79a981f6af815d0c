"""Web standards on every public page: a canonical link, Open Graph and Twitter card tags that
agree with it, the outlet's structured data with its logo, icons and the web app manifest, and
no address of a third party anywhere on the page."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.utils import timezone

from pressroom.publishing import services
from pressroom.publishing.models import Page
from pressroom.publishing.pagination import Cursor
from pressroom.site.models import DARK_BACKGROUND, LIGHT_BACKGROUND

pytestmark = pytest.mark.django_db

OPEN_GRAPH = ("og:title", "og:description", "og:type", "og:url", "og:image", "og:site_name")


class Head(HTMLParser):
    """The <meta>, <link> and JSON-LD of a page, and every address it would make a browser load."""

    def __init__(self) -> None:
        super().__init__()
        self.meta: dict[str, list[str]] = {}
        self.links: list[dict[str, str]] = []
        self.json_ld: list[dict] = []
        self.loaded: list[str] = []  # src of img/script/iframe/source, href of link
        self._in_json_ld = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "meta":
            key = attributes.get("property") or attributes.get("name")
            if key:
                self.meta.setdefault(key, []).append(attributes.get("content", ""))
        elif tag == "link":
            self.links.append(attributes)
            if attributes.get("rel") in {
                "stylesheet",
                "icon",
                "apple-touch-icon",
                "manifest",
                "preload",
            }:
                self.loaded.append(attributes.get("href", ""))
        elif tag == "script" and attributes.get("type") == "application/ld+json":
            self._in_json_ld = True
        if tag in {"img", "script", "iframe", "source", "audio", "video"}:
            for name in ("src", "srcset"):
                if attributes.get(name):
                    self.loaded += [part.split()[0] for part in attributes[name].split(",")]

    def handle_data(self, data: str) -> None:
        if self._in_json_ld:
            self.json_ld.append(json.loads(data))
            self._in_json_ld = False

    def one(self, key: str) -> str:
        values = self.meta.get(key, [])
        assert len(values) == 1, f"{key}: {values}"
        return values[0]

    def canonical(self) -> str:
        found = [link["href"] for link in self.links if link.get("rel") == "canonical"]
        assert len(found) == 1, found
        return found[0]


def head_of(response) -> Head:
    assert response.status_code == 200, response
    parser = Head()
    parser.feed(response.content.decode())
    return parser


@pytest.fixture
def public_pages(make_article, topic, author) -> dict[str, str]:
    published = timezone.now().replace(year=2024, month=3, day=5)
    article = make_article(published_at=published)
    page = services.save_page(
        Page(
            title="About us", slug="about", body="<p>Who we are.</p>", status=Page.Status.PUBLISHED
        )
    )
    deep = Cursor(article.published_at, article.pk + 1).encode()
    return {
        "home": "/",
        "article": article.get_absolute_url(),
        "page": page.get_absolute_url(),
        "topic": topic.get_absolute_url(),
        "author": author.get_absolute_url(),
        "topic list": "/topics/",
        "search": "/search/?q=march",
        "digest archive": "/digest/archive/",
        "digest signup": "/digest/",
        "donate": "/donate/",
        "corrections": "/corrections/",
        "year archive": "/archive/2024/",
        "month archive": "/archive/2024/3/",
        "day archive": "/archive/2024/3/5/",
        "home, deeper page": f"/?before={deep}",
        "topic, deeper page": f"{topic.get_absolute_url()}?before={deep}",
    }


def test_every_public_page_has_canonical_open_graph_twitter_and_the_publisher(
    reader_client, public_pages
):
    for name, url in public_pages.items():
        head = head_of(reader_client.get(url))
        canonical = head.canonical()
        assert canonical.startswith(settings.SITE_URL + "/"), name
        assert head.one("og:url") == canonical, f"{name}: og:url agrees with the canonical link"
        for key in OPEN_GRAPH:
            assert head.one(key).strip(), f"{name}: {key} is empty"
        assert head.one("og:site_name") == "Pressroom News"
        assert urlsplit(head.one("og:image")).scheme in {"http", "https"}, name
        assert head.one("twitter:card") in {"summary", "summary_large_image"}, name
        organisations = [d for d in head.json_ld if d.get("@type") == "NewsMediaOrganization"]
        assert len(organisations) == 1, name
        assert organisations[0]["logo"]["url"].startswith("http"), name
        assert organisations[0]["url"] == settings.SITE_URL + "/"
        assert [link["href"] for link in head.links if link.get("rel") == "manifest"] == [
            "/manifest.webmanifest"
        ]
        assert any(link.get("rel") == "apple-touch-icon" for link in head.links), name
        assert any(
            link.get("rel") == "icon" and link.get("type") == "image/png" for link in head.links
        )


def test_canonical_addresses_name_the_page_itself(reader_client, public_pages, make_article):
    article_url = public_pages["article"]
    assert head_of(reader_client.get(article_url)).canonical() == settings.SITE_URL + article_url
    head = head_of(reader_client.get(article_url))
    assert head.one("og:type") == "article"
    # A deeper page of an archive is a page of its own (search engines reach older articles
    # through it): canonical to itself, with its cursor; anything else in the query is not kept.
    deep = public_pages["topic, deeper page"]
    head = head_of(reader_client.get(deep + "&utm_source=newsletter"))
    assert head.canonical() == settings.SITE_URL + deep
    assert head.one("og:url") == settings.SITE_URL + deep
    home = head_of(reader_client.get("/?utm_source=x&fbclid=y"))
    assert home.canonical() == settings.SITE_URL + "/"
    assert home.one("og:title") == "Pressroom News"
    # The page's own title, without the site's name after it.
    topic_head = head_of(reader_client.get(public_pages["topic"]))
    assert topic_head.one("og:title") == "Peru"
    # Search results are not for search engines.
    search = head_of(reader_client.get("/search/?q=march&page=1"))
    assert search.one("robots").startswith("noindex")
    assert search.canonical() == settings.SITE_URL + "/search/?q=march&page=1"


def test_a_canonical_link_keeps_only_what_the_page_type_is_addressed_by(
    reader_client, public_pages
):
    # Before, every page kept q, page, before and after: "/?q=spam" was canonical to itself.
    spam = "q=spam&page=7"
    for name in ("home", "article", "page", "topic list", "digest archive", "donate"):
        url = public_pages[name]
        head = head_of(reader_client.get(f"{url}?{spam}"))
        assert head.canonical() == settings.SITE_URL + url, name
        assert head.one("og:url") == settings.SITE_URL + url, name
    # A list page is addressed by its cursor, not by a search's parameters.
    deep = public_pages["home, deeper page"]
    assert head_of(reader_client.get(f"{deep}&{spam}")).canonical() == settings.SITE_URL + deep
    topic = public_pages["topic"]
    assert head_of(reader_client.get(f"{topic}?{spam}")).canonical() == settings.SITE_URL + topic
    # A search is its query and page (and kept out of search engines), nothing else.
    search = head_of(reader_client.get("/search/?q=march&page=2&before=x&utm_source=y"))
    assert search.one("robots").startswith("noindex")
    assert search.canonical() == settings.SITE_URL + "/search/?q=march&page=2"


def test_error_pages_have_no_canonical_link(reader_client):
    response = reader_client.get("/no-such-page/here/?q=spam")
    assert response.status_code == 404
    html = response.content.decode()
    assert 'rel="canonical"' not in html
    assert 'property="og:url"' not in html
    assert "Page not found" in html
    missing = reader_client.get("/articles/no-such-article/")
    assert missing.status_code == 404
    assert 'rel="canonical"' not in missing.content.decode()
    # A refused preview (a link that is not valid) is no page to point at either.
    refused = reader_client.get("/preview/not-a-valid-token/")
    assert refused.status_code == 403
    assert "This preview link is not valid." in refused.content.decode()
    assert 'rel="canonical"' not in refused.content.decode()


def test_a_republished_article_is_canonical_to_the_original_and_og_url_agrees(
    reader_client, make_article
):
    article = make_article(
        "Water protectors win in court",
        original_url="https://partner.example.org/2024/water",
        original_outlet="Partner News",
    )
    head = head_of(reader_client.get(article.get_absolute_url()))
    assert head.canonical() == head.one("og:url")


def test_article_structured_data_names_the_publisher_with_its_logo(reader_client, make_article):
    article = make_article()
    head = head_of(reader_client.get(article.get_absolute_url()))
    (news,) = [d for d in head.json_ld if d.get("@type") == "NewsArticle"]
    publisher = news["publisher"]
    assert publisher["@type"] == "NewsMediaOrganization"
    assert publisher["name"] == settings.ORGANIZATION_NAME
    assert publisher["logo"]["@type"] == "ImageObject"
    assert re.fullmatch(
        settings.SITE_URL + r"/static/site/icon-512\.\w+\.png", publisher["logo"]["url"]
    )


def test_the_web_app_manifest(reader_client):
    response = reader_client.get("/manifest.webmanifest")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/manifest+json"
    manifest = response.json()
    assert manifest["name"] == "Pressroom News"
    assert manifest["short_name"]
    assert len(manifest["short_name"]) <= 12
    assert manifest["theme_color"] == "#b3261e"
    assert manifest["background_color"] == LIGHT_BACKGROUND
    assert manifest["start_url"] == "/"
    assert {icon["sizes"] for icon in manifest["icons"]} == {"192x192", "512x512"}
    for icon in manifest["icons"]:
        assert icon["type"] == "image/png"
        assert reader_client.get(icon["src"]).status_code == 200, icon["src"]


def test_favicon_ico_leads_to_the_small_icon(reader_client):
    response = reader_client.get("/favicon.ico")
    assert response.status_code == 302
    assert re.fullmatch(r"/static/site/icon-32\.\w+\.png", response["Location"])
    assert reader_client.get(response["Location"]).status_code == 200


def test_no_public_page_loads_anything_from_another_site(reader_client, public_pages):
    for name, url in public_pages.items():
        head = head_of(reader_client.get(url))
        for address in head.loaded:
            parts = urlsplit(address)
            assert not parts.netloc or f"{parts.scheme}://{parts.netloc}" == settings.SITE_URL, (
                f"{name} loads {address}"
            )


def test_templates_name_no_third_party_address():
    """Fonts, scripts, stylesheets and images are this site's own: no template or stylesheet a
    reader's page uses points anywhere else (links readers follow are not loaded)."""
    root = Path(settings.BASE_DIR) / "pressroom"
    loads = re.compile(
        r"""(?:src|srcset)\s*=\s*["']https?://|@import|url\(\s*["']?https?://|fonts\.googleapis""",
        re.I,
    )
    offenders = []
    for path in [
        *root.glob("*/templates/**/*.html"),
        *root.glob("templates/*.html"),
        *root.glob("*/static/**/*.css"),
    ]:
        if "emails" in path.parts or "admin" in path.parts:
            continue  # emails carry absolute addresses of this site's own images
        if loads.search(path.read_text(encoding="utf-8")):
            offenders.append(str(path.relative_to(root)))
    assert offenders == []


def test_the_theme_backgrounds_are_the_ones_accents_are_checked_against():
    css = (Path(settings.BASE_DIR) / "pressroom/front/static/front/theme.css").read_text()
    light, dark = re.findall(r"--paper:\s*(#[0-9a-f]{6})", css)
    assert (light, dark) == (LIGHT_BACKGROUND, DARK_BACKGROUND)
    assert "prefers-color-scheme: dark" in css
    assert "prefers-reduced-motion: reduce" in css
    # System fonts only: no @font-face to download.
    assert "@font-face" not in css


def test_the_theme_costs_no_request_of_its_own(reader_client):
    html = reader_client.get("/").content.decode()
    blocking = re.findall(r'<link rel="stylesheet" href="([^"]+)"(?! media="print")>', html)
    assert len(blocking) == 1, blocking  # site.css; the theme is inlined, print.css is print-only
    style = re.search(r"<style>(.*?)</style>", html, re.S).group(1)
    assert "--accent:#b3261e" in style
    assert "prefers-color-scheme:dark" in style.replace(" ", "")
    assert len(style.encode()) < 2000, len(style.encode())
    assert re.search(
        r'<link rel="stylesheet" href="/static/front/print\.\w+\.css" media="print">', html
    )
