"""Imports write a batch of articles at a time; the search index follows in a few statements
per batch, on SQLite and PostgreSQL alike, in the transaction that writes the batch."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from pressroom.publishing.tests.test_bulk_writes import write
from pressroom.search.backends import search_article_ids

pytestmark = pytest.mark.django_db


def test_a_batch_is_indexed_for_search_in_a_few_statements(topic, author):
    write(
        1, topic, author, prefix="Warm caches"
    )  # one-off lookups (content types) out of the count
    with CaptureQueriesContext(connection) as ten:
        write(10, topic, author, prefix="Teachers strike")
    with CaptureQueriesContext(connection) as sixty:
        write(60, topic, author, prefix="Nurses rally")
    # The same statements for ten articles and for sixty: nothing is written one by one.
    assert len(sixty.captured_queries) == len(ten.captured_queries)
    assert len(search_article_ids("nurses", limit=100)) == 60
    assert len(search_article_ids("teachers", limit=100)) == 10
