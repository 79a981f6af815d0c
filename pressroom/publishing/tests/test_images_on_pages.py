"""Images where a reader (and a link preview, a search engine, a feed reader) expects them: the
lead image with its caption and credit, thumbnails on every list of teasers, the social card
with a site-wide default, structured data in three ratios, and Media RSS in the feeds. Every
image is a real library item whose renditions the worker's own code made."""

from __future__ import annotations

import io
import json
import re
from html import unescape
from urllib.parse import urlsplit

import feedparser
import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext
from PIL import Image

from pressroom.lib.pagecache import forget_cached_pages
from pressroom.lib.pagecache.memo import forget_memos
from pressroom.media.models import MediaItem
from pressroom.media.tests.conftest import library_photo, media_root  # noqa: F401 (fixture)
from pressroom.publishing import listings
from pressroom.publishing.models import Article
from pressroom.publishing.templatetags.publishing import teaser_items

pytestmark = pytest.mark.django_db

SITE = "https://news.example.org"


@pytest.fixture(autouse=True)
def site_url(settings):
    settings.SITE_URL = SITE


@pytest.fixture
def photo(db) -> MediaItem:
    return library_photo(
        "marcha.jpg",
        alt_text="Miners walking on the Panamericana",
        caption="The march reached Lima at noon.",
        credit="Rosa Huaman",
    )


def stored_image(url: str) -> tuple[Image.Image, int]:
    """The file behind a page's absolute URL, opened from storage: (image, length)."""
    path = urlsplit(url).path
    assert url.startswith(SITE + "/media/"), url
    name = path.removeprefix("/media/")
    data = default_storage.open(name).read()
    return Image.open(io.BytesIO(data)), len(data)


def meta(html: str, attribute: str, name: str) -> str | None:
    found = re.search(rf'<meta {attribute}="{re.escape(name)}" content="([^"]*)">', html)
    return unescape(found.group(1)) if found else None


