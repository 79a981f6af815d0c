"""MEDIA_URL served by the app itself (`make run`, small installs without nginx).

Every stored name is content-addressed (the bytes' hash and the rendition settings are in it),
so a file at a given address never changes: browsers and proxies may keep it for a year.
nginx (deploy/nginx/pressroom.conf) or the object store take over in larger set-ups.
"""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase
from django.views.static import serve

IMMUTABLE = "public, max-age=31536000, immutable"
SERVED_FOLDERS = ("originals/", "renditions/", "files/")


def serve_media(request: HttpRequest, path: str) -> HttpResponseBase:
    parts = path.split("/")
    if not path.startswith(SERVED_FOLDERS) or any(part in {"", ".", ".."} for part in parts):
        raise Http404("Not a library file")
    response = serve(request, path, document_root=settings.MEDIA_ROOT)
    response["Cache-Control"] = IMMUTABLE
    if path.startswith("files/"):
        # PDFs, audio, video: shown by the browser, never run as a page of this site.
        response["Content-Security-Policy"] = "sandbox"
    return response
