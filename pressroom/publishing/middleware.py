from collections.abc import Callable

from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseGone,
    HttpResponsePermanentRedirect,
)
from django.middleware import common
from django.urls import Resolver404, resolve

from pressroom.lib.pagecache import mark_shareable
from pressroom.publishing import oldaddresses
from pressroom.publishing.models import Page

# Query parameters Pressroom's own pages use; any other query may be an old WordPress address
# such as /?p=42 or /?cat=7, which the home page would otherwise answer with a 200.
OWN_QUERY_PARAMETERS = {"before", "after", "q", "page"}


def old_address_response(request: HttpRequest, answer: oldaddresses.Answer) -> HttpResponse:
    """A 301 to where the old address leads, 410 Gone, or WordPress's 404; the 301 and 410 are
    stored by the page cache like pages."""
    if answer.missing or answer.location in (request.path, request.get_full_path()):
        # Never a redirect to the address asked (an article renamed and back, then
        # unpublished, left its own address among its old ones).
        raise Http404("No such page of the old site.")
    response: HttpResponse
    if answer.location is None:
        response = HttpResponseGone(answer.reason, content_type="text/plain; charset=utf-8")
    else:
        response = HttpResponsePermanentRedirect(answer.location)
    mark_shareable(response)  # the same for every reader until the content changes
    return response


class LegacyPathRedirectMiddleware:
    """Answer an old address (publishing.oldaddresses) with a 301 to where it lives now, or
    410 Gone for what was not brought over.

    It only looks when no URL pattern matches (before any view runs, so no 404 page is
    rendered), when a view answered 404 (a renamed topic's old /topics/<slug>/), or for the front
    page with a query string Pressroom does not use, so legacy paths cost nothing on live pages.
    A slug-shaped path (/2019/05/story/) matches the pages' pattern, which comes last: the page
    view looks for a page first (a live page wins over an old address) and, when there is none,
    answers the old address itself with `old_address_response`, before any 404 page is drawn.
    Its answers are marked shareable, so the page cache stores them like pages, under the
    content generation (a renamed topic's old slug then leads to the new one): search engines
    and feed readers ask for the same old addresses again and again, and a stored answer costs
    what a cached page costs.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method not in ("GET", "HEAD"):
            return self.get_response(request)
        looked = False
        if self._may_be_old_front_page_query(request):
            answer = oldaddresses.resolve_front_page_query(request)
            if answer is not None:
                return old_address_response(request, answer)
        elif not self._matches_a_pattern(request):
            looked = True
            answer = oldaddresses.resolve_path(request)
            if answer is not None:
                return old_address_response(request, answer)
        response = self.get_response(request)
        if response.status_code != 404 or looked:
            return response
        answer = oldaddresses.resolve_path(request)
        return response if answer is None else old_address_response(request, answer)

    @staticmethod
    def _matches_a_pattern(request: HttpRequest) -> bool:
        try:
            resolve(request.path_info, getattr(request, "urlconf", None))
        except Resolver404:
            return False
        return True

    @staticmethod
    def _may_be_old_front_page_query(request: HttpRequest) -> bool:
        return request.path == "/" and bool(set(request.GET) - OWN_QUERY_PARAMETERS)


class CommonMiddleware(common.CommonMiddleware):
    """Django's, with one change: APPEND_SLASH sends /about to /about/ only when a page is
    there. The pages' pattern takes any slug-shaped path with a slash, so Django's own check
    ("would the path with a slash resolve?") would redirect /metrics or /static/secret_key to
    a 404 of their own."""

    def should_redirect_with_slash(self, request: HttpRequest) -> bool:
        if not super().should_redirect_with_slash(request):
            return False
        match = resolve(f"{request.path_info}/", getattr(request, "urlconf", None))
        if match.view_name != "pages:page-detail":
            return True
        # Published only: a draft's address must not be told apart from one that does not exist.
        return Page.objects.published().at_path(match.kwargs["path"]).exists()
