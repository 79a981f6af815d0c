"""Archive depth costs nothing: a deep page of a topic, an author or the home page runs the same
queries as the first page, none of them counts the table, and the database walks an index."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from pressroom.publishing.pagination import Cursor

pytestmark = pytest.mark.django_db

PER_PAGE = 3
PAGES = 12


@pytest.fixture
def archive(make_article, settings, tmp_path):
    """36 published articles filed under Peru by Ana Quispe; 12 pages of 3."""
    settings.ARTICLES_PER_PAGE = PER_PAGE
    # Pages are not stored (every request renders); the parts each process keeps are, and the
    # content generation moves on only with a change, so that two renders are comparable.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    settings.PAGE_CACHE_SECONDS = 10**9
    start = timezone.now() - timedelta(days=60)
    for number in range(PER_PAGE * PAGES):
        make_article(title=f"Story {number:02d}", published_at=start + timedelta(hours=number))


def _deepest_query(client, url: str) -> tuple[str, int]:
    query, pages = "", 1
    while match := re.search(
        r'<a href="(\?[^"]+)" rel="next">', client.get(url + query).content.decode()
    ):
        query, pages = match.group(1).replace("&amp;", "&"), pages + 1
    return query, pages


@pytest.mark.parametrize("url", ["/", "/topics/peru/", "/authors/ana-quispe/"])
def test_the_last_page_runs_the_same_queries_as_the_first(
    client, archive, url, django_assert_num_queries
):
    deepest, pages = _deepest_query(client, url)  # also warms the navigation cache
    assert pages == PAGES

    with CaptureQueriesContext(connection) as first_page:
        assert client.get(url).status_code == 200
    first_page_sql = [query["sql"] for query in first_page.captured_queries]

    with django_assert_num_queries(len(first_page_sql)) as deep_page:
        response = client.get(url + deepest)
    assert response.status_code == 200
    assert "Story 00" in response.content.decode()  # the oldest article is on the last page

    for sql in first_page_sql + [query["sql"] for query in deep_page.captured_queries]:
        assert "COUNT(" not in sql.upper(), sql
        assert "OFFSET" not in sql.upper(), sql


def test_more_articles_on_a_page_do_not_add_queries(client, archive, settings, make_article):
    """No query per teaser (bylines, topics): 3 teasers cost what 12 do."""
    client.get("/topics/peru/")  # warms the navigation cache
    with CaptureQueriesContext(connection) as three:
        client.get("/topics/peru/")
    settings.ARTICLES_PER_PAGE = 12
    with CaptureQueriesContext(connection) as twelve:
        html = client.get("/topics/peru/").content.decode()
    assert html.count('class="teaser"') == 12
    assert len(twelve.captured_queries) == len(three.captured_queries)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="reads SQLite's query plan")
def test_a_deep_topic_page_walks_the_archive_index_without_sorting(client, archive):
    deepest, _ = _deepest_query(client, "/topics/peru/")
    with CaptureQueriesContext(connection) as deep_page:
        client.get("/topics/peru/" + deepest)
    listing = next(
        query["sql"]
        for query in deep_page.captured_queries
        if "publishing_articletopic" in query["sql"] and "ORDER BY" in query["sql"]
    )
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN QUERY PLAN " + listing)
        plan = " ".join(str(row[-1]) for row in cursor.fetchall())
    assert "topic_archive_order" in plan, plan
    assert "TEMP B-TREE" not in plan, plan


@pytest.mark.skipif(connection.vendor != "postgresql", reason="reads PostgreSQL's query plan")
def test_a_deep_topic_page_starts_its_index_scan_at_the_cursor(client, archive):
    """PostgreSQL cannot take an index bound from `time < c OR (time = c AND id < i)`; without the
    extra `time <= c` it would walk every newer entry of the topic to reach page 500."""
    deepest, _ = _deepest_query(client, "/topics/peru/")
    with CaptureQueriesContext(connection) as deep_page:
        client.get("/topics/peru/" + deepest)
    listing = next(
        query["sql"]
        for query in deep_page.captured_queries
        if "publishing_articletopic" in query["sql"] and "ORDER BY" in query["sql"]
    )
    cursor_time = Cursor.decode(deepest.split("=", 1)[1]).published_at
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a 36-row table would not use an index
        cursor.execute("EXPLAIN " + listing)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    index_condition = next(line for line in plan.splitlines() if "Index Cond" in line)
    assert "topic_archive_order" in plan, plan
    assert "published_at <=" in index_condition, plan
    assert cursor_time.strftime("%Y-%m-%d %H:%M:%S") in index_condition, plan


@pytest.mark.skipif(connection.vendor != "sqlite", reason="counts SQLite's virtual machine steps")
def test_a_deep_page_query_does_as_much_work_as_the_first_pages(client, archive):
    """Run as the site runs it, with bound parameters: SQLite then cannot compare two upper
    bounds on the time, and a deep page could walk every newer entry to reach its cursor
    (the plans above, read from SQL with the values written in, would not show it)."""
    listings: list[tuple[str, tuple]] = []

    def keep_listing_query(execute, sql, params, many, context):
        if "ORDER BY" in sql and "publishing_articletopic" in sql:
            listings.append((sql, tuple(params)))
        return execute(sql, params, many, context)

    deepest, _ = _deepest_query(client, "/topics/peru/")
    with connection.execute_wrapper(keep_listing_query):
        client.get("/topics/peru/")
        client.get("/topics/peru/" + deepest)
    (first_sql, first_params), (deep_sql, deep_params) = listings

    def steps(sql: str, params: tuple) -> int:
        count = 0

        def tick() -> int:
            nonlocal count
            count += 1
            return 0

        sqlite = connection.connection
        sqlite.set_progress_handler(tick, 1)
        try:
            rows = sqlite.execute(sql.replace("%s", "?"), params).fetchall()
        finally:
            sqlite.set_progress_handler(None, 1)
        assert rows
        return count

    # The deep page is the 12th of 3 teasers: walking the 33 newer entries would double it.
    assert steps(deep_sql, deep_params) < 1.5 * steps(first_sql, first_params)
