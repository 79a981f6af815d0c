from collections.abc import Callable

from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseGone,
    HttpResponsePermanentRedirect,
)

from pressroom.publishing import oldaddresses

# Query parameters Pressroom's own pages use; any other query may be an old WordPress address
# such as /?p=42 or /?cat=7, which the home page would otherwise answer with a 200.
OWN_QUERY_PARAMETERS = {"before", "after", "q", "page"}


class LegacyPathRedirectMiddleware:
    """Answer an old address (publishing.oldaddresses) with a 301 to where it lives now, or
    410 Gone for what was not brought over.

    It only looks when nothing else matched (a 404), or for the front page with a query
    string Pressroom does not use, so legacy paths cost nothing on live pages.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method in ("GET", "HEAD") and self._may_be_old_front_page_query(request):
            answer = oldaddresses.resolve_front_page_query(request)
            if answer is not None:
                return self._respond(answer)
        response = self.get_response(request)
        if response.status_code != 404 or request.method not in ("GET", "HEAD"):
            return response
        answer = oldaddresses.resolve_path(request)
        return response if answer is None else self._respond(answer)

    @staticmethod
    def _respond(answer: oldaddresses.Answer) -> HttpResponse:
        if answer.location is None:
            return HttpResponseGone(answer.reason, content_type="text/plain; charset=utf-8")
        return HttpResponsePermanentRedirect(answer.location)

    @staticmethod
    def _may_be_old_front_page_query(request: HttpRequest) -> bool:
        return request.path == "/" and bool(set(request.GET) - OWN_QUERY_PARAMETERS)
