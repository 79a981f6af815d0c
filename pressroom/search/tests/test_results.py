"""Search results a reader can use: snippets with the matched words marked (and escaped),
filters, order, counts, phrases, accents, a suggestion for a misspelling, and noindex.
Run on SQLite and on PostgreSQL (DATABASE_URL)."""

from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from pressroom.publishing import services
from pressroom.publishing.models import Author, Topic
from pressroom.search import backends
from pressroom.search.backends import Search, count_article_matches, search_article_ids

pytestmark = pytest.mark.django_db


def days_ago(days: int) -> datetime:
    return timezone.now() - timedelta(days=days)


@pytest.fixture
def archive(make_article, topic, author, django_capture_on_commit_callbacks):
    chile = services.save_topic(Topic(name="Chile"))
    writer = services.save_author(Author(name="Rosa Mamani"))
    with django_capture_on_commit_callbacks(execute=True):
        return {
            "chile": chile,
            "writer": writer,
            "lithium": make_article(
                "Lithium mining divides the salt flats",
                "<p>Communities near the salt flats oppose new lithium concessions, "
                "saying &lt;b&gt;water&lt;/b&gt; is running out.</p>",
                published_at=days_ago(400),
                topics=[chile],
                authors=[writer],
            ),
            "peru": make_article(
                "Perú's miners march on the capital",
                "<p>Miners from the south of Perú walked for a week. Lithium was not the "
                "issue: copper was. The flats of salt were far away.</p>",
                published_at=days_ago(3),
            ),
            "copper": make_article(
                "Copper prices fall",
                "<p>Mining towns brace for cuts as lithium demand rises and copper falls.</p>",
                published_at=days_ago(30),
                authors=[author, writer],
            ),
        }


def page(client, **query) -> str:
    response = client.get("/search/", query)
    assert response.status_code == 200
    return response.content.decode()


def test_each_result_shows_title_date_bylines_and_a_snippet_with_marked_words(client, archive):
    html = page(client, q="concessions")
    lithium = archive["lithium"]
    assert lithium.title in html
    assert f'<time datetime="{lithium.published_at.isoformat()}"' in html
    assert "Rosa Mamani" in html
    assert "<mark>concessions</mark>" in html
    # The body's text "<b>water</b>" is never markup: escaped (SQLite), or left out of the
    # headline as a tag by PostgreSQL's parser.
    snippet = html[html.index('<p class="search-snippet">') :].split("</p>")[0]
    assert "water" in snippet
    assert "<b>" not in snippet


def test_highlight_escapes_before_marking():
    marked = backends.highlight("<img src=x onerror=alert(1)> \x02Lima\x03 and \x02open")
    assert marked == "&lt;img src=x onerror=alert(1)&gt; <mark>Lima</mark> and <mark>open</mark>"


def test_results_filter_by_topic_author_and_dates(client, archive):
    everything = Search("lithium")
    assert len(search_article_ids(everything)) == 3
    chile = Search("lithium", topic_id=archive["chile"].id)
    assert search_article_ids(chile) == [archive["lithium"].id]
    by_writer = Search("lithium", author_id=archive["writer"].id)
    assert set(search_article_ids(by_writer)) == {archive["lithium"].id, archive["copper"].id}
    recent = Search("lithium", date_from=days_ago(40).date(), date_to=timezone.now().date())
    assert set(search_article_ids(recent)) == {archive["peru"].id, archive["copper"].id}
    one_day = Search("lithium", date_from=days_ago(30).date(), date_to=days_ago(30).date())
    assert search_article_ids(one_day) == [archive["copper"].id]
    # The same through the page, by slugs and ISO dates.
    html = page(client, q="lithium", topic="chile")
    assert archive["lithium"].title in html
    assert archive["copper"].title not in html
    html = page(client, q="lithium", author=archive["writer"].slug, date_from=days_ago(40).date())
    assert archive["copper"].title in html
    assert archive["lithium"].title not in html