def json_ld(html: str) -> dict:
    """The page's NewsArticle (every page also carries the outlet's NewsMediaOrganization)."""
    found = [
        json.loads(payload)
        for payload in re.findall(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    ]
    articles = [data for data in found if data.get("@type") == "NewsArticle"]
    assert articles, "no structured data"
    return articles[0]


def test_article_shows_the_lead_image_with_caption_credit_and_its_social_card(
    reader_client, make_article, photo
):
    article = make_article(lead_image=photo)
    html = reader_client.get(article.get_absolute_url()).content.decode()

    figure = re.search(r'<figure class="lead-figure">(.*?)</figure>', html, re.DOTALL).group(1)
    assert 'alt="Miners walking on the Panamericana"' in figure
    assert 'fetchpriority="high"' in figure
    assert 'loading="lazy"' not in figure
    assert re.search(r'width="\d+" height="\d+"', figure)
    assert (
        "<figcaption>The march reached Lima at noon. "
        '<span class="credit">Rosa Huaman</span></figcaption>'
    ) in figure

    # The 1200x630 card, absolute, with its size, type and alt text.
    card = meta(html, "property", "og:image")
    social = photo.renditions.get(preset="social", format="jpeg")
    assert card == SITE + social.url
    image, _ = stored_image(card)
    assert image.size == (1200, 630)
    assert image.format == "JPEG"
    assert meta(html, "property", "og:image:width") == "1200"
    assert meta(html, "property", "og:image:height") == "630"
    assert meta(html, "property", "og:image:type") == "image/jpeg"
    assert meta(html, "property", "og:image:alt") == "Miners walking on the Panamericana"
    assert meta(html, "name", "twitter:card") == "summary_large_image"
    assert meta(html, "name", "twitter:image") == card


def test_structured_data_offers_the_image_in_16_9_4_3_and_1_1(reader_client, make_article, photo):
    article = make_article(lead_image=photo)
    data = json_ld(reader_client.get(article.get_absolute_url()).content.decode())

    ratios = []
    for image in data["image"]:
        assert image["@type"] == "ImageObject"
        stored, _ = stored_image(image["url"])
        assert stored.size == (image["width"], image["height"])
        assert stored.width * stored.height >= 50_000  # search engines' minimum
        ratios.append(round(stored.width / stored.height, 2))
    assert ratios == [round(16 / 9, 2), round(4 / 3, 2), 1.0]


def test_an_article_without_an_image_gets_the_site_wide_default_card(
    reader_client, make_article, settings
):
    article = make_article()
    html = reader_client.get(article.get_absolute_url()).content.decode()
    # Without any image, link previews show the site's square icon in a small card.
    assert re.fullmatch(
        SITE + r"/static/site/icon-512\.\w+\.png", meta(html, "property", "og:image")
    )
    assert meta(html, "name", "twitter:card") == "summary"
    assert "image" not in json_ld(html)

    settings.SOCIAL_IMAGE_DEFAULT_URL = "/static/front/card.png"
    settings.SOCIAL_IMAGE_DEFAULT_ALT = "The Pressroom masthead"
    forget_memos()  # environment settings change with a restart, which starts with no memos
    article = make_article("Teachers strike in Cusco")
    html = reader_client.get(article.get_absolute_url()).content.decode()
    assert meta(html, "property", "og:image") == SITE + "/static/front/card.png"
    assert meta(html, "property", "og:image:alt") == "The Pressroom masthead"
    assert meta(html, "name", "twitter:card") == "summary_large_image"

    settings.SOCIAL_IMAGE_DEFAULT_URL = "https://cdn.example.net/card.jpg"
    forget_memos()
    article = make_article("Farmers block the road to Puno")
    html = reader_client.get(article.get_absolute_url()).content.decode()
    assert meta(html, "property", "og:image") == "https://cdn.example.net/card.jpg"


def thumbnails(html: str) -> list[str]:
    return re.findall(r"<picture>.*?</picture>", html, re.DOTALL)


def test_teasers_on_home_topic_author_date_and_search_pages_show_thumbnails(
    reader_client, make_article, photo, topic, author
):
    with_image = make_article("Miners march on Lima", lead_image=photo)
    make_article("Teachers strike in Cusco")  # no image: a teaser as before
    published = with_image.published_at
    pages = {
        "home": "/",
        "topic": topic.get_absolute_url(),
        "author": author.get_absolute_url(),
        "month": f"/archive/{published:%Y}/{published:%m}/",
        "search": "/search/?q=miners",
    }
    thumb = photo.renditions.get(preset="thumb", format="jpeg")
    small = photo.renditions.get(preset="thumb-400", format="jpeg")
    for name, path in pages.items():
        response = reader_client.get(path)
        assert response.status_code == 200, name
        html = response.content.decode()
        [picture] = thumbnails(html)
        assert f'src="{thumb.url}"' in picture, name
        assert f"{small.url} 400w, {thumb.url} 800w" in picture, name
        assert 'width="800" height="600"' in picture, name
        assert 'loading="lazy"' in picture, name
        assert 'class="teaser-image"' in picture, name
        assert '<source type="image/webp"' in picture, name
        assert 'alt="Miners walking on the Panamericana"' in picture, name
        assert "Teachers strike in Cusco" in html or name == "search"


def test_the_topic_page_keeps_its_title_and_excerpt_structure(
    reader_client, make_article, photo, topic
):
    make_article(
        "Miners march on Lima",
        body="<p>Thousands of miners marched on Lima on Monday.</p>",
        lead_image=photo,
    )
    html = reader_client.get(topic.get_absolute_url()).content.decode()
    teaser = re.search(r'<li class="teaser">(.*?)</li>', html, re.DOTALL).group(1)
    heading = teaser.index("<h2><a href=")
    picture = teaser.index("<picture>")
    excerpt = teaser.index("<p>Thousands of miners marched on Lima on Monday.</p>")
    assert "<h1>Peru</h1>" in html
    assert heading < picture < excerpt  # title first, then the thumbnail beside the excerpt


@pytest.mark.parametrize("heading_level", [2, 3])
def test_list_teasers_with_a_thumbnail_match_the_teaser_template(
    make_article, photo, heading_level
):
    article = make_article(lead_image=photo)
    expected = render_to_string(
        "publishing/_teaser.html",
        {
            "article": Article.objects.for_listing().get(pk=article.pk),
            "heading_level": heading_level,
        },
    )
    assert "<picture>" in expected
    assert teaser_items(listings.latest_page({}).items, heading_level) == expected


def test_a_teaser_whose_renditions_are_not_ready_shows_the_original_at_the_thumbnail_size(
    make_article, reader_client, topic
):
    from pressroom.media import services as media_services
    from pressroom.media.tests.images import jpeg_with_gps

    item, _ = media_services.add_item_from_bytes(
        jpeg_with_gps(1000, 800), "new.jpg", alt_text="A new photo"
    )
    make_article(lead_image=item)
    [picture] = thumbnails(reader_client.get(topic.get_absolute_url()).content.decode())
    assert f'src="{item.url}"' in picture
    # The planned 4:3 crop's size, so nothing shifts when the thumbnail arrives.
    assert 'width="400" height="300"' in picture


def list_queries(client, path: str) -> list[str]:
    """The queries of a fresh render of `path` (nothing kept from an earlier one)."""
    forget_cached_pages()
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path).status_code == 200
    return [query["sql"] for query in queries.captured_queries]


