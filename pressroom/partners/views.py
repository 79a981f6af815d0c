from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def republish_policy(request: HttpRequest) -> HttpResponse:
    """/republish/: how other outlets may republish our own articles."""
    return render(
        request,
        "partners/republish_policy.html",
        {"licence": settings.REPUBLISH_LICENCE, "licence_url": settings.REPUBLISH_LICENCE_URL},
    )
