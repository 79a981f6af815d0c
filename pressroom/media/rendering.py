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

Other places point at one file rather than a `<picture>` (link previews, structured data, feeds,
email): `image_file(item, preset)` gives it with its absolute URL, size and type.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.core.signals import setting_changed
from django.db.models import Prefetch, Q
from django.dispatch import receiver
from django.utils.encoding import filepath_to_uri
from django.utils.html import conditional_escape, escape
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
    # The home page's lead story: the teaser's 4:3 crops shown across the main column, first on
    # the screen (eager), so the thumbnails' one read serves it too.
    "feature": Role(
        ("thumb-400", "thumb"), "(min-width: 64rem) 46rem, 100vw", lazy=False, priority=True
    ),
    "square": Role(("square-400", "square"), "(min-width: 48rem) 8rem, 25vw"),
    "social": Role(("social",), "100vw"),
}


def _ready(item: MediaItem) -> list[Rendition]:
    """The item's current renditions, read once per item (prefetch `renditions` for lists).
    Not to be changed in place: with prefetched renditions, the list is worked out once per
    prefetched result (an article page asks five times: the picture, the card, three crops)."""
    cached = getattr(item, "_prefetched_objects_cache", {}).get("renditions")
    if cached is None:
        return [r for r in item.renditions.all() if r.source_hash == item.content_hash]
    kept = item.__dict__.get("_ready_renditions")
    if kept is not None and kept[0] is cached and kept[1] == item.content_hash:
        return kept[2]
    ready = [r for r in cached if r.source_hash == item.content_hash]
    item.__dict__["_ready_renditions"] = (cached, item.content_hash, ready)
    return ready


def _ready_by_shape(item: MediaItem, ready: list[Rendition]) -> dict[tuple[str, str], Rendition]:
    """The item's `ready` renditions (`_ready`) by preset and format (one of each: a rendition
    is unique by item, preset, format and source), worked out once per list `_ready` keeps."""
    kept = item.__dict__.get("_ready_by_shape")
    if kept is not None and kept[0] is ready:
        return kept[1]
    by_shape = {(r.preset, r.format): r for r in ready}
    item.__dict__["_ready_by_shape"] = (ready, by_shape)
    return by_shape


def _matches(rendition: Rendition, presets: tuple[str, ...]) -> bool:
    if "widths" in presets and rendition.preset.startswith("w") and rendition.preset[1:].isdigit():
        return True
    return rendition.preset in presets


def best_rendition(item: MediaItem, preset: str, format: str = "") -> Rendition | None:
    """The rendition asked for if ready, else the existing one nearest in width (same shape
    family: a width for a width, a crop for a crop); None when nothing is ready."""
    fmt = format or processing.fallback_format(item.mime_type)
    ready = _ready(item)
    # The rendition asked for is nearly always ready: found by its shape, not by a walk.
    exact = _ready_by_shape(item, ready).get((preset, fmt))
    if exact is not None:
        return exact
    wanted = _planned_by_preset(item).get(preset)
    candidates = [
        r for r in ready if r.format == fmt and preset.startswith("w") and r.preset.startswith("w")
    ]
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


def _planned(item: MediaItem) -> tuple[processing.RenditionSpec, ...]:
    return _planned_by_preset(item).get("", ())  # type: ignore[return-value]


def _planned_by_preset(item: MediaItem) -> dict[str, Any]:
    """The item's planned renditions by preset (the last planned of each), and all of them
    under "". Worked out once per shape: an article page asked four times for the same."""
    if not item.width or not item.height:
        return {}
    return _plan(
        item.width,
        item.height,
        item.mime_type,
        item.focal_x,
        item.focal_y,
        # What the plan depends on besides the image, so a changed setting plans afresh.
        tuple(settings.MEDIA_RENDITION_WIDTHS),
        bool(settings.MEDIA_AVIF),
    )


@functools.lru_cache(maxsize=512)
def _plan(
    width: int,
    height: int,
    mime_type: str,
    focal_x: float,
    focal_y: float,
    widths: tuple[int, ...],
    avif: bool,
) -> dict[str, Any]:
    specs = tuple(processing.plan_renditions(width, height, mime_type, focal_x, focal_y))
    return {"": specs, **{spec.preset: spec for spec in specs}}


def _srcset(renditions: Iterable[Rendition], urls: Mapping[int, str]) -> str:
    """`urls` by id() of each rendition."""
    unique = {r.width: r for r in renditions}
    return ", ".join(f"{urls[id(r)]} {width}w" for width, r in sorted(unique.items()))


