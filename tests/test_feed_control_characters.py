"""Feeds survive any text: control characters are dropped where text enters, and the feeds drop
whatever reaches them another way, so /feed/, /feed/atom/ and topic feeds always parse."""

from __future__ import annotations

from io import StringIO

import feedparser
import pytest
from django.core.management import call_command

from pressroom.importers.tests.wxr_samples import post_item, small_export
from pressroom.publishing.models import Article, Author, Topic
from pressroom.publishing.tests.test_admin import article_form as admin_article_form

pytestmark = pytest.mark.django_db

CONTROLS = "".join(chr(code) for code in range(1, 32) if chr(code) not in "\t\n\r")
FEEDS = ["/feed/", "/feed/atom/"]


def topic_feeds(topic: Topic) -> list[str]:
    return [f"/topics/{topic.slug}/feed/", f"/topics/{topic.slug}/feed/atom/"]


def parse(client, url: str):
    response = client.get(url)
    assert response.status_code == 200, url
    feed = feedparser.parse(response.content)
    assert not feed.bozo, (url, feed.get("bozo_exception"))
    return feed


def assert_no_controls(*texts: str) -> None:
    for text in texts:
        assert not any(character in text for character in CONTROLS), repr(text)


def article_form(**fields) -> dict:
    return admin_article_form(**{"title": "", "body": "", **fields})


def test_text_typed_in_the_admin_with_control_characters_and_their_entities(admin_client, client):
    response = admin_client.post(
        "/admin/publishing/topic/add/",
        {"name": "Pe\x02ru", "slug": "peru", "description": "Miners & <farmers>\x0c", "parent": ""},
    )
    assert response.status_code == 302
    topic = Topic.objects.get(slug="peru")
    response = admin_client.post(
        "/admin/publishing/author/add/",
        {"name": "Ana\x1b Quispe", "slug": "ana", "bio": "Andes\x07", "user": ""},
    )
    assert response.status_code == 302
    author = Author.objects.get(slug="ana")
    response = admin_client.post(
        "/admin/publishing/article/add/",
        article_form(
            title="Strike\x0b in\x01 Lima",
            body="<p>Raw\x0b, hex &#x0b; and decimal &#1; &#x1f; references.</p>",
            editor_excerpt="Summary\x08 here",
            lead_image_alt="Alt\x0e",
            original_outlet="Outlet\x10",
            topics_chosen=[str(topic.pk)],
            authors_chosen=[str(author.pk)],
        ),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    article = Article.objects.get()
    assert article.title == "Strike in Lima"
    assert_no_controls(
        article.title,
        article.body,
        article.excerpt,
        article.editor_excerpt,
        article.lead_image_alt,
        article.original_outlet,
        topic.name,
        topic.description,
        author.name,
        author.bio,
    )
    for url in FEEDS + topic_feeds(topic):
        feed = parse(client, url)
        assert [entry.title for entry in feed.entries] == ["Strike in Lima"]
    # The topic feed's channel description is plain text escaped like the items' descriptions.
    rss = parse(client, f"/topics/{topic.slug}/feed/")
    assert rss.feed.description == "Miners &amp; &lt;farmers&gt;"
    raw = client.get(f"/topics/{topic.slug}/feed/").content.decode()
    assert "<description>Miners &amp;amp; &amp;lt;farmers&amp;gt;</description>" in raw
    atom = parse(client, f"/topics/{topic.slug}/feed/atom/")
    assert atom.feed.subtitle == "Miners & <farmers>"


def test_a_wordpress_import_with_control_character_references(tmp_path, client):
    items = post_item(
        7,
        title="Vote &amp;#x0b; count &amp;#1;",
        content="<p>Ballots&#x0b; counted&#1; at&#x1f; night.</p>",
        post_name="vote-count",
        extra=(
            '<category domain="category" nicename="elections">'
            "<![CDATA[Elec&#x0b;tions]]></category>"
        ),
    ).replace(
        "<excerpt:encoded><![CDATA[]]>", "<excerpt:encoded><![CDATA[Short&#x0b; summary&#1;]]>"
    )
    path = tmp_path / "export.xml"
    path.write_bytes(small_export(items))
    call_command("import_wxr", str(path), stdout=StringIO())
    article = Article.objects.get()
    assert article.title == "Vote count"
    assert_no_controls(article.title, article.body, article.excerpt, article.editor_excerpt)
    topic = Topic.objects.get(slug="elections")
    assert_no_controls(topic.name)
    for url in FEEDS + topic_feeds(topic):
        feed = parse(client, url)
        assert [entry.title for entry in feed.entries] == ["Vote count"]


def test_the_feeds_defend_themselves_against_text_written_around_the_cleaning(
    client, make_article, topic, author
):
    article = make_article("Clean title")
    # An SQL update by hand, or a row from before this cleaning existed.
    Article.objects.filter(pk=article.pk).update(
        title="Dirty\x0b title",
        body="<p>Body\x01</p>",
        excerpt="Excerpt\x02",
        editor_excerpt="Excerpt\x02",
    )
    Topic.objects.filter(pk=topic.pk).update(name="Peru\x03", description="About\x04 Peru")
    Author.objects.filter(pk=author.pk).update(name="Ana\x05")
    for url in FEEDS + topic_feeds(topic):
        feed = parse(client, url)
        assert [entry.title for entry in feed.entries] == ["Dirty title"]
        assert_no_controls(feed.entries[0].summary, feed.feed.title)
