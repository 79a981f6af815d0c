"""The foot of an article page, and "Republish us": the licence line of a piece we republished,
and, under our own licence (REPUBLISH_LICENCE), the ready-to-paste HTML of our own pieces
(title, byline, body, attribution line and canonical link). Registered with publishing's
article-foot hook in PartnersConfig.ready()."""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string

from pressroom.publishing.models import Article
from pressroom.site.current import current_site

# Addresses in a body that are ours (/media/..., /topics/...): made absolute for another site.
SITE_RELATIVE = re.compile(r'(\s(?:src|href|srcset)=")/(?!/)')


def article_foot(article: Article) -> str:
    context: dict[str, Any] = {"article": article}
    if not article.is_republished and settings.REPUBLISH_LICENCE:
        context.update(
            licence=settings.REPUBLISH_LICENCE,
            licence_url=settings.REPUBLISH_LICENCE_URL,
            paste_html=republication_html(article),
        )
    return render_to_string("partners/_article_foot.html", context)


def republication_html(article: Article) -> str:
    """What another outlet pastes to republish `article` under our licence."""
    body = SITE_RELATIVE.sub(rf"\1{settings.SITE_URL}/", article.body)
    return render_to_string(
        "partners/republication.html",
        {
            "article": article,
            "body": body,
            "url": f"{settings.SITE_URL}{article.get_absolute_url()}",
            "site_name": current_site().name,
            "licence": settings.REPUBLISH_LICENCE,
            "licence_url": settings.REPUBLISH_LICENCE_URL,
        },
    ).strip()
