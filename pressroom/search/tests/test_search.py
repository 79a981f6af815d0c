"""A reader searches the archive; editors' changes show up in results at once."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from pressroom.publishing import services
from pressroom.search.backends import search_article_ids
from pressroom.search.models import SearchTerm


@pytest.fixture
def archive(make_article, django_capture_on_commit_callbacks):
    # Run the after-commit hooks as a real request would, so the index is maintained.
    with django_capture_on_commit_callbacks(execute=True):
        return {
            "lithium": make_article(
                "Lithium mining divides the salt flats",
                "<p>Communities near the salt flats oppose new <b>lithium</b> concessions.</p>",
            ),
            "teachers": make_article(
                "Teachers strike over unpaid wages",
                "<p>Teachers in Cusco walked out on Monday demanding months of back pay.</p>",
            ),
            "draft": make_article(
                "Secret lithium draft", "<p>Not yet public lithium story.</p>", status="draft"
            ),
        }


def test_reader_finds_published_articles_by_words_in_title_and_body(client, archive):
    response = client.get("/search/", {"q": "lithium"})
    page = response.content.decode()
    assert response.status_code == 200
    assert archive["lithium"].title in page
    assert archive["teachers"].title not in page
    assert "Secret lithium draft" not in page


def test_word_stems_match(archive):
    assert search_article_ids("striking teacher") == [archive["teachers"].id]


def test_unpublishing_removes_an_article_from_results(archive, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.unpublish_article(archive["lithium"])
    assert search_article_ids("lithium") == []


def test_publishing_a_draft_adds_it_to_results(archive, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.publish_article(archive["draft"])
    assert archive["draft"].id in search_article_ids("lithium")


def test_a_scheduled_article_is_found_once_its_time_has_come_without_another_save(
    client, archive, django_capture_on_commit_callbacks, monkeypatch
):
    with django_capture_on_commit_callbacks(execute=True):
        # An hour ahead, and the clock moved past it: a slow machine cannot reach the
        # publication time between the two searches on its own.
        services.publish_article(archive["draft"], at=timezone.now() + timedelta(hours=1))
    assert "Secret lithium draft" not in client.get("/search/", {"q": "lithium"}).content.decode()
    later = timezone.now() + timedelta(hours=1, seconds=1)
    monkeypatch.setattr(timezone, "now", lambda: later)  # the clock `published()` reads
    page = client.get("/search/", {"q": "lithium"}).content.decode()
    assert "Secret lithium draft" in page


@pytest.mark.parametrize("query", ['"unbalanced', "AND OR NOT", "*", "NEAR(", "'; DROP TABLE --"])
def test_query_syntax_from_readers_never_errors(client, archive, query):
    response = client.get("/search/", {"q": query})
    assert response.status_code == 200


@pytest.mark.parametrize("page", ["0", "abc", "99999"])
def test_malformed_result_pages_are_not_found(client, archive, page):
    assert client.get("/search/", {"q": "lithium", "page": page}).status_code == 404


def test_rebuild_command_indexes_articles_written_in_bulk(archive):
    call_command("rebuild_search_index")
    assert search_article_ids("lithium") == [archive["lithium"].id]


def test_a_published_article_is_found_in_the_transaction_that_publishes_it(archive):
    """Indexed with the write, not later by a task: found by the next search after commit."""
    with transaction.atomic():
        services.publish_article(archive["draft"])
        assert archive["draft"].id in search_article_ids("secret lithium")


def test_rebuilding_keeps_results_and_the_vocabulary(archive):
    call_command("rebuild_search_index")
    call_command("rebuild_search_index")
    assert search_article_ids("teachers") == [archive["teachers"].id]
    assert SearchTerm.objects.get(term="teachers").documents == 1
