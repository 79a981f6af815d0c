"""The export's media library: featured images and galleries, linked at their original URLs.

Attachments are entries of their own in the export, often after the posts that use them (they
are uploaded once the post exists). So the importer reads the library first, in a quick pass over
the file (wxr.read_attachments: a few hundred bytes an attachment), and then writes each post
whole, lead image and galleries included, in the batch that writes the post.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from pressroom.importers.wpcontent import Gallery, gallery_html, shortcode_attributes
from pressroom.importers.wxr import WxrItem

IMAGE_URL = re.compile(r"\.(?:jpe?g|png|gif|webp|avif|bmp|tiff?)(?:\?.*)?$", re.I)
GALLERY_SHORTCODE = re.compile(r"\[gallery\b([^\]]*)\]", re.I)


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

    @classmethod
    def from_attributes(cls, attributes: dict[str, str], post_id: str) -> GallerySpec:
        listed = attributes.get("ids") or attributes.get("include") or ""
        ids = tuple(part.strip() for part in listed.split(",") if part.strip())
        return cls(ids, attributes.get("id", "").strip() or post_id)


class MediaLibrary:
    def __init__(self) -> None:
        self.attachments: dict[str, Attachment] = {}
        self.children: dict[str, list[str]] = defaultdict(list)

    def add(self, item: WxrItem) -> None:
        if item.attachment_url.startswith(("https://", "http://")):
            if item.post_id not in self.attachments:
                self.children[item.parent_id].append(item.post_id)
            # An attachment repeated in the file: the last one wins, as for posts.
            self.attachments[item.post_id] = Attachment(
                item.attachment_url[:1000], item.image_alt[:500], item.parent_id
            )

    def lead_image(self, attachment_id: str) -> tuple[str, str]:
        attachment = self.attachments.get(attachment_id)
        return (attachment.url, attachment.alt) if attachment else ("", "")

    def images(self, spec: GallerySpec) -> list[tuple[str, str]]:
        ids = spec.ids or tuple(self.children.get(spec.parent_id, ()))
        found = [self.attachments[i] for i in ids if i in self.attachments]
        return [(a.url, a.alt) for a in found if IMAGE_URL.search(a.url)]

    def gallery_for(self, item: WxrItem) -> Gallery:
        """A [gallery] renderer for one post."""
        return lambda attributes: gallery_html(
            self.images(GallerySpec.from_attributes(attributes, item.post_id))
        )

    def used_by(self, item: WxrItem) -> list[object]:
        """The media a post shows as the library has them now, for the post's fingerprint: an
        image that was missing (a file cut short, an import killed on an older version) or that
        changed makes the post be written again."""
        used: list[object] = [self.lead_image(item.thumbnail_id)] if item.thumbnail_id else []
        if "[gallery" in item.content.lower():
            for match in GALLERY_SHORTCODE.finditer(item.content):
                spec = GallerySpec.from_attributes(
                    shortcode_attributes(match.group(1)), item.post_id
                )
                used.append(self.images(spec))
        return used
