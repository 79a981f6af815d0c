"""Our own articles as other outlets may republish them ("Republish us"): the ready-to-paste
HTML with title, byline, body, attribution line and canonical link."""

from __future__ import annotations

import re

from django.conf import settings
from django.template.loader import render_to_string

from pressroom.publishing.models import Article

# Addresses in a body that are ours (/media/..., /topics/...): made absolute for another site.
SITE_RELATIVE = re.compile(r'(\s(?:src|href|srcset)=")/(?!/)')


def republication_html(article: Article) -> str:
    """What another outlet pastes to republish `article` under our licence."""
    body = SITE_RELATIVE.sub(rf"\1{settings.SITE_URL}/", article.body)
    return render_to_string(
        "partners/republication.html",
        {
            "article": article,
            "body": body,
            "url": f"{settings.SITE_URL}{article.get_absolute_url()}",
            "site_name": settings.SITE_NAME,
            "licence": settings.REPUBLISH_LICENCE,
            "licence_url": settings.REPUBLISH_LICENCE_URL,
        },
    ).strip()