def without_count(queries: list[str]) -> list[str]:
    return [sql for sql in queries if not sql.startswith("SELECT count(*)")]


def test_list_pages_read_thumbnails_in_a_constant_number_of_queries(
    reader_client, make_article, topic, author, settings
):
    settings.ARTICLES_PER_PAGE = 20
    photos = [
        library_photo(f"p{seed}.jpg", 480, 360, seed=seed, alt_text="A photo") for seed in (1, 2, 3)
    ]
    make_article("First", body="<p>The first article.</p>", lead_image=photos[0])
    make_article("Second", body="<p>The second article.</p>", lead_image=photos[1])
    paths = [
        "/",
        topic.get_absolute_url(),
        author.get_absolute_url(),
        "/search/?q=article",
    ]
    # Every article's body has the word "article", so the search page lists them all.
    few = {path: list_queries(reader_client, path) for path in paths}
    for number in range(25):
        make_article(
            f"Article {number}",
            body=f"<p>An article, number {number}.</p>",
            lead_image=photos[number % 3],
        )
    many = {path: list_queries(reader_client, path) for path in paths}
    for path in paths:
        html = reader_client.get(path).content.decode()
        assert len(thumbnails(html)) == 20, path
        # (A search whose results fit on one page needs no count of them: `search.views`.)
        assert len(without_count(many[path])) == len(without_count(few[path])), (
            path,
            few[path],
            many[path],
        )
        # Reads of the library's own tables (the author page also joins the author's portrait).
        media = [sql for sql in many[path] if sql.startswith('SELECT "media_')]
        assert len(media) == 2, (path, media)  # the items, then their thumbnails' renditions


def test_feeds_carry_the_lead_image_as_media_content_and_enclosure(
    reader_client, make_article, photo, topic
):
    make_article("Miners march on Lima", lead_image=photo)
    make_article("Teachers strike in Cusco")
    width_rendition = photo.renditions.get(preset="w1280", format="jpeg")
    for path in ("/feed/", topic.get_absolute_url() + "feed/"):
        feed = feedparser.parse(reader_client.get(path).content)
        assert not feed.bozo, feed.bozo_exception
        with_image, without = sorted(feed.entries, key=lambda entry: entry.title)
        [content] = with_image.media_content
        assert content["url"] == SITE + width_rendition.url
        assert content["type"] == "image/jpeg"
        assert content["medium"] == "image"
        assert (content["width"], content["height"]) == ("1280", "960")
        image, length = stored_image(content["url"])
        assert image.size == (1280, 960)
        assert content["filesize"] == str(length)
        assert with_image.media_credit[0]["content"] == "Rosa Huaman"
        assert with_image.summary == "Thousands of miners marched on Lima on Monday."
        [enclosure] = with_image.enclosures
        assert enclosure["href"] == content["url"]
        assert enclosure["type"] == "image/jpeg"
        assert enclosure["length"] == str(length)
        assert not without.get("media_content")
        assert not without.enclosures

    atom = feedparser.parse(reader_client.get("/feed/atom/").content)
    assert not atom.bozo, atom.bozo_exception
    entry = next(entry for entry in atom.entries if entry.title == "Miners march on Lima")
    [enclosure] = [link for link in entry.links if link["rel"] == "enclosure"]
    assert enclosure["href"] == SITE + width_rendition.url
    assert enclosure["type"] == "image/jpeg"
    assert enclosure["length"] == str(stored_image(enclosure["href"])[1])
    assert entry.media_content[0]["url"] == enclosure["href"]


def test_feeds_read_images_in_a_constant_number_of_queries(reader_client, make_article):
    photos = [
        library_photo(f"p{seed}.jpg", 480, 360, seed=seed, alt_text="A photo") for seed in (1, 2)
    ]
    make_article("First", lead_image=photos[0])
    few = list_queries(reader_client, "/feed/")
    for number in range(10):
        make_article(f"Article {number}", lead_image=photos[number % 2])
    many = list_queries(reader_client, "/feed/")
    assert len(feedparser.parse(reader_client.get("/feed/").content).entries) == 11
    assert len(many) == len(few)
