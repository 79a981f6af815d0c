"""`{% load media_tags %}{% picture article.lead_image "lead" %}`, `{{ item|social_image }}` and
`{{ article.body|library_pictures }}` (a body's library images with their renditions)."""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString

from pressroom.media.models import MediaItem
from pressroom.media.rendering import picture_html, pictures_in_html, social_image_url

register = template.Library()


@register.simple_tag
def picture(
    item: MediaItem | None, role: str = "body", alt: str | None = None, css_class: str = ""
) -> SafeString:
    return picture_html(item, role, alt=alt, css_class=css_class)


@register.filter
def social_image(item: MediaItem | None) -> str:
    return social_image_url(item)


@register.filter
def library_pictures(body: str) -> SafeString:
    """For a cleaned article body only (it is marked safe as it is)."""
    return pictures_in_html(body)
