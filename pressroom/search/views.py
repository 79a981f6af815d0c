from dataclasses import dataclass

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.safestring import SafeString

from pressroom.media.rendering import picture_html
from pressroom.publishing import listings
from pressroom.publishing.listings import Teaser
from pressroom.search import backends
from pressroom.search.forms import SearchForm

MAX_PAGES = 50
QUERY_KEYS = ("q", "topic", "author", "date_from", "date_to", "sort", "page")


def search(request: HttpRequest) -> HttpResponse:
    try:
        page = int(request.GET.get("page", "1"))
    except ValueError:
        raise Http404("No such page.") from None
    if not 1 <= page <= MAX_PAGES:
        raise Http404("No such page.")
    form = SearchForm(request.GET or None)
    context: dict[str, object] = {
        "form": form,
        "query": "",
        "page_number": page,
        # A search is kept out of search engines (noindex); its link names what makes it
        # this page.
        "canonical_query_keys": QUERY_KEYS,
    }
    if form.is_bound and form.is_valid() and form.cleaned_data["q"]:
        context.update(results(form, page))
    return render(request, "search/search_results.html", context)


@dataclass(frozen=True, slots=True)
class Result:
    """One search result: the article's teaser, its snippet (the matched words marked) and its
    thumbnail, both markup already escaped."""

    teaser: Teaser
    snippet: SafeString
    thumbnail: SafeString


def results(form: SearchForm, page: int) -> dict[str, object]:
    """The page of results, the bounded count, snippets, and a suggestion when none match."""
    search = form.search()
    per_page = settings.ARTICLES_PER_PAGE
    ids, counted = backends.find_articles(search, per_page + 1, (page - 1) * per_page)
    shown = ids[:per_page]
    by_id = listings.teasers_by_id(shown)
    teasers = [by_id[article_id] for article_id in shown if article_id in by_id]
    snippets = backends.snippets(search.text, shown)
    # The thumbnail every list of teasers shows, its renditions read for all of them at once.
    images = listings.teaser_images(teasers)
    found = [
        Result(
            teaser,
            snippets.get(teaser.id, SafeString("")),
            picture_html(images.get(teaser.lead_image_id or 0), "teaser", css_class="teaser-image"),
        )
        for teaser in teasers
    ]
    count = _count(search, ids, page, counted)
    return {
        "query": search.text,
        "results": found,
        "older": page + 1 if len(ids) > per_page and page < MAX_PAGES else None,
        "count": count,
        "count_is_capped": count >= backends.COUNT_CAP,
        "suggestion": "" if ids or page > 1 else backends.suggest(search.text),
        "has_filters": form.has_filters,
    }


def _count(search: backends.Search, ids: list[int], page: int, counted: int | None) -> int:
    """The matches, counted up to COUNT_CAP. Only a page followed by more results, whose
    statement did not count them (`find_articles`), asks the database again: on the last page
    the ids are the rest of the count, and an empty page needs none."""
    per_page = settings.ARTICLES_PER_PAGE
    if not ids:
        return 0
    if len(ids) <= per_page:
        return min((page - 1) * per_page + len(ids), backends.COUNT_CAP)
    if counted is not None:
        return counted
    return backends.count_article_matches(search, cap=backends.COUNT_CAP)
