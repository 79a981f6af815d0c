"""`{% insight_beacon %}`: the page-view beacon, on public pages when INSIGHT_COUNTING=beacon."""

from __future__ import annotations

from django import template
from django.conf import settings
from django.templatetags.static import static
from django.utils.html import format_html
from django.utils.http import urlencode

from pressroom.insight.counting import BEACON_PATH, page_kind

register = template.Library()


@register.simple_tag(takes_context=True)
def insight_beacon(context: template.Context) -> str:
    if settings.INSIGHT_COUNTING != "beacon":
        return ""
    request = context.get("request")
    path = request.path if request is not None else "/"
    if page_kind(path) is None:
        return ""  # not a page readers' views are counted for (a form, a thank-you page)
    # Without JavaScript, an image asks instead (it cannot tell the referrer or campaign).
    fallback = f"{BEACON_PATH}?{urlencode({'p': path})}"
    return format_html(
        '<script src="{}" data-url="{}" defer></script>'
        '<noscript><img src="{}" alt="" width="1" height="1" class="insight-beacon"></noscript>',
        static("insight/count.js"),
        BEACON_PATH,
        fallback,
    )
