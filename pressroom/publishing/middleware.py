from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect

from pressroom.publishing.models import LegacyPath


class LegacyPathRedirectMiddleware:
    """Answer a 404 with a 301 when the path is an old address of an article or topic.

    It only looks when nothing else matched, so legacy paths cost nothing on live pages.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code != 404 or request.method not in ("GET", "HEAD"):
            return response
        candidates = [request.get_full_path()]
        path = request.path if request.path.endswith("/") else request.path + "/"
        candidates += [path, request.path]
        legacy = (
            LegacyPath.objects.filter(path__in=candidates)
            .select_related("article", "topic")
            .first()
        )
        if legacy is None:
            return response
        return HttpResponsePermanentRedirect(legacy.target.get_absolute_url())
