"""The export's media library: featured images and galleries, linked at their original URLs.

Attachments are entries of their own in the export, often after the posts that use them (they
are uploaded once the post exists). So the library remembers every attachment it reads (its URL,
alt text and parent post: a few hundred bytes each) and the articles waiting for one, and sets
those articles' lead images and galleries once the whole file has been read.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from django.db import transaction

from pressroom.importers.wpcontent import Gallery, drop_empty_paragraphs, gallery_html
from pressroom.importers.wxr import WxrItem
from pressroom.publishing import services
from pressroom.publishing.html import BODY_ID_PREFIX, clean_body_html, make_excerpt
from pressroom.publishing.models import Article

IMAGE_URL = re.compile(r"\.(?:jpe?g|png|gif|webp|avif|bmp|tiff?)(?:\?.*)?$", re.I)
# Cleaning prefixes body ids (publishing.html.BODY_ID_PREFIX), the placeholder's included.
PLACEHOLDER = re.compile(rf'<div id="(?:{BODY_ID_PREFIX})?wp-gallery-(\d+)">\s*</div>')
FIX_UP_CHUNK = 500


@dataclass(frozen=True)
class Attachment:
    url: str
    alt: str
    parent_id: str


@dataclass(frozen=True)
class GallerySpec:
    """A [gallery]: the listed attachment ids, or else every image attached to `parent_id`."""

    ids: tuple[str, ...]
    parent_id: str


class MediaLibrary:
    def __init__(self) -> None:
        self.attachments: dict[str, Attachment] = {}
        self.children: dict[str, list[str]] = defaultdict(list)
        self.lead_images_due: dict[int, str] = {}  # article id -> attachment id
        self.galleries_due: dict[int, list[GallerySpec]] = {}  # article id -> its placeholders

    def add(self, item: WxrItem) -> None:
        if item.attachment_url.startswith(("https://", "http://")):
            self.attachments[item.post_id] = Attachment(
                item.attachment_url[:1000], item.image_alt[:500], item.parent_id
            )
            self.children[item.parent_id].append(item.post_id)

    def lead_image(self, attachment_id: str) -> tuple[str, str]:
        attachment = self.attachments.get(attachment_id)
        return (attachment.url, attachment.alt) if attachment else ("", "")

    def images(self, spec: GallerySpec) -> list[tuple[str, str]]:
        ids = spec.ids or tuple(self.children.get(spec.parent_id, ()))
        found = [self.attachments[i] for i in ids if i in self.attachments]
        return [(a.url, a.alt) for a in found if IMAGE_URL.search(a.url)]

    def gallery_for(self, item: WxrItem) -> tuple[Gallery, list[GallerySpec]]:
        """A [gallery] renderer for one post, and the galleries it had to leave for later."""
        deferred: list[GallerySpec] = []

        def render(attributes: dict[str, str]) -> str:
            listed = attributes.get("ids") or attributes.get("include") or ""
            ids = tuple(part.strip() for part in listed.split(",") if part.strip())
            spec = GallerySpec(ids, attributes.get("id", "").strip() or item.post_id)
            # Listed images all read already: done. Otherwise (or when the gallery means "all
            # images attached to the post", which may come later) wait for the end of the file.
            if ids and all(i in self.attachments for i in ids):
                return gallery_html(self.images(spec))
            deferred.append(spec)
            return f'<div id="wp-gallery-{len(deferred)}"></div>'

        return render, deferred

    def wait_for(self, article: Article, thumbnail_id: str, galleries: list[GallerySpec]) -> None:
        if thumbnail_id and not article.lead_image_url:
            self.lead_images_due[article.pk] = thumbnail_id
        if galleries:
            self.galleries_due[article.pk] = galleries

    def finish(self) -> None:
        """Set the lead images and galleries that waited for attachments later in the file."""
        waiting = sorted(set(self.lead_images_due) | set(self.galleries_due))
        for start in range(0, len(waiting), FIX_UP_CHUNK):
            with transaction.atomic():
                articles = Article.objects.in_bulk(waiting[start : start + FIX_UP_CHUNK])
                for article in articles.values():
                    self.complete(article)
                Article.objects.bulk_update(
                    articles.values(), ["lead_image_url", "lead_image_alt", "body", "excerpt"]
                )
                services.announce_change(list(articles))
        self.lead_images_due.clear()
        self.galleries_due.clear()

    def complete(self, article: Article) -> None:
        if attachment_id := self.lead_images_due.get(article.pk):
            article.lead_image_url, article.lead_image_alt = self.lead_image(attachment_id)
        if specs := self.galleries_due.get(article.pk):

            def fill(match: re.Match[str]) -> str:
                number = int(match.group(1))
                return gallery_html(self.images(specs[number - 1])) if number <= len(specs) else ""

            body = PLACEHOLDER.sub(fill, article.body)
            article.body = drop_empty_paragraphs(clean_body_html(body))
            article.excerpt = make_excerpt(article.body, article.editor_excerpt)
