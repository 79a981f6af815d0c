"""Old addresses' answers (301 to where the content lives now, 410 for what was not brought
over) are stored by the page cache like pages: under the content generation, so a rename shows
at once, keyed with their query string, and bounded however many queries anyone makes up."""

from __future__ import annotations

import pytest
from django.test import Client

from pressroom.lib.pagecache import middleware as pagecache_middleware
from pressroom.publishing import services
from pressroom.publishing.models import Article, Topic
from tests.test_page_cache_wsgi import _keep_the_test_transaction, serve  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("_keep_the_test_transaction")]


@pytest.fixture
def old_addresses(make_article, topic: Topic) -> Article:
    article = make_article(title="Miners march on Lima")
    services.write_legacy_paths(
        {
            "/2019/05/miners-march/": article,
            "/?p=12": article,
            "/?cat=2": topic,
            "/tag/peru/": topic,
            "/about-us/": services.GONE,
        }
    )
    return article


def test_an_old_address_is_answered_from_the_page_cache_after_the_first_request(
    old_addresses: Article, topic: Topic
):
    reader = Client()
    expected = {
        "/2019/05/miners-march/": old_addresses.get_absolute_url(),
        "/?p=12": old_addresses.get_absolute_url(),
        "/?cat=2": topic.get_absolute_url(),
        "/tag/peru/": topic.get_absolute_url(),
        "/?s=lima+strike": "/search/?q=lima+strike",
    }
    for path, location in expected.items():
        first = reader.get(path)
        assert (first.status_code, first["Location"], first["X-Page-Cache"]) == (
            301,
            location,
            "miss",
        ), path
        again = reader.get(path)
        assert (again.status_code, again["Location"], again["X-Page-Cache"]) == (
            301,
            location,
            "hit",
        ), path
        assert "ETag" not in again  # validators are a page's: a redirect answers in full
    # The query string is part of the key: another search is not the stored one.
    other = reader.get("/?s=cusco")
    assert (other["Location"], other["X-Page-Cache"]) == ("/search/?q=cusco", "miss")
    # What was not brought over answers 410 Gone, stored the same way.
    assert reader.get("/about-us/").status_code == 410
    gone = reader.get("/about-us/")
    assert (gone.status_code, gone["X-Page-Cache"]) == (410, "hit")


def test_the_wsgi_front_serves_a_stored_redirect_before_django_builds_a_request(
    old_addresses: Article,
):
    # (Only the WSGI front here: the test client would connect the handler's closing of
    # database connections again, which ends a test's transaction on PostgreSQL.)
    assert serve("/?p=12")[1]["X-Page-Cache"] == "miss"
    status, headers, body = serve("/?p=12")
    assert (status, headers["Location"], headers["X-Page-Cache"], body) == (
        "301 Moved Permanently",
        old_addresses.get_absolute_url(),
        "hit",
        b"",
    )


def test_a_stored_redirect_follows_a_rename_of_the_article_or_the_topic(
    old_addresses: Article, topic: Topic, django_capture_on_commit_callbacks
):
    reader = Client()
    for _ in range(2):
        assert reader.get("/?p=12")["Location"] == "/articles/miners-march-on-lima/"
        assert reader.get("/tag/peru/")["Location"] == "/topics/peru/"
    assert reader.get("/tag/peru/")["X-Page-Cache"] == "hit"

    old_addresses.slug = "miners-reach-lima"
    topic.slug = "peru-news"
    with django_capture_on_commit_callbacks(execute=True):
        services.save_article(old_addresses)
        services.save_topic(topic)

    for _ in range(2):
        assert reader.get("/?p=12")["Location"] == "/articles/miners-reach-lima/"
        assert reader.get("/2019/05/miners-march/")["Location"] == "/articles/miners-reach-lima/"
        assert reader.get("/tag/peru/")["Location"] == "/topics/peru-news/"
        # The slugs the rename left behind redirect to the new ones, stored the same way.
        assert reader.get("/articles/miners-march-on-lima/")["Location"] == (
            "/articles/miners-reach-lima/"
        )
        assert reader.get("/topics/peru/")["Location"] == "/topics/peru-news/"
    assert reader.get("/topics/peru/")["X-Page-Cache"] == "hit"

    topic.slug = "peru-today"
    with django_capture_on_commit_callbacks(execute=True):
        services.save_topic(topic)
    # Renamed twice: the first slug and the old site's address lead to the newest one.
    assert reader.get("/topics/peru/")["Location"] == "/topics/peru-today/"
    assert reader.get("/tag/peru/")["Location"] == "/topics/peru-today/"


def test_made_up_query_strings_cannot_fill_the_cache(old_addresses: Article, monkeypatch):
    monkeypatch.setattr(pagecache_middleware, "MAX_STORED_QUERY_ANSWERS", 3)
    reader = Client()
    for number in range(6):
        assert reader.get(f"/?s=word{number}")["Location"] == f"/search/?q=word{number}"
    statuses = [reader.get(f"/?s=word{number}")["X-Page-Cache"] for number in range(6)]
    # The first three were stored; the rest are answered, right, every time, and not kept.
    assert statuses == ["hit", "hit", "hit", "miss", "miss", "miss"]
    assert reader.get("/?s=word5")["Location"] == "/search/?q=word5"
    # Addresses without a query string are not counted: an old path answers 301 only when it
    # names something the site has.
    for _ in range(2):
        last = reader.get("/tag/peru/")
    assert last["X-Page-Cache"] == "hit"
    # Pages with made-up queries (a link's tracking parameters) count too: they are pages
    # readers get, rendered every time once the window's budget is spent, and not kept.
    for _ in range(2):
        tracked = reader.get("/?utm_source=newsletter-1234")
    assert tracked.status_code == 200
    assert tracked["X-Page-Cache"] == "miss"
    assert reader.get("/")["X-Page-Cache"] in ("miss", "hit")