def test_sort_by_relevance_or_newest(client, archive):
    # "lithium" in the title counts most; newest first puts the three in date order.
    assert search_article_ids(Search("lithium"))[0] == archive["lithium"].id
    newest = search_article_ids(Search("lithium", newest_first=True))
    assert newest == [archive["peru"].id, archive["copper"].id, archive["lithium"].id]
    html = page(client, q="lithium", sort="newest")
    assert html.index(archive["copper"].title) < html.index(archive["lithium"].title)


def test_newest_first_is_the_same_whether_matches_are_walked_or_sorted(archive, monkeypatch):
    """SQLite walks the index in date order for a common word, sorts the matches of a rarer
    one; PostgreSQL's planner chooses. Either way the same order, the filters applied."""
    searches = [
        Search("lithium", newest_first=True),
        Search("lithium", newest_first=True, author_id=archive["writer"].id),
        Search("lithium", newest_first=True, date_from=days_ago(40).date()),
    ]
    sorted_ids = [search_article_ids(search) for search in searches]
    monkeypatch.setattr(backends, "WALKED", 2)  # "common": at least two matches
    assert all(backends.is_common(search) for search in searches) == (
        backends.connection.vendor == "sqlite"
    )
    assert [search_article_ids(search) for search in searches] == sorted_ids
    assert sorted_ids[1] == [archive["copper"].id, archive["lithium"].id]


def test_best_match_ranks_the_newest_matches_and_lists_older_ones_after(archive, monkeypatch):
    monkeypatch.setattr(backends, "RANKED", 2)
    ids = search_article_ids(Search("lithium"))
    # All three found, each once, whatever part of the order they fall in; pages agree.
    assert sorted(ids) == sorted(
        a.id for a in (archive["lithium"], archive["peru"], archive["copper"])
    )
    pages = [search_article_ids(Search("lithium"), limit=1, offset=n) for n in range(3)]
    assert [page[0] for page in pages] == ids


def test_the_count_is_shown_and_bounded(client, archive, monkeypatch):
    assert "3 articles match" in page(client, q="lithium")
    assert count_article_matches(Search("lithium"), cap=2) == 2
    monkeypatch.setattr(backends, "COUNT_CAP", 2)
    assert "More than 2 articles match" in page(client, q="Lithium")


def test_a_page_with_the_last_results_counts_them_without_another_query(
    client, archive, settings, monkeypatch
):
    settings.ARTICLES_PER_PAGE = 2
    counted = []
    counting = backends.count_article_matches
    monkeypatch.setattr(
        backends, "count_article_matches", lambda *a, **k: counted.append(a) or counting(*a, **k)
    )
    # Three matches. The first page is followed by more: it is counted (on PostgreSQL by the
    # statement that found it, whose ranked part holds every match).
    assert "3 articles match" in page(client, q="lithium")
    assert len(counted) == (0 if connection.vendor == "postgresql" else 1)
    assert "3 articles match" in page(client, q="lithium", sort="newest")
    assert len(counted) == (0 if connection.vendor == "postgresql" else 2)
    before = len(counted)
    # The second page, the last, holds the third match, which completes the count.
    assert "3 articles match" in page(client, q="lithium", page="2")
    # (Each search below is new to the page cache: the case of a word differs.)
    settings.ARTICLES_PER_PAGE = 20
    assert "3 articles match" in page(client, q="Lithium")
    assert len(counted) == before
    # Fewer ranked than the count's cap: the ranked part's size is no count, the database counts.
    settings.ARTICLES_PER_PAGE = 1
    monkeypatch.setattr(backends, "RANKED", 2)
    assert "3 articles match" in page(client, q="LITHIUM")
    assert len(counted) == before + 1


