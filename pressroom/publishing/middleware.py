from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect

from pressroom.publishing.models import LegacyPath

# Query parameters Pressroom's own pages use; any other query may be an old WordPress address
# such as /?p=42 or /?cat=7, which the home page would otherwise answer with a 200.
OWN_QUERY_PARAMETERS = {"before", "after", "q", "page"}


class LegacyPathRedirectMiddleware:
    """Answer an old address of an article or topic with a 301 to where it lives now.

    It only looks when nothing else matched (a 404), or for the front page with a query
    string Pressroom does not use, so legacy paths cost nothing on live pages.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method in ("GET", "HEAD") and self._may_be_old_front_page_query(request):
            legacy = self._find(request)
            if legacy is not None:
                return HttpResponsePermanentRedirect(legacy.target.get_absolute_url())
        response = self.get_response(request)
        if response.status_code != 404 or request.method not in ("GET", "HEAD"):
            return response
        legacy = self._find(request)
        if legacy is None:
            return response
        return HttpResponsePermanentRedirect(legacy.target.get_absolute_url())

    @staticmethod
    def _may_be_old_front_page_query(request: HttpRequest) -> bool:
        return request.path == "/" and bool(set(request.GET) - OWN_QUERY_PARAMETERS)

    @staticmethod
    def _find(request: HttpRequest) -> LegacyPath | None:
        path = request.path if request.path.endswith("/") else request.path + "/"
        # The front page itself never redirects: only a query naming an old post may ('/?p=12').
        candidates = [c for c in (request.get_full_path(), path, request.path) if c != "/"]
        if any("\x00" in candidate for candidate in candidates):
            return None  # PostgreSQL refuses NUL in text; no stored path can contain one
        return (
            LegacyPath.objects.filter(path__in=candidates)
            .select_related("article", "topic")
            .first()
        )
