"""Writes to the media library. Admin views, importers and tasks call these, nothing else.

The API other apps use:
- `add_item_from_bytes(data, name, ...)` / `add_item_from_file(file, ...)` -> (item, created):
  checks, strips metadata, stores, deduplicates by content hash; raises MediaError (nothing is
  stored then) with a message to show as is.
- `replace_item_file(item, data, name)`: new file, same item, every use kept, renditions redone;
  the old original and renditions are deleted from storage.
- `delete_item(item)`: refused with ItemInUseError (listing the uses) while anything uses it.
- `record_uses(obj, field, items, label=...)`: what `obj` uses in `field` (publishing calls it).
- `record_first_uses([(obj, field, item_id, label), ...])`: the same for objects that used
  nothing before (a batch of new articles), in one insert.
- `make_icon_renditions(item)`: a square image's icon sizes (ICON_SIZES), made at once.
- `items_in_html(html)`: library items whose files an HTML fragment points at
  (`item_ids_in_html(fragments)` for a batch).
- renditions are queued here (on commit) and made by `media.renditions.make_item_renditions`
  in the task worker (`media.tasks.make_renditions`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.files.base import File
from django.core.files.storage import default_storage
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from pressroom.lib.pagecache.generation import forget_cached_pages
from pressroom.media import processing
from pressroom.media.models import ItemInUseError, MediaError, MediaItem, MediaUse, Rendition
from pressroom.media.renditions import record_rendition
from pressroom.media.storage import delete_files as _delete_files
from pressroom.media.storage import original_name_for, rendition_name_for
from pressroom.media.storage import store as _store

# Any address of an item's files: /media/originals/<key>/..., .../renditions/<key>/...
ITEM_FILE_URL = re.compile(r"/(?:originals|renditions|files)/([0-9a-f]{16})/")


def add_item_from_bytes(
    data: bytes,
    name: str,
    *,
    alt_text: str = "",
    caption: str = "",
    credit: str = "",
    licence: str = "",
    is_decorative: bool = False,
    created_by: Any = None,
) -> tuple[MediaItem, bool]:
    """Add a file to the library, or find the item that has the same bytes already.

    Raises MediaError for anything the library refuses; nothing is stored then.
    """
    prepared = processing.prepare_upload(data, name)
    existing = MediaItem.objects.filter(content_hash=prepared.content_hash).first()
    if existing is not None:
        return existing, False
    item = MediaItem(
        kind=prepared.kind,
        content_hash=prepared.content_hash,
        original_name=processing.sanitize_name(name),
        mime_type=prepared.mime_type,
        size=len(prepared.content),
        width=prepared.width,
        height=prepared.height,
        alt_text=alt_text.strip()[:500],
        caption=(caption or prepared.caption).strip(),
        credit=(credit or prepared.credit).strip()[:300],
        copyright=prepared.copyright,
        is_decorative=is_decorative,
        created_by=created_by,
    )
    if licence:
        item.licence = licence
    stored, written = _store(original_name_for(item.key, prepared), prepared.content)
    item.file.name = stored
    try:
        with transaction.atomic():
            item.save()
            _queue_renditions(item)
    except IntegrityError:
        if written:
            _delete_files([stored])
        # Someone added the same bytes at the same moment: theirs is the item.
        winner = MediaItem.objects.filter(content_hash=prepared.content_hash).first()
        if winner is None:
            raise
        return winner, False
    except BaseException:
        if written:
            _delete_files([stored])
        raise
    return item, True


def add_item_from_file(file: File, **options: Any) -> tuple[MediaItem, bool]:
    """Like add_item_from_bytes, for an uploaded or opened file (its size is checked first)."""
    from django.conf import settings

    name = getattr(file, "name", "") or "upload"
    size = getattr(file, "size", None)
    limit = settings.MEDIA_MAX_UPLOAD_BYTES
    if size is not None and size > limit:
        raise MediaError(processing.too_large_message(name, size))
    file.seek(0)
    data = file.read(limit + 1)
    return add_item_from_bytes(data, name, **options)


@transaction.atomic
def update_item(item: MediaItem) -> MediaItem:
    """Save editable fields; a moved focal point re-cuts the crops."""
    previous = MediaItem.objects.filter(pk=item.pk).values("focal_x", "focal_y").first()
    item.set_focal_point(item.focal_x, item.focal_y)
    item.updated_at = timezone.now()
    item.save()
    if previous and (previous["focal_x"], previous["focal_y"]) != (item.focal_x, item.focal_y):
        crops = {name for name, _, _ in processing.CROPS}
        old = list(item.renditions.filter(preset__in=crops))
        Rendition.objects.filter(pk__in=[r.pk for r in old]).delete()
        # Crops around the old point are no longer shown anywhere: their files go too.
        old_names = [rendition.file.name for rendition in old if rendition.file.name]
        transaction.on_commit(lambda: _delete_files(old_names))
        _queue_renditions(item)
    # Alt text, caption and credit show on pages: cached copies give way.
    transaction.on_commit(forget_cached_pages)
    return item


@transaction.atomic
def replace_item_file(item: MediaItem, data: bytes, name: str) -> MediaItem:
    """Put new bytes behind the same item: uses stay, renditions are made again.

    The old original and its renditions are deleted from storage once this commits: a photo is
    often replaced because it exposed someone (a source's face, a street sign), and its old
    addresses are in feeds, emails and caches. Bodies keep the addresses they were written
    with; pages and feeds show them through `rendering.current_file_addresses` (the item's
    current file), and every cached page is forgotten.
    """
    prepared = processing.prepare_upload(data, name)
    # The names stored now, read under a lock: two replacements at once delete both old files.
    locked = MediaItem.objects.select_for_update().get(pk=item.pk)
    old_names = [locked.file.name, *locked.renditions.values_list("file", flat=True)]
    if prepared.kind != item.kind:
        raise MediaError(f"A {item.get_kind_display().lower()} can only be replaced by another.")
    other = MediaItem.objects.filter(content_hash=prepared.content_hash).exclude(pk=item.pk).first()
    if other is not None:
        raise MediaError(f"This file is already in the library as “{other}”.")
    stored, written = _store(original_name_for(item.key, prepared), prepared.content)
    try:
        item.file.name = stored
        item.content_hash = prepared.content_hash
        item.original_name = processing.sanitize_name(name)
        item.mime_type = prepared.mime_type
        item.size = len(prepared.content)
        item.width, item.height = prepared.width, prepared.height
        item.updated_at = timezone.now()
        item.save()
        item.renditions.all().delete()
        _queue_renditions(item)
    except BaseException:
        if written:
            _delete_files([stored])
        raise
    stale = [old for old in old_names if old and old != stored]
    transaction.on_commit(lambda: _delete_files(stale))
    transaction.on_commit(forget_cached_pages)
    return item


@transaction.atomic
def delete_item(item: MediaItem) -> None:
    """Delete an unused item and all its files; refused (ItemInUseError) while it is used."""
    uses = list(item.uses.select_related("content_type"))
    if uses:
        raise ItemInUseError(item, uses)
    key = item.key
    item.delete()
    transaction.on_commit(lambda: _delete_folder(key))


def _delete_folder(key: str) -> None:
    for folder in ("originals", "renditions", "files"):
        try:
            _, names = default_storage.listdir(f"{folder}/{key}")
        except (FileNotFoundError, NotImplementedError):
            continue
        _delete_files(f"{folder}/{key}/{name}" for name in names)


def items_in_html(html: str) -> list[MediaItem]:
    """Library items that an HTML fragment points at (any of their files, old or new)."""
    keys = set(ITEM_FILE_URL.findall(html or ""))
    return list(MediaItem.objects.filter(key__in=keys)) if keys else []


def record_uses(obj: models.Model, field: str, items: Iterable[MediaItem], label: str = "") -> None:
    """`obj` now uses exactly `items` in `field` (e.g. "lead image", "body")."""
    content_type = ContentType.objects.get_for_model(obj)
    wanted = {item.pk for item in items if item is not None}
    current = MediaUse.objects.filter(content_type=content_type, object_id=obj.pk, field=field)
    current.exclude(item_id__in=wanted).delete()
    label = (label or str(obj))[:300]
    current.filter(item_id__in=wanted).exclude(label=label).update(label=label)
    have = set(current.values_list("item_id", flat=True))
    MediaUse.objects.bulk_create(
        [
            MediaUse(
                item_id=item_id,
                content_type=content_type,
                object_id=obj.pk,
                field=field,
                label=label,
            )
            for item_id in wanted - have
        ],
        ignore_conflicts=True,
    )


def record_first_uses(uses: Iterable[tuple[models.Model, str, int, str]]) -> None:
    """(object, field, item id, label) of objects that used nothing until now (a batch of new
    articles): one insert for all of them, where record_uses costs a few queries an object."""
    content_types: dict[type[models.Model], ContentType] = {}
    rows = []
    for obj, field, item_id, label in uses:
        model = type(obj)
        if model not in content_types:
            content_types[model] = ContentType.objects.get_for_model(obj)
        rows.append(
            MediaUse(
                item_id=item_id,
                content_type=content_types[model],
                object_id=obj.pk,
                field=field,
                label=(label or str(obj))[:300],
            )
        )
    MediaUse.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)


def item_ids_in_html(fragments: Iterable[str]) -> dict[str, int]:
    """Key -> id of the library items a batch of HTML fragments points at (one query a
    thousand keys)."""
    keys = sorted({key for fragment in fragments for key in ITEM_FILE_URL.findall(fragment or "")})
    found: dict[str, int] = {}
    for start in range(0, len(keys), 1000):
        found.update(
            MediaItem.objects.filter(key__in=keys[start : start + 1000]).values_list("key", "pk")
        )
    return found


def forget_uses(obj: models.Model) -> None:
    """`obj` is gone: it uses nothing any more."""
    content_type = ContentType.objects.get_for_model(obj)
    MediaUse.objects.filter(content_type=content_type, object_id=obj.pk).delete()


# Square PNGs browsers and phones ask for: the tab icon, Apple's home-screen icon (180) and the
# web app manifest's two (192, 512).
ICON_SIZES = (32, 180, 192, 512)


def make_icon_renditions(item: MediaItem) -> list[Rendition]:
    """The item's icon sizes (`icon-<size>` renditions, PNG), made now rather than by the worker:
    a site icon is needed from the moment it is chosen. A square image at least 512 px wide;
    MediaError otherwise. Safe to call again (what exists is kept)."""
    if not item.is_image or not item.width or item.width != item.height or item.width < 512:
        raise MediaError("An icon must be a square image of at least 512×512 pixels.")
    have = {
        rendition.preset: rendition
        for rendition in item.renditions.filter(
            preset__startswith="icon-", format="png", source_hash=item.content_hash
        )
    }
    whole = (0.0, 0.0, float(item.width), float(item.height))
    missing = [
        processing.RenditionSpec(f"icon-{size}", "png", size, size, whole)
        for size in ICON_SIZES
        if f"icon-{size}" not in have
    ]
    if missing:
        with item.file.open("rb") as source:
            data = source.read()
        for spec, content in processing.make_renditions(data, missing):
            stored, _ = _store(rendition_name_for(item, spec), content)
            have[spec.preset], _ = record_rendition(item, spec, stored, content)
    return [have[f"icon-{size}"] for size in ICON_SIZES]


def _queue_renditions(item: MediaItem) -> None:
    if not item.is_image:
        return
    from pressroom.media.tasks import make_renditions

    item_id = item.pk
    transaction.on_commit(lambda: make_renditions.enqueue(item_id))
