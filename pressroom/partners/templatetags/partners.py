"""The foot of an article page: the licence line of a republished piece, and the "Republish
this article" panel on our own pieces when the site licenses them (REPUBLISH_LICENCE)."""

from __future__ import annotations

from typing import Any

from django import template
from django.conf import settings
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

from pressroom.partners.republication import republication_html
from pressroom.publishing.models import Article

register = template.Library()


@register.simple_tag
def article_foot(article: Article) -> SafeString:
    context: dict[str, Any] = {"article": article}
    if not article.is_republished and settings.REPUBLISH_LICENCE:
        context.update(
            licence=settings.REPUBLISH_LICENCE,
            licence_url=settings.REPUBLISH_LICENCE_URL,
            paste_html=republication_html(article),
        )
    return mark_safe(render_to_string("partners/_article_foot.html", context))
