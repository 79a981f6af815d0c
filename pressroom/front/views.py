import sys

from django.conf import settings
from django.db.utils import InterfaceError, OperationalError
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    HttpResponseServerError,
    JsonResponse,
)
from django.shortcuts import render
from django.template import loader

from pressroom.site.current import current_site, last_known_site_name
from pressroom.site.models import LIGHT_BACKGROUND

# Seconds a reader (or a crawler) is asked to wait while the database is away.
DATABASE_OUTAGE_RETRY_AFTER = 30


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "front/404.html", {"is_error_page": True}, status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    if isinstance(sys.exc_info()[1], OperationalError | InterfaceError):
        return database_unavailable()
    # Rendered without context processors: whatever broke may be what they need.
    return HttpResponseServerError(loader.get_template("front/500.html").render())


def database_unavailable() -> HttpResponse:
    """The database is away (restarting, failing over): a branded 503 that asks to come back,
    rendered without it (the site's name as this process last read it from the site settings).
    Pages in the page cache are still served before this."""
    html = loader.get_template("front/503.html").render(
        {"SITE_NAME": last_known_site_name(), "SITE_LANGUAGE": settings.SITE_LANGUAGE}
    )
    response = HttpResponse(html, status=503)
    response["Retry-After"] = str(DATABASE_OUTAGE_RETRY_AFTER)
    response["Cache-Control"] = "no-store"
    return response


def web_app_manifest(request: HttpRequest) -> HttpResponse:
    """/manifest.webmanifest: what a phone needs to put the site on its home screen. A public
    page like any other (cached under the content generation, so a new icon shows at once)."""
    site = current_site()
    icons = [
        {"src": site.icons[str(size)], "sizes": f"{size}x{size}", "type": "image/png"}
        for size in (192, 512)
    ]
    manifest = {
        "name": site.name,
        "short_name": site.short_name,
        "description": site.tagline,
        "lang": settings.SITE_LANGUAGE,
        "start_url": "/",
        "scope": "/",
        "display": "browser",
        "theme_color": site.accent,
        "background_color": LIGHT_BACKGROUND,
        "icons": icons,
    }
    return JsonResponse(
        manifest,
        content_type="application/manifest+json",
        json_dumps_params={"ensure_ascii": False},
    )


def favicon(request: HttpRequest) -> HttpResponse:
    """/favicon.ico, which crawlers and feed readers ask for without reading the page: the
    32 px icon (a PNG; every browser reads one under this name too). Temporary, as the icon
    changes with the site settings."""
    return HttpResponseRedirect(current_site().icons["32"])