# The names the library gives its files (storage.rendition_name_for, original_name_for): a URL
# carries them as they are, neither quoted nor escaped.
_PLAIN_NAME = re.compile(r"[A-Za-z0-9._/-]+")


def _file_name(rendition: Rendition) -> str:
    """rendition.file.name, without making the FieldFile the descriptor would (a rendition
    read for a page holds its name as a string until then)."""
    value = rendition.__dict__.get("file")
    return value if isinstance(value, str) else (rendition.file.name or "")


def _escaped_url_maker() -> Callable[[str], str]:
    """escape(_url_maker()(name)), for the plain names the library makes without the quoting
    and escaping that change nothing in them (twenty a lead picture)."""
    base = _filesystem_base_url()
    if base is not None:
        escaped_base = escape(base)
        plain = _PLAIN_NAME.fullmatch
        return lambda name: (
            escaped_base + name if plain(name) else escape(base + (filepath_to_uri(name) or ""))
        )
    url_of = _url_maker()
    return lambda name: escape(url_of(name))


def _url_maker() -> Callable[[str], str]:
    """What gives a rendition's address from its name. On the filesystem storage, what
    `storage.url()` returns without its `urljoin` and the lazy storage's indirection, worked out
    once per image: names in the library are relative paths it made itself (no scheme, no dot
    segments), and a list page asks for a hundred of them."""
    base = _filesystem_base_url()
    if base is not None:
        plain = _PLAIN_NAME.fullmatch
        # A plain name comes out of filepath_to_uri unchanged.
        return lambda name: base + name if plain(name) else base + (filepath_to_uri(name) or "")
    return Rendition._meta.get_field("file").storage.url  # type: ignore[attr-defined]


@functools.cache
def _filesystem_base_url() -> str | None:
    """The renditions' storage's base URL when it is the filesystem storage, None for any other
    storage: read through the lazy default storage once (an article page asked five times),
    again when the storage's settings change."""
    storage = Rendition._meta.get_field("file").storage  # type: ignore[attr-defined]
    if isinstance(storage, FileSystemStorage):
        return storage.base_url or None
    return None


@receiver(setting_changed)
def _forget_storage(setting: str, **kwargs: object) -> None:
    if setting in ("STORAGES", "MEDIA_URL", "MEDIA_ROOT"):
        _filesystem_base_url.cache_clear()


def picture_html(
    item: MediaItem | None, role: str = "body", *, alt: str | None = None, css_class: str = ""
) -> SafeString:
    """`<picture>` with AVIF and WebP sources and an `<img>` carrying srcset, sizes, width,
    height (so nothing shifts), loading and decoding. Empty for a missing or non-image item.

    Built with f-strings, every value escaped: a list page has twenty of these, and the same
    markup through format_html cost a fifth of the list's render (bench/thumbnails.py)."""
    if item is None or not item.is_image:
        return SafeString("")
    spec = ROLES[role]
    text = "" if item.is_decorative else (item.alt_text if alt is None else alt)
    ready = [r for r in _ready(item) if _matches(r, spec.presets)]
    escaped_url_of = _escaped_url_maker()
    # By identity: a model's pk is a property, and a lead picture asks for twenty of them.
    urls = {id(r): escaped_url_of(_file_name(r)) for r in ready}
    fallback = processing.fallback_format(item.mime_type)
    by_format: dict[str, list[Rendition]] = {}
    for rendition in ready:
        by_format.setdefault(rendition.format, []).append(rendition)
    images = by_format.get(fallback, [])
    if images:
        largest = max(images, key=lambda r: r.width)
        src, width, height = urls[id(largest)], largest.width, largest.height
    else:
        # Nothing ready yet: the stored original (already stripped of metadata).
        src, width, height = escape(item.url), item.width or 0, item.height or 0
        if spec.presets != ("widths",):
            planned = [s for s in _planned(item) if s.preset in spec.presets]
            if planned:
                width, height = planned[-1].width, planned[-1].height
    sizes = escape(spec.sizes)
    sources = "".join(
        f'<source type="{processing.FORMAT_MIME[fmt]}" srcset="{_srcset(by_format[fmt], urls)}"'
        f' sizes="{sizes}">'
        for fmt in ("avif", "webp")
        if by_format.get(fmt)
    )
    attributes = (
        f'src="{src}" alt="{conditional_escape(text)}" width="{int(width)}"'
        f' height="{int(height)}" decoding="async"'
    )
    if images:
        attributes += f' srcset="{_srcset(images, urls)}" sizes="{sizes}"'
    if spec.lazy:
        attributes += ' loading="lazy"'
    if spec.priority:
        attributes += ' fetchpriority="high"'
    if css_class:
        attributes += f' class="{conditional_escape(css_class)}"'
    return SafeString(f"<picture>{sources}<img {attributes}></picture>")


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


