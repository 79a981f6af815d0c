"""What a reader sees: home, article, topic, author pages, with the site's frame on each."""

import json
import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.template import loader
from django.template.loader_tags import BlockNode
from django.utils import timezone

from pressroom.publishing import services
from pressroom.publishing.models import Author, Topic
from pressroom.publishing.tests.pages import outline

pytestmark = pytest.mark.django_db


def _json_ld(html: str) -> dict:
    """The page's NewsArticle (every page also carries the outlet's NewsMediaOrganization)."""
    found = [
        json.loads(payload)
        for payload in re.findall(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    ]
    articles = [data for data in found if data.get("@type") == "NewsArticle"]
    assert articles, "no NewsArticle JSON-LD on the page"
    return articles[0]


@pytest.fixture
def public_pages(make_article, topic, author) -> list[str]:
    article = make_article()
    return [
        "/",
        article.get_absolute_url(),
        "/topics/",
        topic.get_absolute_url(),
        author.get_absolute_url(),
        "/no-such-page/",
    ]


def test_every_page_starts_with_skip_to_content_pointing_at_the_main_landmark(client, public_pages):
    for url in public_pages:
        response = client.get(url)
        assert response.status_code in (200, 404), url
        page = outline(response.content.decode())
        assert page.first_focusable is not None, url
        tag, attributes, text = page.first_focusable
        assert (tag, attributes.get("href"), text) == ("a", "#content", "Skip to content"), url
        mains = page.elements("main")
        assert len(mains) == 1, url
        assert mains[0]["id"] == "content", url


def test_every_page_has_header_navigation_and_footer(client, public_pages):
    for url in public_pages:
        page = outline(client.get(url).content.decode())
        assert page.elements("header"), url
        assert any(nav.get("aria-label") == "Main" for nav in page.elements("nav")), url
        assert page.elements("footer"), url


def test_base_template_offers_the_campaign_and_digest_blocks():
    template = loader.get_template("base.html").template
    names = {node.name for node in template.nodelist.get_nodes_by_type(BlockNode)}
    assert {"campaign_banner", "digest_signup", "content", "head"} <= names


def test_featured_topics_appear_in_the_header_navigation(client, make_article):
    services.save_topic(Topic(name="Climate", is_featured=True))
    html = client.get("/").content.decode()
    nav = html.split('aria-label="Main"', 1)[1].split("</nav>", 1)[0]
    assert 'href="/topics/climate/"' in nav


def test_home_lists_newest_articles_first(client, make_article):
    older = make_article(title="Older story", published_at=timezone.now() - timedelta(days=2))
    newer = make_article(title="Newer story", published_at=timezone.now() - timedelta(hours=1))
    make_article(title="Draft story", status="draft")
    html = client.get("/").content.decode()
    assert html.index(newer.title) < html.index(older.title)
    assert "Draft story" not in html


def test_article_page_shows_title_byline_date_topics_and_body(client, make_article, topic, author):
    article = make_article(
        body="<p>Thousands marched.</p><h2>Why</h2><p>Because.</p>",
        published_at=timezone.now().replace(year=2024, month=3, day=5),
    )
    html = client.get(article.get_absolute_url()).content.decode()
    assert f"<h1>{article.title}</h1>" in html
    assert f'By <a href="/authors/{author.slug}/">{author.name}</a>' in html
    assert "5 March 2024" in html
    assert f'<a href="/topics/{topic.slug}/">{topic.name}</a>' in html
    assert "<h2>Why</h2>" in html
    own_url = settings.SITE_URL + article.get_absolute_url()
    assert f'<link rel="canonical" href="{own_url}">' in html
    assert f'<meta property="og:url" content="{own_url}">' in html
    assert '<meta property="og:type" content="article">' in html
    assert f'<meta property="og:title" content="{article.title}">' in html
    data = _json_ld(html)
    assert data["@type"] == "NewsArticle"
    assert data["headline"] == article.title
    assert data["author"][0]["name"] == author.name
    assert data["datePublished"].startswith("2024-03-05")


def test_republished_article_credits_and_points_canonical_at_the_original(client, make_article):
    article = make_article(
        original_outlet="Servindi", original_url="https://www.servindi.org/2024/03/miners/"
    )
    html = client.get(article.get_absolute_url()).content.decode()
    assert (
        'Originally published by <a href="https://www.servindi.org/2024/03/miners/">Servindi</a>'
        in html
    )
    assert '<link rel="canonical" href="https://www.servindi.org/2024/03/miners/">' in html
    assert _json_ld(html)["mainEntityOfPage"] == "https://www.servindi.org/2024/03/miners/"


def test_json_ld_cannot_break_out_of_its_script(client, make_article):
    article = make_article(title="</script><script>alert(1)</script>")
    html = client.get(article.get_absolute_url()).content.decode()
    assert "<script>alert(1)" not in html
    assert _json_ld(html)["headline"] == "</script><script>alert(1)</script>"


def test_topic_index_lists_every_topic(client, topic):
    services.save_topic(Topic(name="Climate"))
    html = client.get("/topics/").content.decode()
    assert '<a href="/topics/peru/">Peru</a>' in html
    assert '<a href="/topics/climate/">Climate</a>' in html


def test_topic_page_has_the_topic_as_heading_and_linked_teasers(client, make_article, topic):
    article = make_article(
        body="<p>Miners &amp; farmers marched.</p>",
        published_at=timezone.now().replace(year=2025, month=1, day=9),
    )
    html = client.get(topic.get_absolute_url()).content.decode()
    assert "<h1>Peru</h1>" in html
    assert f'<a href="{article.get_absolute_url()}">{article.title}</a>' in html
    assert "9 January 2025" in html
    assert "Miners &amp; farmers marched." in html


def test_topic_page_shows_only_its_own_articles(client, make_article, topic):
    other = services.save_topic(Topic(name="Chile"))
    make_article(title="Peru story")
    make_article(title="Chile story", topics=[other])
    html = client.get(topic.get_absolute_url()).content.decode()
    assert "Peru story" in html
    assert "Chile story" not in html


def test_author_page_lists_the_authors_articles(client, make_article, author):
    colleague = services.save_author(Author(name="Luis Mamani"))
    make_article(title="Ana's story")
    make_article(title="Luis's story", authors=[colleague])
    html = client.get(author.get_absolute_url()).content.decode()
    assert f"<h1>{author.name}</h1>" in html
    assert "Ana&#x27;s story" in html
    assert "Luis&#x27;s story" not in html


def test_unknown_topic_and_author_are_404(client, db):
    assert client.get("/topics/atlantis/").status_code == 404
    assert client.get("/authors/nobody/").status_code == 404
    assert client.get("/topics/atlantis/feed/").status_code == 404


def test_titles_in_any_script_get_working_addresses(client, make_article):
    for title in [
        "Perú: huelga minera en Puno",
        "Україна: страйк шахтарів",
        "ペルーの鉱山ストライキ",
    ]:
        article = make_article(title=title)
        assert client.get(article.get_absolute_url()).status_code == 200, title
    topic = services.save_topic(Topic(name="Perú"))
    assert client.get(topic.get_absolute_url()).status_code == 200
    assert client.get(topic.get_absolute_url() + "feed/").status_code == 200
