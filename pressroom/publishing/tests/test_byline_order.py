"""Byline order is the editor's: chosen "Tomás Mensah, Ana Quispe", shown so everywhere."""

import json
import re

import feedparser
import pytest

from pressroom.publishing import services
from pressroom.publishing.bylines import MAX_BYLINES
from pressroom.publishing.models import Article, Author
from pressroom.publishing.tests.test_admin import ADD_URL, article_form

pytestmark = pytest.mark.django_db


@pytest.fixture
def tomas(db) -> Author:
    return services.save_author(Author(name="Tomás Mensah"))


@pytest.fixture
def zoe(db) -> Author:
    return services.save_author(Author(name="Zoë Álvarez"))


def _order_on(text: str, *names: str) -> list[str]:
    return sorted(names, key=text.index)


def test_the_admin_saves_the_byline_in_the_order_chosen(editor_client, author, tomas, topic):
    response = editor_client.post(
        ADD_URL, article_form(authors_chosen=[tomas.pk, author.pk], topics_chosen=[topic.pk])
    )
    assert response.status_code == 302
    article = Article.objects.get(title="Teachers strike in Cusco")
    assert [a.name for a in article.bylines] == ["Tomás Mensah", "Ana Quispe"]


def test_the_change_form_shows_the_byline_in_its_order(editor_client, make_article, author, tomas):
    article = make_article(authors=[tomas, author])
    page = editor_client.get(f"/admin/publishing/article/{article.pk}/change/").content.decode()
    chosen = page[page.index("byline-picker__chosen") :]
    assert _order_on(chosen, "Ana Quispe", "Tomás Mensah") == ["Tomás Mensah", "Ana Quispe"]
    assert "publishing/bylines." in page  # the picker's script, hashed


def test_an_author_sent_twice_is_kept_once_and_the_empty_add_choice_is_ignored(
    editor_client, author, tomas, topic
):
    editor_client.post(
        ADD_URL,
        article_form(authors_chosen=[tomas.pk, author.pk, tomas.pk, ""], topics_chosen=[topic.pk]),
    )
    article = Article.objects.get(title="Teachers strike in Cusco")
    assert [a.name for a in article.bylines] == ["Tomás Mensah", "Ana Quispe"]


@pytest.mark.parametrize("bad", ["abc", "999999", "1" * 40])
def test_an_unknown_author_re_renders_the_form_with_an_error(editor_client, topic, bad):
    response = editor_client.post(ADD_URL, article_form(authors_chosen=[bad], topics_chosen=[]))
    assert response.status_code == 200
    assert "errorlist" in response.content.decode()
    assert not Article.objects.exists()


def test_too_many_authors_is_refused_with_a_message(editor_client, topic):
    people = [services.save_author(Author(name=f"Writer {n}")) for n in range(MAX_BYLINES + 1)]
    response = editor_client.post(ADD_URL, article_form(authors_chosen=[a.pk for a in people]))
    assert f"At most {MAX_BYLINES} authors" in response.content.decode()
    assert not Article.objects.exists()


def test_every_public_view_of_the_article_keeps_the_byline_order(
    client, make_article, author, tomas, zoe, topic
):
    """Article page, JSON-LD, teasers (home, topic, author), RSS and Atom feeds."""
    article = make_article(authors=[zoe, tomas, author])
    expected = ["Zoë Álvarez", "Tomás Mensah", "Ana Quispe"]

    page = client.get(article.get_absolute_url()).content.decode()
    byline = page[page.index("By <a") :]
    assert _order_on(byline, *expected) == expected
    # The page's NewsArticle (every page also carries the outlet's NewsMediaOrganization).
    (data,) = [
        found
        for found in map(
            json.loads, re.findall(r'application/ld\+json">(.*?)</script>', page, re.S)
        )
        if found["@type"] == "NewsArticle"
    ]
    assert [person["name"] for person in data["author"]] == expected

    for path in ("/", topic.get_absolute_url(), tomas.get_absolute_url()):
        listing = client.get(path).content.decode()
        teaser = listing[listing.index(article.title) :]
        assert ", ".join(expected) in teaser, path

    for path in ("/feed/", "/feed/atom/", topic.get_absolute_url() + "feed/"):
        entry = feedparser.parse(client.get(path).content).entries[0]
        assert entry.author == ", ".join(expected), path


def test_reordering_in_the_admin_changes_every_page(
    editor_client, client, make_article, author, tomas
):
    article = make_article(authors=[author, tomas])
    services.save_article(article, authors=[tomas, author])
    page = client.get(article.get_absolute_url()).content.decode()
    byline = page[page.index("By <a") :]
    assert _order_on(byline, "Ana Quispe", "Tomás Mensah") == ["Tomás Mensah", "Ana Quispe"]