# A library file's name inside any address of it: /media/originals/<key>/<name>, a bucket's or
# CDN's https://…/media/renditions/<key>/<name>. Names are content-addressed, never hold "/",
# spaces, commas or quotes, so the match ends where the address (or srcset entry) does.
FILE_NAME = re.compile(r"(?<=/)((originals|renditions|files)/([0-9a-f]{16})/[A-Za-z0-9][\w.-]*)")
# renditions/<key>/<hash>-<preset>[-f<x>x<y>]-v<version>.<ext> (storage.rendition_name_for)
_RENDITION_NAME = re.compile(r"[0-9a-f]{20}-([a-z0-9-]+?)(?:-f\d+x\d+)?-v\d+\.([a-z0-9]+)$")
_FORMAT_OF_EXTENSION = {extension: fmt for fmt, extension in processing.EXTENSIONS.items()}


def _items_by_key(keys: Iterable[str]) -> dict[str, MediaItem]:
    wanted = sorted(set(keys))
    items: dict[str, MediaItem] = {}
    for start in range(0, len(wanted), 1000):
        chunk = wanted[start : start + 1000]
        for item in MediaItem.objects.filter(key__in=chunk).prefetch_related("renditions"):
            items[item.key] = item
    return items


def _current_name(name: str, item: MediaItem) -> str:
    """The name of the item's file that now stands for `name` (an original, a file or a
    rendition of the item, stored or long gone): the name itself while it is current, else
    the current rendition of the same preset and format (or the nearest one), else the current
    original."""
    if name == item.file.name:
        return name
    if name.startswith("renditions/"):
        ready = _ready(item)
        if any(rendition.file.name == name for rendition in ready):
            return name
        parsed = _RENDITION_NAME.search(name)
        if parsed is not None and item.is_image:
            fmt = _FORMAT_OF_EXTENSION.get(parsed.group(2), "")
            found = best_rendition(item, parsed.group(1), fmt)
            if found is not None and found.file.name:
                return found.file.name
    return item.file.name or name


def current_file_addresses(
    fragments: Iterable[str], items: Mapping[str, MediaItem] | None = None
) -> list[str]:
    """Each HTML fragment with every address of a library file that is no longer stored (the
    item's file was replaced, a crop re-cut) pointing at the item's current file instead.

    A replaced file is deleted from storage (a photo replaced because it exposed a source must
    not stay public), while bodies, once written, keep the addresses they were written with:
    so everything that shows a body (the article page, feeds) passes it through here. Items in
    one query for all the fragments (`items`, by key, when the caller has them); a deleted item's
    addresses stay as they are."""
    fragments = [fragment or "" for fragment in fragments]
    keys = {match.group(3) for fragment in fragments for match in FILE_NAME.finditer(fragment)}
    if not keys:
        return fragments
    if items is None:
        items = _items_by_key(keys)

    def replace(match: re.Match[str]) -> str:
        item = items.get(match.group(3))
        return match.group(0) if item is None else _current_name(match.group(1), item)

    return [FILE_NAME.sub(replace, fragment) for fragment in fragments]


def pictures_in_html(body: str) -> SafeString:
    """A (cleaned) article body whose library images carry their renditions: each `<img>` of a
    library original becomes the item's `<picture>` with srcset, sizes, width and height (lazy),
    keeping the alt text written in the body; every other address of a library file (a link,
    a player's source) points at the item's current file. Renditions in one query for the whole
    body."""
    keys = {match.group(3) for match in FILE_NAME.finditer(body or "")}
    if not keys:
        return SafeString(body or "")
    items = _items_by_key(keys)

    def replace(match: re.Match[str]) -> str:
        if match.group(1) is not None:
            return match.group(1)
        item = items.get(match.group(2))
        if item is None or not item.is_image:
            return match.group(0)
        alt = _ALT.search(match.group(0))
        return picture_html(item, "body", alt=html.unescape(alt.group(1)) if alt else None)

    return SafeString(current_file_addresses([_BODY_IMAGE.sub(replace, body)], items)[0])


