"""The pages' layouts as markup (issue 14): the home page's parts, the article's byline photos,
related articles and share links, search with its count, the donate page's progress and
suggested amount, /digest/'s folded topic groups, the digest archive's links, the documented
blocks, and what a topic page weighs."""

from __future__ import annotations

import gzip
import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.db import connection
from django.test.utils import CaptureQueriesContext

from pressroom.lib.pagecache import forget_cached_pages
from pressroom.media.tests.conftest import library_photo, media_root  # noqa: F401 (fixture)
from pressroom.publishing import article_page, listings, services
from pressroom.publishing.models import Author, Topic

pytestmark = pytest.mark.django_db


def fresh_render(client, path: str) -> tuple[str, list[str]]:
    """A render of `path` with nothing kept from an earlier one: its HTML and its queries."""
    forget_cached_pages()
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200, path
    return response.content.decode(), [query["sql"] for query in queries.captured_queries]


def section(html: str, css_class: str) -> str:
    start = html.index(f'class="{css_class}"')
    return html[start : html.index("</section>", start)]


def test_the_article_page_reads_bylines_photos_and_related_articles_in_fixed_queries(
    reader_client, make_article, topic, author
):
    portrait = library_photo("ana.jpg", 400, 400, seed=3, alt_text="Ana")
    photo = library_photo("march.jpg", 480, 360, seed=4, alt_text="A march")
    author.photo = portrait
    services.save_author(author)
    make_article("Older on Peru", lead_image=photo)
    few = make_article("A story with one author and one topic", lead_image=photo)
    few_html, few_queries = fresh_render(reader_client, few.get_absolute_url())

    # Three authors with portraits, three topics, and a dozen related articles with photos.
    others = [
        services.save_author(Author(name=f"Reporter {number}", photo=portrait))
        for number in range(2)
    ]
    topics = [topic] + [services.save_topic(Topic(name=f"Topic {n}")) for n in range(2)]
    for number in range(12):
        make_article(f"Related {number}", lead_image=photo, topics=[topics[number % 3]])
    many = make_article(
        "A story with three authors and three topics",
        lead_image=photo,
        topics=topics,
        authors=[author, *others],
    )
    many_html, many_queries = fresh_render(reader_client, many.get_absolute_url())

    assert len(many_queries) == len(few_queries), (few_queries, many_queries)
    # The related articles: the newest of the article's first topic by name (Peru's).
    related = section(many_html, "related")
    titles = re.findall(r"<h3><a [^>]*>([^<]+)</a></h3>", related)
    assert titles == ["Related 9", "Related 6", "Related 3", "Related 0"]
    assert related.count('class="teaser-image"') == 4
    # Each author's portrait beside the byline, the names linked.
    byline = many_html.split('class="byline"', 1)[1].split("</div>", 1)[0]
    assert byline.count('class="author-photo"') == 3
    assert all(f">{name}</a>" in byline for name in ["Ana Quispe", "Reporter 0", "Reporter 1"])
    assert 'class="author-photo"' in few_html


def test_related_articles_share_a_topic_are_public_and_never_the_article_itself(
    make_article, topic
):
    elsewhere = services.save_topic(Topic(name="Chile"))
    same = make_article("Same topic")
    make_article("Other topic", topics=[elsewhere])
    make_article("A draft", status="draft")
    article = make_article("The article")
    related = article_page.related_articles(article_page.article_or_404(article.slug))
    assert [teaser.title for teaser in related] == ["Same topic"]
    assert related[0].id == same.pk


def test_the_article_shows_summary_republication_and_share_links_to_plain_addresses(
    reader_client, make_article, settings
):
    settings.SITE_URL = "https://news.example.org"
    article = make_article(
        "Miners march on Lima",
        editor_excerpt="The biggest march in a decade.",
        original_outlet="Servindi",
        original_url="https://www.servindi.org/miners/",
    )
    html, _ = fresh_render(reader_client, article.get_absolute_url())
    assert '<p class="standfirst">The biggest march in a decade.</p>' in html
    assert 'Originally published by <a href="https://www.servindi.org/miners/">Servindi</a>' in html
    share = html.split('class="share-links"', 1)[1].split("</ul>", 1)[0]
    address = "https%3A%2F%2Fnews.example.org%2Farticles%2Fminers-march-on-lima%2F"
    assert f'href="mailto:?subject=Miners%20march%20on%20Lima&amp;body={address}"' in share
    assert f'href="https://www.facebook.com/sharer/sharer.php?u={address}"' in share
    # Plain links: nothing from the services is loaded by the page.
    assert "<script" not in share
    assert "<iframe" not in share
    assert "<img" not in share


