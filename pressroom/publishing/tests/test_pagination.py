"""Walking archives page by page: every article exactly once, in order, at constant cost."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from pressroom.publishing import listings, services
from pressroom.publishing.models import Article, Author, Topic
from pressroom.publishing.pagination import Cursor

pytestmark = pytest.mark.django_db

PER_PAGE = 4


@pytest.fixture
def archive(make_article, settings, tmp_path) -> list[str]:
    """23 published articles, newest first; some share a publication time to the microsecond."""
    settings.ARTICLES_PER_PAGE = PER_PAGE
    base = timezone.now().replace(microsecond=999_999) - timedelta(days=30)
    titles = []
    for number in range(23):
        # Groups of three share a time, so the id has to break ties.
        published_at = base + timedelta(hours=number // 3)
        titles.append(make_article(title=f"Story {number:02d}", published_at=published_at).title)
    make_article(title="Draft story", status="draft")
    make_article(title="Future story", published_at=timezone.now() + timedelta(days=1))
    return list(reversed(titles))


def _teaser_titles(html: str) -> list[str]:
    return re.findall(r'<a href="/articles/[^"]+/">(Story \d\d)</a>', html)


def _pager_link(html: str, rel: str) -> str | None:
    match = re.search(rf'<a href="(\?[^"]+)" rel="{rel}">', html)
    return match.group(1).replace("&amp;", "&") if match else None


@pytest.mark.parametrize("url", ["/", "/topics/peru/", "/authors/ana-quispe/"])
def test_walking_older_then_newer_shows_every_article_once_in_order(client, archive, url):
    seen, pages = [], []
    query: str | None = ""
    while query is not None:
        html = client.get(url + query).content.decode()
        titles = _teaser_titles(html)
        assert 0 < len(titles) <= PER_PAGE
        pages.append(titles)
        seen += titles
        query = _pager_link(html, "next")
    assert seen == archive
    assert len(pages) == 6
    assert "Draft story" not in seen
    assert "Future story" not in seen

    # And back again from the last page: the same pages, in reverse.
    walked_back = [pages[-1]]
    query = _pager_link(client.get(url + _last_query(client, url)).content.decode(), "prev")
    while query is not None:
        html = client.get(url + query).content.decode()
        walked_back.append(_teaser_titles(html))
        query = _pager_link(html, "prev")
    assert list(reversed(walked_back)) == pages


def _last_query(client, url: str) -> str:
    query = ""
    while True:
        following = _pager_link(client.get(url + query).content.decode(), "next")
        if following is None:
            return query
        query = following


def test_first_page_has_no_newer_link_and_last_page_no_older_link(client, archive):
    first = client.get("/topics/peru/").content.decode()
    assert _pager_link(first, "prev") is None
    assert _pager_link(first, "next") is not None
    last = client.get("/topics/peru/" + _last_query(client, "/topics/peru/")).content.decode()
    assert _pager_link(last, "next") is None
    assert _pager_link(last, "prev") is not None


def test_a_deep_page_costs_the_same_queries_as_the_first(
    client, archive, django_assert_num_queries, settings
):
    # Pages are not stored (every request renders); the parts each process keeps are, and the
    # content generation moves on only with a change, so that two renders are comparable.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    settings.PAGE_CACHE_SECONDS = 10**9
    for url in ["/", "/topics/peru/", "/authors/ana-quispe/"]:
        deep = _last_query(client, url)  # also warms the navigation cache, as on a live site
        assert deep
        with CaptureQueriesContext(connection) as first_page:
            client.get(url)
        # Read the count now: the next request clears the connection's query log.
        first_page_queries = len(first_page.captured_queries)
        # The keyset query (teaser fields joined in), the bylines, and the topic or author.
        assert 2 <= first_page_queries <= 3
        with django_assert_num_queries(first_page_queries):
            response = client.get(url + deep)
        assert response.status_code == 200
        assert _teaser_titles(response.content.decode())


MALFORMED_OR_EXHAUSTED = [
    "?before=garbage",
    "?after=garbage",
    "?before=12-34-56",
    "?before=1-99999999999999999999999999",
    "?before=999999999999999999999999-1",
    "?before=--1",
    "?before=1-2&after=3-4",
    "?after=" + Cursor(timezone.now() + timedelta(days=3650), 1).encode(),
    "?before=" + Cursor(timezone.now() - timedelta(days=36500), 1).encode(),
]


def test_malformed_or_exhausted_cursors_are_a_branded_404(client, make_article):
    make_article()
    for url in ["/", "/topics/peru/", "/authors/ana-quispe/"]:
        for query in MALFORMED_OR_EXHAUSTED:
            response = client.get(url + query)
            assert response.status_code == 404, url + query
            assert "Page not found" in response.content.decode()
            assert "Skip to content" in response.content.decode()


def test_cursor_round_trips_to_the_microsecond():
    moment = timezone.now().replace(microsecond=999_999)
    cursor = Cursor(moment, 42)
    assert Cursor.decode(cursor.encode()) == cursor
    old = Cursor(moment.replace(year=1960), 7)
    assert Cursor.decode(old.encode()) == old


def test_twenty_articles_a_page_by_default(client, make_article, settings):
    assert settings.ARTICLES_PER_PAGE == 20
    base = timezone.now() - timedelta(days=1)
    for number in range(21):
        make_article(title=f"Story {number:02d}", published_at=base + timedelta(minutes=number))
    first = client.get("/topics/peru/").content.decode()
    assert len(_teaser_titles(first)) == 20
    second = client.get("/topics/peru/" + _pager_link(first, "next")).content.decode()
    assert _teaser_titles(second) == ["Story 00"]


def test_list_pages_show_exactly_what_the_published_queryset_holds(make_article, topic, author):
    """The archive reads are written as SQL for speed; they must agree with the QuerySets that
    define what readers may see (scheduled articles whose time has come included)."""
    other_topic = services.save_topic(Topic(name="Chile"))
    other_author = services.save_author(Author(name="Rosa Mamani"))
    now = timezone.now()
    make_article(title="Published", published_at=now - timedelta(hours=3))
    make_article(title="Scheduled, time come", status="scheduled", published_at=now - timedelta(1))
    make_article(title="Scheduled, to come", status="scheduled", published_at=now + timedelta(1))
    make_article(title="Draft", status="draft")
    make_article(title="Elsewhere", topics=[other_topic], authors=[other_author])
    services.unpublish_article(make_article(title="Unpublished"))

    def titles(page) -> list[str]:
        return [teaser.title for teaser in page.items]

    published = Article.objects.published().newest_first()
    assert titles(listings.latest_page({})) == [article.title for article in published]
    assert titles(listings.topic_page(topic, {})) == [
        article.title for article in published.for_topic(topic)
    ]
    assert titles(listings.author_page(author, {})) == [
        article.title for article in published.by_author(author)
    ]
    assert titles(listings.topic_page(topic, {})) == ["Published", "Scheduled, time come"]


def test_a_search_pages_teasers_are_of_public_articles_only(make_article):
    """A search's ids become teasers only while their articles are public: one unpublished, or
    scheduled for later, between the search and this read is left out."""
    from datetime import timedelta

    from django.utils import timezone

    from pressroom.publishing import listings

    shown = make_article(title="Shown")
    draft = make_article(title="Draft", status="draft")
    later = make_article(
        title="Later", status="scheduled", published_at=timezone.now() + timedelta(days=1)
    )
    found = listings.teasers_by_id([later.pk, shown.pk, draft.pk])
    assert list(found) == [shown.pk]
    assert found[shown.pk].title == "Shown"