def test_quoted_phrases_match_words_in_that_order(archive):
    assert search_article_ids(Search('"salt flats"')) == [archive["lithium"].id]
    # Unquoted, both words anywhere: the article with "flats of salt" matches too.
    assert set(search_article_ids(Search("salt flats"))) == {
        archive["lithium"].id,
        archive["peru"].id,
    }


@pytest.mark.parametrize("query", ["peru", "PERU", "Perú", "perú", "PERÚ"])
def test_accents_and_case_are_ignored(archive, query):
    assert search_article_ids(Search(query)) == [archive["peru"].id]


def test_a_misspelled_query_with_no_results_suggests_the_nearest_word(client, archive):
    assert backends.suggest("lithum") == "lithium"
    assert backends.suggest("coper prices") == "copper prices"
    html = page(client, q="lithum")
    assert "No articles match" in html
    assert 'Did you mean <a href="?q=lithium">lithium</a>?' in html
    # Nothing near: no suggestion rather than a poor one.
    assert backends.suggest("zzzzqqq") == ""


def test_search_pages_are_not_indexed_by_search_engines(client, archive):
    for query in ({}, {"q": "lithium"}, {"q": "nothing-matches-this"}):
        assert '<meta name="robots" content="noindex, follow">' in page(client, **query)


def test_the_form_is_labelled_and_announces_the_count(client, archive):
    html = page(client, q="lithium")
    assert 'role="search"' in html
    assert '<label for="search-query">' in html
    assert 'id="search-query"' in html
    assert '<p class="meta search-count" role="status">' in html
    for name in ("topic", "author", "date_from", "date_to", "sort"):
        assert f'<label for="id_{name}">' in html


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"topic": "no-such-topic"}, "There is no such topic."),
        ({"author": "nobody"}, "There is no such author."),
        ({"date_from": "2026-02-30"}, "Enter a valid date."),
        ({"date_from": "0001-01-01"}, "Enter a date between"),
        ({"date_from": "2026-05-02", "date_to": "2026-05-01"}, "The end date comes before"),
        ({"sort": "random"}, "Select a valid choice."),
    ],
)
def test_bad_filters_re_render_the_form_with_a_clear_message(client, archive, query, message):
    html = page(client, q="lithium", **query)
    assert message in html
    assert archive["lithium"].title not in html


def test_more_results_keep_the_filters(client, archive, settings):
    settings.ARTICLES_PER_PAGE = 1
    html = page(client, q="lithium", sort="newest", author=archive["writer"].slug)
    assert 'href="?q=lithium&amp;sort=newest&amp;author=rosa-mamani&amp;page=2"' in html


def test_the_chosen_filters_stay_selected_and_renamed_topics_show_at_once(
    client, archive, django_capture_on_commit_callbacks
):
    html = page(client, q="lithium", topic="chile", author=archive["writer"].slug)
    assert '<option value="chile" selected>Chile</option>' in html
    assert '<option value="rosa-mamani" selected>Rosa Mamani</option>' in html
    assert html.count(" selected>") == 2
    # The lists are kept between searches until content changes: a renamed topic is listed
    # under its new name on the next search.
    chile = archive["chile"]
    chile.name = "Chile & Bolivia"
    with django_capture_on_commit_callbacks(execute=True):
        services.save_topic(chile)
    html = page(client, q="lithium")
    assert '<option value="chile">Chile &amp; Bolivia</option>' in html
    assert " selected>" not in html


def test_a_result_lists_its_bylines_in_order_and_the_outlet_it_came_from(
    client, make_article, author, django_capture_on_commit_callbacks
):
    writer = services.save_author(Author(name="Rosa Mamani"))
    with django_capture_on_commit_callbacks(execute=True):
        make_article(
            "Quinoa harvest fails",
            "<p>Frost hit the quinoa fields of the altiplano.</p>",
            authors=[writer, author],
            original_outlet="Andes Post",
        )
    html = page(client, q="quinoa")
    assert f"Rosa Mamani, {author.name} · via Andes Post</p>" in html
