"""The export's media library: featured images, galleries and the files bodies point at.

Attachments are entries of their own in the export, often after the posts that use them (they
are uploaded once the post exists). So the importer reads the library first, in a quick pass over
the file (wxr.read_attachments: a few hundred bytes an attachment), and then writes each post
whole, lead image and galleries included, in the batch that writes the post.

Without --media-dir or --fetch-media, images stay at their original URLs. With one of them, the
media pass (importers.uploads) first brings each attachment into the library; its `homes` then
make featured images lead images, galleries library figures, and every body address of an old
upload (a size WordPress made of it, a ?w= copy) the library file.
"""

from __future__ import annotations

import html
import re
from collections import defaultdict
from dataclasses import dataclass

from pressroom.importers.uploads import SIZE_SUFFIX, Attachment, Home, upload_key, upload_keys
from pressroom.importers.wpcontent import (
    Gallery,
    figure_html,
    gallery_html,
    shortcode_attributes,
)
from pressroom.importers.wxr import WxrItem

IMAGE_URL = re.compile(r"\.(?:jpe?g|png|gif|webp|avif|bmp|tiff?)(?:\?.*)?$", re.I)
GALLERY_SHORTCODE = re.compile(r"\[gallery\b([^\]]*)\]", re.I)
# Addresses of files in a body (tags and shortcodes alike), for the post's fingerprint.
FILE_ADDRESS = re.compile(
    r"""[^\s"'<>\[\]=,]+\.(?:jpe?g|png|gif|webp|avif|heic|pdf|mp3|m4a|ogg|oga|wav|flac|mp4|m4v|webm|ogv|mov)"""
    r"""(?:\?[^\s"'<>\[\]]*)?""",
    re.I,
)
# The tags whose addresses are rewritten, and their attributes.
_TAG = re.compile(r"<(img|a|audio|video|source)\b([^>]*)>", re.I)
_ATTRIBUTE = re.compile(r"""([\w:-]+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s"'>]+))?""")


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
        # Attachments brought into the library (importers.uploads), and their upload keys.
        self.homes: dict[str, Home] = {}
        self.by_key: dict[str, Home] = {}
        self.hosts: set[str] = set()

    def add(self, item: WxrItem) -> None:
        if item.attachment_url.startswith(("https://", "http://")):
            if item.post_id not in self.attachments:
                self.children[item.parent_id].append(item.post_id)
            # An attachment repeated in the file: the last one wins, as for posts.
            self.attachments[item.post_id] = Attachment(
                item.attachment_url[:1000],
                item.image_alt[:500],
                item.parent_id,
                title=item.title[:255],
                link=item.link[:1000],
                caption=item.excerpt[:2000],
                attached_file=item.attached_file[:1000],
            )

    def set_homes(self, homes: dict[str, Home]) -> None:
        self.homes = homes
        for attachment_id, home in homes.items():
            attachment = self.attachments.get(attachment_id)
            if attachment is None:
                continue
            self.hosts.add(_host(attachment.url))
            keys = upload_keys(upload_key(attachment.url))
            if attachment.attached_file:
                keys += upload_keys(attachment.attached_file)
            for key in keys:
                self.by_key.setdefault(key, home)

    def lead_image(self, attachment_id: str) -> tuple[str, str]:
        attachment = self.attachments.get(attachment_id)
        return (attachment.url, attachment.alt) if attachment else ("", "")

    def lead_home(self, attachment_id: str) -> Home | None:
        home = self.homes.get(attachment_id)
        return home if home is not None and home.is_image else None

    def found(self, spec: GallerySpec) -> list[tuple[str, Attachment]]:
        ids = spec.ids or tuple(self.children.get(spec.parent_id, ()))
        return [
            (i, self.attachments[i])
            for i in ids
            if i in self.attachments and IMAGE_URL.search(self.attachments[i].url)
        ]

    def images(self, spec: GallerySpec) -> list[tuple[str, str]]:
        return [(a.url, a.alt) for _, a in self.found(spec)]

    def gallery_for(self, item: WxrItem) -> Gallery:
        """A [gallery] renderer for one post: the editor's image blocks, one per image (library
        images with their captions once brought home)."""

        def render(attributes: dict[str, str]) -> str:
            spec = GallerySpec.from_attributes(attributes, item.post_id)
            if not self.homes:
                return gallery_html(self.images(spec))
            figures = []
            for attachment_id, attachment in self.found(spec):
                home = self.homes.get(attachment_id)
                if home is None:
                    figures.append(figure_html(attachment.url, attachment.alt))
                else:
                    figures.append(
                        figure_html(home.url, home.alt, attachment.caption, home.width, home.height)
                    )
            return "".join(figures)

        return render

    def home_for_address(self, address: str) -> Home | None:
        """The library item an old address of an upload stands for: the file itself, a size
        WordPress made of it (photo-300x200.jpg), or a copy with a query (photo.jpg?w=640)."""
        address = html.unescape(address.strip())
        if (
            address.startswith(("http://", "https://", "//"))
            and _host(address) not in self.hosts
            and "/wp-content/uploads/" not in address
        ):
            return None  # another site's file with the same name
        key = upload_key(address)
        return self.by_key.get(key) or self.by_key.get(SIZE_SUFFIX.sub("", key))

    def rewrite_body(self, body: str) -> str:
        """Every address of an old upload in `body` (images, links to the file, players)
        made the library's; an image gets the library's size and, if it had none, alt text.
        The page shows library images with their renditions (srcset)."""
        if not self.by_key:
            return body
        return _TAG.sub(self._rewrite_tag, body)

    def _rewrite_tag(self, match: re.Match[str]) -> str:
        name, raw = match.group(1).lower(), match.group(2)
        attributes = [
            (m.group(1).lower(), _unquote(m.group(2)) if m.group(2) is not None else None)
            for m in _ATTRIBUTE.finditer(raw)
        ]
        wanted = "href" if name == "a" else "src"
        home = None
        for key, value in attributes:
            if key == wanted and value:
                home = self.home_for_address(value)
                break
        if home is None:
            return match.group(0)
        kept: list[tuple[str, str | None]] = []
        for key, value in attributes:
            if key == wanted:
                value = home.url
            elif name == "img" and key in {"srcset", "sizes", "width", "height"}:
                continue  # the old site's sizes; the library's come with the page
            elif name == "img" and key == "alt" and not (value or "").strip():
                value = home.alt
            kept.append((key, value))
        if name == "img":
            if not any(key == "alt" for key, _ in kept):
                kept.append(("alt", home.alt))
            if home.width and home.height:
                kept += [("width", str(home.width)), ("height", str(home.height))]
        rendered = "".join(
            f" {key}" if value is None else f' {key}="{html.escape(value)}"' for key, value in kept
        )
        closing = " /" if raw.rstrip().endswith("/") and name == "img" else ""
        return f"<{match.group(1)}{rendered}{closing}>"

    def used_by(self, item: WxrItem) -> list[object]:
        """The media a post shows as the library has them now, for the post's fingerprint: an
        image that was missing (a file cut short, an import killed on an older version) or that
        changed (brought into the library) makes the post be written again."""
        used: list[object] = [self.lead_image(item.thumbnail_id)] if item.thumbnail_id else []
        if "[gallery" in item.content.lower():
            for match in GALLERY_SHORTCODE.finditer(item.content):
                spec = GallerySpec.from_attributes(
                    shortcode_attributes(match.group(1)), item.post_id
                )
                used.append(self.images(spec))
                if self.homes:
                    used.append([self.home_id(i) for i, _ in self.found(spec)])
        if self.homes:
            lead = self.lead_home(item.thumbnail_id)
            used.append(lead.item_id if lead else None)
            homes = (self.home_for_address(a) for a in FILE_ADDRESS.findall(item.content))
            used.append([home.item_id if home else None for home in homes])
        return used

    def home_id(self, attachment_id: str) -> int | None:
        home = self.homes.get(attachment_id)
        return home.item_id if home else None


def _host(url: str) -> str:
    return url.split("//", 1)[-1].split("/", 1)[0].lower()


def _unquote(value: str) -> str:
    if value[:1] in {'"', "'"} and value[-1:] == value[:1]:
        value = value[1:-1]
    return html.unescape(value)
