"""The foot of an article page, and "Republish us": the licence line of a piece we republished,
and, under our own licence (REPUBLISH_LICENCE), the ready-to-paste HTML of our own pieces
(title, byline, body, attribution line and canonical link). Registered with publishing's
article-foot hook in PartnersConfig.ready()."""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string

from pressroom.media.models import MediaItem
from pressroom.media.services import ITEM_FILE_URL
from pressroom.publishing.models import Article
from pressroom.site.current import current_site

FIGURE = re.compile(r"<figure\b[^>]*>.*?</figure>", re.I | re.S)
IMAGE = re.compile(r"<img\b[^>]*>", re.I)
SOURCE = re.compile(r"""\ssrc\s*=\s*("[^"]*"|'[^']*')""", re.I)

# Addresses in a body that are ours (/media/..., /topics/...): made absolute for another site.
SITE_RELATIVE = re.compile(r'(\s(?:src|href|srcset)=")/(?!/)')


def article_foot(article: Article) -> str:
    # A republished piece's "Originally published by … under …" line is publishing's own (in
    # the article's footer): this adds only the panel of our own pieces.
    if article.is_republished or not settings.REPUBLISH_LICENCE:
        return ""
    context: dict[str, Any] = {
        "article": article,
        "licence": settings.REPUBLISH_LICENCE,
        "licence_url": settings.REPUBLISH_LICENCE_URL,
        "paste_html": republication_html(article),
    }
    return render_to_string("partners/_article_foot.html", context)


def republication_html(article: Article) -> str:
    """What another outlet pastes to republish `article` under our licence."""
    body = SITE_RELATIVE.sub(rf"\1{settings.SITE_URL}/", without_others_images(article.body))
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


def without_others_images(body: str) -> str:
    """The body without the images we may not license (the policy page's words: photos are
    not included unless they are ours): those on other sites, and library images credited to
    someone other than us. A figure goes whole, with its caption and credit."""
    keys = set(ITEM_FILE_URL.findall(body))
    if not IMAGE.search(body):
        return body
    credits = dict(MediaItem.objects.filter(key__in=keys).values_list("key", "credit"))
    ours = {"", settings.SITE_NAME.casefold()}

    def owned(tag: str) -> bool:
        source = SOURCE.search(tag)
        found = ITEM_FILE_URL.search(source[1]) if source else None
        if found is None or found[1] not in credits:
            return False  # on another site, or not in our library
        return credits[found[1]].strip().casefold() in ours

    def figure(match: re.Match[str]) -> str:
        images = IMAGE.findall(match[0])
        return match[0] if images and all(owned(tag) for tag in images) else ""

    body = FIGURE.sub(figure, body)
    return IMAGE.sub(lambda match: match[0] if owned(match[0]) else "", body)
