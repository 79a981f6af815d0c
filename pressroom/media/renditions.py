"""The task worker's job: make the renditions an image lacks (never in a reader's request)."""

from __future__ import annotations

from django.db import IntegrityError

from pressroom.lib.pagecache.generation import forget_cached_pages
from pressroom.media import processing
from pressroom.media.models import MediaItem, Rendition
from pressroom.media.storage import delete_files, rendition_name_for, store


def make_item_renditions(item_id: int) -> int:
    """Make every rendition the item lacks; returns how many were made. Safe to run twice."""
    item = MediaItem.objects.filter(pk=item_id, kind=MediaItem.Kind.IMAGE).first()
    if item is None or not item.width or not item.height:
        return 0
    specs = processing.plan_renditions(
        item.width, item.height, item.mime_type, item.focal_x, item.focal_y
    )
    have = set(
        item.renditions.filter(source_hash=item.content_hash).values_list("preset", "format")
    )
    missing = [spec for spec in specs if (spec.preset, spec.format) not in have]
    if not missing:
        return 0
    try:
        with item.file.open("rb") as source:
            data = source.read()
    except FileNotFoundError:
        # Replaced (or deleted) since it was read above: the old file is gone on purpose, and
        # the replacement queued this task again for the new one.
        return 0
    made = 0
    written: list[str] = []
    try:
        for spec, content in processing.make_renditions(data, missing):
            stored, fresh = store(rendition_name_for(item, spec), content)
            if fresh:
                written.append(stored)
            _, created = record_rendition(item, spec, stored, content)
            made += created
    except IntegrityError:
        # The item was deleted while these were made: what was written goes too.
        if MediaItem.objects.filter(pk=item.pk).exists():
            raise
        delete_files(written)
        return 0
    # Renditions of an earlier file are no longer shown, and their files go: read the item's
    # hash again, as the file may have been replaced (or the item deleted) while these were
    # made; what was just made from the old file is deleted then too, never left public.
    current = MediaItem.objects.filter(pk=item.pk).values_list("content_hash", flat=True).first()
    if current is None:
        delete_files(written)
        return 0
    stale = Rendition.objects.filter(item_id=item.pk).exclude(source_hash=current)
    stale_names = [name for name in stale.values_list("file", flat=True) if name]
    stale.delete()
    delete_files(stale_names)
    if made:
        # Pages cached while they showed the fallback now get the lighter files.
        forget_cached_pages()
    return made


def record_rendition(
    item: MediaItem, spec: processing.RenditionSpec, stored: str, content: bytes
) -> tuple[Rendition, bool]:
    """The row of a rendition whose file is stored at `stored` (the one that exists already if
    another process recorded it first), and whether this call created it."""
    return Rendition.objects.get_or_create(
        item=item,
        preset=spec.preset,
        format=spec.format,
        source_hash=item.content_hash,
        defaults={
            "file": stored,
            "width": spec.width,
            "height": spec.height,
            "size": len(content),
        },
    )