@dataclass(frozen=True)
class ImageFile:
    """One file of an image, as something outside the page (a scraper, a feed reader, a mail
    client) fetches it: absolute URL, pixel size, type and length in bytes."""

    url: str
    width: int
    height: int
    mime_type: str
    size: int


def absolute_url(url: str) -> str:
    """Files on this site (MEDIA_URL is a path by default) under SITE_URL; a CDN's or object
    store's URL as it is."""
    return url if urlsplit(url).scheme else settings.SITE_URL + url


def image_file(item: MediaItem | None, preset: str) -> ImageFile | None:
    """The `preset` rendition in the format every client reads (JPEG, or PNG for images with
    transparency), or the nearest ready one, or the stored original (metadata-free) while the
    worker has made none; None for a missing or non-image item."""
    if item is None or not item.is_image:
        return None
    rendition = best_rendition(item, preset)
    if rendition is not None:
        return ImageFile(
            # What rendition.url gives, without the storage's indirections (_url_maker).
            absolute_url(_url_maker()(rendition.file.name or "")),
            rendition.width,
            rendition.height,
            processing.FORMAT_MIME[rendition.format],
            rendition.size,
        )
    return ImageFile(
        absolute_url(item.url), item.width or 0, item.height or 0, item.mime_type, item.size
    )


# The shapes search engines ask structured data to offer (16:9, 4:3, 1:1), as presets.
STRUCTURED_DATA_PRESETS = ("landscape", "thumb", "square")


def structured_data_images(item: MediaItem | None) -> list[ImageFile]:
    """The image in each of the ratios search engines ask for, each file once (while the worker
    has made nothing, that is the original alone)."""
    files: dict[str, ImageFile] = {}
    for preset in STRUCTURED_DATA_PRESETS:
        found = image_file(item, preset)
        if found is not None:
            files.setdefault(found.url, found)
    return list(files.values())


def renditions_prefetch(lookup: str, presets: Iterable[str]) -> Prefetch:
    """Prefetch the renditions of `presets` ("widths" meaning every w<N>), and no others: an
    image has thirty, and a list of twenty images should not build six hundred."""
    return Prefetch(lookup, queryset=Rendition.objects.filter(_presets_filter(presets)))


# What showing an image reads of its item (`load_images`).
SHOWN_FIELDS = (
    "id", "kind", "file", "content_hash", "mime_type", "size", "width", "height", "alt_text",
    "is_decorative", "focal_x", "focal_y",
)  # fmt: skip


def load_images(ids: Iterable[int], presets: Iterable[str]) -> dict[int, MediaItem]:
    """Library items by id, each with its renditions of `presets` in place (as a prefetch would
    leave them): two plain queries, a third of what `prefetch_related` spends on the same rows,
    which on a list page with nothing kept between renders was a third of the page."""
    wanted = set(ids)
    if not wanted:
        return {}
    items = {item.pk: item for item in MediaItem.objects.filter(pk__in=wanted).only(*SHOWN_FIELDS)}
    renditions: dict[int, list[Rendition]] = {pk: [] for pk in items}
    for rendition in Rendition.objects.filter(item_id__in=items).filter(_presets_filter(presets)):
        renditions[rendition.item_id].append(rendition)
    for pk, item in items.items():
        # Where a prefetch leaves them, so that `_ready` (and anything else) reads them there.
        item._prefetched_objects_cache = {"renditions": renditions[pk]}  # type: ignore[attr-defined]
    return items


# The width renditions' presets ("w320", "w1600", ...) as a range rather than `startswith`:
# SQLite runs LIKE ... ESCAPE as a function call per row, and the range, compared directly, read
# an article's lead image renditions in two thirds of the time (docs/performance.md).
WIDTH_PRESETS = Q(preset__gte="w", preset__lt="x")


def _presets_filter(presets: Iterable[str]) -> Q:
    wanted = set(presets)
    if "widths" in wanted:
        wanted.discard("widths")
        return WIDTH_PRESETS | Q(preset__in=wanted)
    return Q(preset__in=wanted)


def images_prefetch(lookup: str, presets: Iterable[str]) -> Prefetch:
    """Prefetch the library items at `lookup` (an article's "lead_image") with their renditions
    of `presets` (`ROLES[role].presets`, `STRUCTURED_DATA_PRESETS`, ...): two queries for a whole
    list, however long."""
    return Prefetch(
        lookup,
        queryset=MediaItem.objects.prefetch_related(renditions_prefetch("renditions", presets)),
    )
