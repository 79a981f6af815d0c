from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from pressroom.publishing.models import Article
from pressroom.search.backends import COUNT_CAP, count_article_matches, search_article_ids

MAX_PAGES = 50


def search(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:200]
    try:
        page = int(request.GET.get("page", "1"))
    except ValueError:
        raise Http404("No such page.") from None
    if not 1 <= page <= MAX_PAGES:
        raise Http404("No such page.")
    per_page = settings.ARTICLES_PER_PAGE
    ids = search_article_ids(query, limit=per_page + 1, offset=(page - 1) * per_page)
    by_id = Article.objects.published().for_listing().in_bulk(ids[:per_page])
    articles = [by_id[article_id] for article_id in ids[:per_page] if article_id in by_id]
    older = page + 1 if len(ids) > per_page and page < MAX_PAGES else None
    # Counted only when there is something to count: an empty result needs no second query.
    count = count_article_matches(query) if ids else 0
    return render(
        request,
        "search/search_results.html",
        {
            "query": query,
            "articles": articles,
            "older": older,
            "page_number": page,
            "count": count,
            "count_is_capped": count >= COUNT_CAP,
            # A search is kept out of search engines (noindex); its link names the query and
            # the page, the two things that make it this page.
            "canonical_query_keys": ("q", "page"),
        },
    )