def test_the_home_page_has_a_lead_featured_latest_and_topic_sections(
    reader_client, make_article, topic
):
    photo = library_photo("lead.jpg", 480, 360, seed=5, alt_text="The lead photo")
    topic.is_featured = True
    services.save_topic(topic)
    bolivia = services.save_topic(Topic(name="Bolivia", is_featured=True))
    for number in range(8):
        make_article(f"Story {number}", topics=[bolivia] if number % 2 else [topic])
    make_article("The lead story", lead_image=photo)
    html, queries = fresh_render(reader_client, "/")
    lead = section(html, "home-lead")
    assert "The lead story" in lead
    # The lead's picture is shown across the column and first: eager, with high priority.
    picture = re.search(r"<img [^>]*>", lead)
    assert picture
    assert 'sizes="(min-width: 64rem) 46rem, 100vw"' in picture.group()
    assert 'fetchpriority="high"' in picture.group()
    assert 'loading="lazy"' not in picture.group()
    assert section(html, "home-featured").count('class="teaser"') == 4
    assert "Latest articles" in html
    topics_part = html.split('class="home-topics"', 1)[1].split("</main>", 1)[0]
    assert re.findall(r'<h3 id="topic-section-\d+"><a [^>]*>([^<]+)</a>', topics_part) == [
        "Bolivia",
        "Peru",
    ]
    assert topics_part.count("<h4>") == 2 * listings.HOME_TOPIC_SECTION_ITEMS
    # The sections are one query for all the topics.
    assert len([sql for sql in queries if "UNION ALL" in sql]) == 1


def test_search_shows_the_query_and_how_many_articles_match(reader_client, make_article):
    for number in range(3):
        make_article(f"Teachers strike, day {number}", body="<p>Teachers strike.</p>")
    make_article("Miners march", body="<p>Miners.</p>")
    html, _ = fresh_render(reader_client, "/search/?q=teachers")
    assert "Search results for “teachers”" in html
    assert "3 articles match “teachers”" in html
    html, _ = fresh_render(reader_client, "/search/?q=miners")
    assert "1 article match “miners”" in html


def test_search_counts_stop_at_the_cap(make_article):
    from pressroom.search.backends import count_article_matches

    for number in range(4):
        make_article(f"Teachers strike, day {number}", body="<p>Teachers strike.</p>")
    assert count_article_matches("teachers") == 4
    assert count_article_matches("teachers", cap=2) == 2
    assert count_article_matches("   ") == 0


def test_the_donate_page_repeats_the_goal_and_progress_and_checks_a_suggested_amount(
    reader_client, settings
):
    from pressroom.fundraising.demo import create_demo_campaign

    settings.STRIPE_SECRET_KEY = "sk_test_pressroom"
    create_demo_campaign()
    html = reader_client.get("/donate/").content.decode()
    progress = section(html, "donate-campaign")
    assert '<progress max="25000.00"' in progress
    assert "of our $25,000 goal" in progress
    checked = re.findall(r'<input type="radio" name="amount" value="([^"]+)" checked>', html)
    assert checked == ["25"]
    # What a reader chose wins over the suggestion.
    html = reader_client.get("/donate/?amount=100").content.decode()
    assert re.findall(r'name="amount" value="([^"]+)" checked', html) == ["100"]


def test_suggested_amount_is_the_middle_preset():
    from pressroom.fundraising.forms import suggested_amount

    assert suggested_amount([Decimal(10), Decimal(25), Decimal(50), Decimal(100)]) == 25
    assert suggested_amount([Decimal(5), Decimal(20), Decimal(40)]) == 20
    assert suggested_amount([Decimal(30)]) == 30


