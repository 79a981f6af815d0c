"""A republished piece's images, brought into the media library by the worker after the
article is saved (credited to the partner), so the admin request never waits on them."""

from __future__ import annotations

import html
import logging
import re
from pathlib import PurePosixPath
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction

from pressroom.lib import outbound
from pressroom.media import services as media_services
from pressroom.media.models import MediaError
from pressroom.partners.models import (
    Partner,
)
from pressroom.publishing import services as publishing_services
from pressroom.publishing.models import Article

logger = logging.getLogger(__name__)

IMAGE_TAG = re.compile(r"<img\b[^>]*>", re.I)
ATTRIBUTE = re.compile(r"""\s([\w:-]+)\s*=\s*("[^"]*"|'[^']*')""")

# Images brought into the library from one republished piece, at most.
MAX_IMAGES = 20


def remote_images(body: str) -> dict[str, str]:
    """The body's images on other sites (address -> alt text), at most MAX_IMAGES."""
    sources: dict[str, str] = {}
    for tag in IMAGE_TAG.findall(body):
        attributes = {
            name.lower(): html.unescape(value[1:-1]) for name, value in ATTRIBUTE.findall(tag)
        }
        src = attributes.get("src", "")
        if src.startswith(("http://", "https://")) and src not in sources:
            sources[src] = attributes.get("alt", "")
            if len(sources) == MAX_IMAGES:
                break
    return sources


def bring_images_in(article_id: int, partner_id: int) -> int:
    """Copy a republished article's partner images into the media library, credited to the
    partner, and point the body at the copies; returns how many. Run by the worker after the
    article is saved (never inside an editor's request). Safe to run twice: the library knows
    an image by its bytes, and an address already replaced is not in the body any more. An
    image that cannot be fetched, is refused, or lacks the alt text a public article needs
    stays at its address."""
    article = Article.objects.filter(pk=article_id).first()
    partner = Partner.objects.filter(pk=partner_id).first()
    if article is None or partner is None:
        return 0
    sources = remote_images(article.body)
    if not sources:
        return 0
    brought: dict[str, str] = {}
    for url, answer in outbound.fetch_each(
        list(sources), max_bytes=settings.MEDIA_MAX_UPLOAD_BYTES
    ):
        if isinstance(answer, outbound.OutboundError) or not answer.ok:
            continue
        name = PurePosixPath(urlsplit(url).path).name or "image"
        try:
            item, _ = media_services.add_item_from_bytes(
                answer.content, name, alt_text=sources[url], credit=partner.name
            )
        except MediaError:
            continue
        brought[url] = item.file.url
    with transaction.atomic():
        # The article as it is now: the editor may have changed it meanwhile.
        article = Article.objects.select_for_update().get(pk=article_id)
        public = article.status in Article.PUBLIC_STATUSES
        body = article.body
        for url, new in brought.items():
            if public and not sources[url].strip():
                continue  # a public article shows no library image without alt text
            body = body.replace(f'src="{html.escape(url)}"', f'src="{html.escape(new)}"')
            body = body.replace(f'src="{url}"', f'src="{new}"')
        if body == article.body:
            return 0
        article.body = body
        publishing_services.save_article(article, note=f"Images brought in from {partner.name}")
    return len(brought)
