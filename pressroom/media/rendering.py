"""Showing library images: `picture_html(item, role)` and `best_rendition(item, preset, format)`.

Pages never make renditions: they show what the worker has made, falling back to the nearest
existing size, and to the (metadata-free) original when nothing is ready yet.

Roles say where an image sits on the page, which decides its shape and the `sizes` attribute:

- "lead": the article's lead image, full column width, loaded eagerly (it is the largest
  content paint), widths in avif/webp/original format;
- "body": an image inside an article body, lazy;
- "teaser": a 4:3 thumbnail in a list of articles, lazy;
- "square": a square thumbnail, lazy;
- "social": the 1200x630 card for Open Graph / Twitter (use `social_image_url`).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from pressroom.media import processing
from pressroom.media.models import MediaItem, Rendition


@dataclass(frozen=True)
class Role:
    presets: tuple[str, ...]  # "widths" means every w<N> rendition
    sizes: str
    lazy: bool = True
    priority: bool = False


ROLES: dict[str, Role] = {
    "lead": Role(("widths",), "(min-width: 48rem) 46rem, 100vw", lazy=False, priority=True),
    "body": Role(("widths",), "(min-width: 48rem) 46rem, 100vw"),
    "teaser": Role(("thumb-400", "thumb"), "(min-width: 48rem) 12rem, 33vw"),
    "square": Role(("square-400", "square"), "(min-width: 48rem) 8rem, 25vw"),
    "social": Role(("social",), "100vw"),
}


def _ready(item: MediaItem) -> list[Rendition]:
    """The item's current renditions, read once per item (prefetch `renditions` for lists)."""
    cached = getattr(item, "_prefetched_objects_cache", {}).get("renditions")
    renditions = list(cached) if cached is not None else list(item.renditions.all())
    return [r for r in renditions if r.source_hash == item.content_hash]


def _matches(rendition: Rendition, presets: tuple[str, ...]) -> bool:
    if "widths" in presets and rendition.preset.startswith("w") and rendition.preset[1:].isdigit():
        return True
    return rendition.preset in presets


def best_rendition(item: MediaItem, preset: str, format: str = "") -> Rendition | None:
    """The rendition asked for if ready, else the existing one nearest in width (same shape
    family: a width for a width, a crop for a crop); None when nothing is ready."""
    wanted = {spec.preset: spec for spec in _planned(item)}.get(preset)
    fallback = processing.fallback_format(item.mime_type)
    formats = [format] if format else [fallback]
    candidates = [
        r
        for r in _ready(item)
        if r.format in formats
        and (r.preset == preset or (preset.startswith("w") and r.preset.startswith("w")))
    ]
    exact = [r for r in candidates if r.preset == preset]
    if exact:
        return exact[0]
    if not candidates:
        return None
    target = wanted.width if wanted else 0
    return min(candidates, key=lambda r: abs(r.width - target))


def nearest_width(item: MediaItem, width: int) -> Rendition | None:
    """The ready rendition (original format, whole picture) at least `width` wide, else the
    widest one; None when nothing is ready."""
    fallback = processing.fallback_format(item.mime_type)
    widths = [r for r in _ready(item) if r.format == fallback and _matches(r, ("widths",))]
    if not widths:
        return None
    wide_enough = [r for r in widths if r.width >= width]
    if wide_enough:
        return min(wide_enough, key=lambda r: r.width)
    return max(widths, key=lambda r: r.width)


def _planned(item: MediaItem) -> list[processing.RenditionSpec]:
    if not item.width or not item.height:
        return []
    return processing.plan_renditions(
        item.width, item.height, item.mime_type, item.focal_x, item.focal_y
    )


def _srcset(renditions: Iterable[Rendition]) -> str:
    unique = {r.width: r for r in renditions}
    return ", ".join(f"{r.url} {width}w" for width, r in sorted(unique.items()))


def picture_html(
    item: MediaItem | None, role: str = "body", *, alt: str | None = None, css_class: str = ""
) -> SafeString:
    """`<picture>` with AVIF and WebP sources and an `<img>` carrying srcset, sizes, width,
    height (so nothing shifts), loading and decoding. Empty for a missing or non-image item."""
    if item is None or not item.is_image:
        return SafeString("")
    spec = ROLES[role]
    text = "" if item.is_decorative else (item.alt_text if alt is None else alt)
    ready = [r for r in _ready(item) if _matches(r, spec.presets)]
    fallback = processing.fallback_format(item.mime_type)
    by_format: dict[str, list[Rendition]] = {}
    for rendition in ready:
        by_format.setdefault(rendition.format, []).append(rendition)
    images = by_format.get(fallback, [])
    if images:
        largest = max(images, key=lambda r: r.width)
        src, width, height = largest.url, largest.width, largest.height
    else:
        # Nothing ready yet: the stored original (already stripped of metadata).
        src, width, height = item.url, item.width or 0, item.height or 0
        if spec.presets != ("widths",):
            planned = [s for s in _planned(item) if s.preset in spec.presets]
            if planned:
                width, height = planned[-1].width, planned[-1].height
    sources = format_html_join(
        "",
        '<source type="{}" srcset="{}" sizes="{}">',
        (
            (processing.FORMAT_MIME[fmt], _srcset(by_format[fmt]), spec.sizes)
            for fmt in ("avif", "webp")
            if by_format.get(fmt)
        ),
    )
    attributes = format_html(
        'src="{}" alt="{}" width="{}" height="{}" decoding="async"', src, text, width, height
    )
    if images:
        attributes = format_html(
            '{} srcset="{}" sizes="{}"', attributes, _srcset(images), spec.sizes
        )
    if spec.lazy:
        attributes = format_html('{} loading="lazy"', attributes)
    if spec.priority:
        attributes = format_html('{} fetchpriority="high"', attributes)
    if css_class:
        attributes = format_html('{} class="{}"', attributes, css_class)
    return format_html("<picture>{}<img {}></picture>", sources, attributes)


def social_image_url(item: MediaItem | None) -> str:
    """The 1200x630 card (JPEG/PNG: every scraper reads it), or '' when none is ready."""
    if item is None or not item.is_image:
        return ""
    rendition = best_rendition(item, "social")
    return rendition.url if rendition else ""


# An <img> of a body pointing at a library original (not already inside a <picture>).
_BODY_IMAGE = re.compile(
    r"(<picture\b.*?</picture>)|<img\b[^>]*\ssrc=\"[^\"]*/originals/([0-9a-f]{16})/[^\"]*\"[^>]*>",
    re.S | re.I,
)
_ALT = re.compile(r'\salt="([^"]*)"', re.I)


def pictures_in_html(body: str) -> SafeString:
    """A (cleaned) article body whose library images carry their renditions: each `<img>` of a
    library original becomes the item's `<picture>` with srcset, sizes, width and height (lazy),
    keeping the alt text written in the body. Renditions in one query for the whole body."""
    from pressroom.media.services import ITEM_FILE_URL

    keys = set(ITEM_FILE_URL.findall(body or ""))
    if not keys:
        return SafeString(body or "")
    items = {
        item.key: item
        for item in MediaItem.objects.filter(key__in=keys).prefetch_related("renditions")
    }

    def replace(match: re.Match[str]) -> str:
        if match.group(1) is not None:
            return match.group(1)
        item = items.get(match.group(2))
        if item is None or not item.is_image:
            return match.group(0)
        alt = _ALT.search(match.group(0))
        return picture_html(item, "body", alt=html.unescape(alt.group(1)) if alt else None)

    return SafeString(_BODY_IMAGE.sub(replace, body))
