"""Following the site without a platform: RSS, Atom, the sitemap and robots.txt."""

import xml.etree.ElementTree as ET
from datetime import timedelta

import feedparser
import pytest
from django.utils import timezone

from pressroom.publishing import services
from pressroom.publishing.models import Topic
from pressroom.publishing.sitemaps import ArticleSitemap

pytestmark = pytest.mark.django_db


@pytest.fixture
def stories(make_article):
    chile = services.save_topic(Topic(name="Chile"))
    older = make_article(title="Older Peru story", published_at=timezone.now() - timedelta(days=3))
    newer = make_article(
        title="Newer Peru story",
        body="<p>Miners &amp; farmers march.</p><p>Second.</p>",
        published_at=timezone.now() - timedelta(hours=1),
    )
    chilean = make_article(title="Chile story", topics=[chile])
    make_article(title="Draft story", status="draft")
    make_article(title="Future story", published_at=timezone.now() + timedelta(days=1))
    return older, newer, chilean


def _parse(client, url: str):
    response = client.get(url)
    assert response.status_code == 200, url
    feed = feedparser.parse(response.content)
    assert not feed.bozo, (url, feed.get("bozo_exception"))
    return response, feed


def test_site_rss_feed_is_valid_rss_2_newest_first(client, stories):
    older, newer, chilean = stories
    response, feed = _parse(client, "/feed/")
    assert response["Content-Type"].startswith("application/rss+xml")
    assert feed.version == "rss20"
    titles = [entry.title for entry in feed.entries]
    assert titles.index(newer.title) < titles.index(older.title)
    assert set(titles) == {older.title, newer.title, chilean.title}
    entry = feed.entries[titles.index(newer.title)]
    assert entry.link.endswith(newer.get_absolute_url())
    assert entry.summary == "Miners &amp; farmers march."
    assert [tag.term for tag in entry.tags] == ["Peru"]


def test_site_atom_feed_is_valid_atom(client, stories):
    response, feed = _parse(client, "/feed/atom/")
    assert response["Content-Type"].startswith("application/atom+xml")
    assert feed.version == "atom10"
    assert {entry.title for entry in feed.entries} == {story.title for story in stories}
    assert all(entry.author for entry in feed.entries)


@pytest.mark.parametrize("url", ["/feed/", "/feed/atom/"])
def test_feeds_carry_the_whole_article_for_readers_and_republishing_partners(client, stories, url):
    _, newer, _ = stories
    _, feed = _parse(client, url)
    entry = next(entry for entry in feed.entries if entry.title == newer.title)
    assert entry.content[0].value == newer.body
    assert entry.summary == "Miners &amp; farmers march."


def test_topic_feeds_hold_only_the_topics_articles(client, stories):
    older, newer, _chilean = stories
    _, rss = _parse(client, "/topics/peru/feed/")
    assert rss.version == "rss20"
    assert rss.feed.title.startswith("Peru")
    assert [entry.title for entry in rss.entries] == [newer.title, older.title]
    _, atom = _parse(client, "/topics/peru/feed/atom/")
    assert atom.version == "atom10"
    assert [entry.title for entry in atom.entries] == [newer.title, older.title]


def test_topic_page_advertises_its_feed(client, stories):
    html = client.get("/topics/peru/").content.decode()
    assert 'type="application/rss+xml"' in html
    assert 'href="/topics/peru/feed/"' in html


SITEMAP_NAMESPACE = {"sm": "http://www.sitemaps.org/schemas/sitemap/0.9"}


def _locations(client, url: str) -> list[str]:
    response = client.get(url)
    assert response.status_code == 200, url
    root = ET.fromstring(response.content)  # noqa: S314 (our own output)
    return [loc.text or "" for loc in root.findall(".//sm:loc", SITEMAP_NAMESPACE)]


def _sitemap_pages(client) -> list[str]:
    """Every address the sitemap index leads to, following each section sitemap."""
    pages = []
    for section in _locations(client, "/sitemap.xml"):
        pages += _locations(client, section.removeprefix("http://testserver"))
    return pages


def test_sitemap_lists_public_articles_topics_and_authors(client, stories):
    older, newer, chilean = stories
    locations = _sitemap_pages(client)
    for path in [
        older.get_absolute_url(),
        newer.get_absolute_url(),
        chilean.get_absolute_url(),
        "/topics/peru/",
        "/topics/chile/",
        "/authors/ana-quispe/",
    ]:
        assert sum(location.endswith(path) for location in locations) == 1, path
    assert not any("draft-story" in location for location in locations)
    assert not any("future-story" in location for location in locations)


def test_sitemap_index_leads_to_every_article_beyond_one_sitemap_page(
    client, make_article, monkeypatch
):
    monkeypatch.setattr(ArticleSitemap, "limit", 2)
    articles = [make_article(title=f"Story {number}") for number in range(5)]
    locations = _sitemap_pages(client)
    for article in articles:
        assert sum(loc.endswith(article.get_absolute_url()) for loc in locations) == 1


def test_robots_txt_keeps_crawlers_out_of_the_admin_and_points_at_the_sitemap(client, db):
    response = client.get("/robots.txt")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    lines = response.content.decode().splitlines()
    assert "User-agent: *" in lines
    assert "Disallow: /admin/" in lines
    assert any(line.startswith("Sitemap: ") and line.endswith("/sitemap.xml") for line in lines)


def test_text_that_looks_like_markup_in_an_excerpt_stays_text_in_feeds(client, make_article):
    make_article(title="Markup", editor_excerpt="Why &lt;script&gt; tags matter")
    _, feed = _parse(client, "/feed/")
    assert feed.entries[0].summary == "Why &lt;script&gt; tags matter"