def test_the_digest_page_folds_topic_groups_below_the_subscribe_button(reader_client):
    for number in range(60):
        name = f"{chr(ord('A') + number % 26)}topic {number}"
        services.save_topic(Topic(name=name, is_featured=number < 4))
    html = reader_client.get("/digest/").content.decode()
    button = html.index(">Subscribe</button>")
    assert button < html.index("<details")
    summaries = re.findall(r"<summary>([^<]+)<span", html)
    assert summaries[0].strip() == "Featured topics"
    assert all(name.strip().startswith("Topics ") for name in summaries[1:])
    assert len(summaries) >= 3
    assert "<details open>" not in html
    assert html.count('name="topics"') == 60
    email = re.search(r"<input [^>]*name=\"email\"[^>]*>", html)
    assert email
    assert 'type="email"' in email.group()
    assert 'autocomplete="email"' in email.group()
    # A form sent back with a bad topic opens the groups, so the error is in view.
    response = reader_client.post("/digest/", {"email": "rosa@example.org", "topics": ["999999"]})
    assert response.status_code == 400
    assert "<details open>" in response.content.decode()


def test_the_digest_archive_is_linked_from_the_footer_and_the_signup_block(
    reader_client, make_article
):
    article = make_article()
    html = reader_client.get(article.get_absolute_url()).content.decode()
    footer = html.split('class="site-footer"', 1)[1]
    assert '<a href="/digest/archive/">Digest archive</a>' in footer
    signup = section(html, "digest-signup")
    assert '<a href="/digest/archive/">Read past digests</a>' in signup
    # The signup block inside the article (phones) and the sidebar's (desktops) are two
    # forms with ids of their own.
    assert html.count('type="email"') == 2
    assert 'id="digest-signup-inline-email"' in html
    assert 'id="digest-signup-email"' in html
    assert 'href="/donate/">Donate</a>' in html.split('class="site-header"', 1)[1]


def test_the_blocks_a_theme_overrides_are_documented():
    templates = Path(__file__).resolve().parents[2]
    docs = (templates.parent / "docs" / "editing.md").read_text()
    listed = docs.split("## Templates and blocks", 1)[1]
    for name in [
        "templates/base.html",
        "publishing/templates/publishing/home.html",
        "publishing/templates/publishing/topic_detail.html",
        "publishing/templates/publishing/article_detail.html",
        "fundraising/templates/fundraising/donate.html",
    ]:
        blocks = re.findall(r"{% block (\w+) %}", (templates / name).read_text())
        assert blocks, name
        for block in blocks:
            assert f"`{block}`" in listed, (name, block)


def test_a_topic_page_with_its_styles_and_scripts_weighs_under_60_kb_compressed(
    reader_client, make_article, topic, settings
):
    from pressroom.fundraising.demo import create_demo_campaign

    settings.ARTICLES_PER_PAGE = 20
    create_demo_campaign()
    photo = library_photo("p.jpg", 480, 360, seed=6, alt_text="A photo of the march")
    for number in range(25):
        make_article(
            f"Teachers in Cusco strike for the {number}th day over unpaid wages",
            body="<p>" + "The strike goes on, and the ministry has not answered. " * 8 + "</p>",
            lead_image=photo,
        )
    html = reader_client.get(topic.get_absolute_url()).content.decode()
    assert html.count('class="teaser"') == 20
    assets = re.findall(r'(?:href|src)="/static/([^"]+\.(?:css|js))"', html)
    assert {Path(asset).name.split(".")[0] for asset in assets} >= {"site", "fundraising"}
    # The banner's script is inline (allowed by its hash): it is part of the page's HTML.
    assert "pressroom:campaign-dismissed:" in html
    total = len(gzip.compress(html.encode()))
    for asset in assets:
        # The hashed name's file, as collectstatic wrote it (or the app's own in development).
        found = finders.find(re.sub(r"\.[0-9a-f]{12}(\.\w+)$", r"\1", asset))
        assert found, asset
        total += len(gzip.compress(Path(found).read_bytes()))
    assert total < 60 * 1024, total


def test_a_template_of_the_same_name_replaces_one_block_of_a_page(
    reader_client, make_article, settings, tmp_path
):
    # What docs/editing.md shows: an outlet's template extends the app's, one block replaced.
    override = tmp_path / "publishing" / "article_detail.html"
    override.parent.mkdir()
    override.write_text(
        '{% extends "publishing/article_detail.html" %}{% block share %}No sharing.{% endblock %}'
    )
    settings.TEMPLATES = [
        {**settings.TEMPLATES[0], "DIRS": [tmp_path, *settings.TEMPLATES[0]["DIRS"]]}
    ]
    article = make_article()
    html, _ = fresh_render(reader_client, article.get_absolute_url())
    assert "No sharing." in html
    assert 'class="share-links"' not in html
    assert "<h1>Miners march on Lima</h1>" in html
