"""Where library files go: content-addressed names under the item's key, in STORAGES["default"]."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from pressroom.media import processing
from pressroom.media.models import MediaItem

logger = logging.getLogger(__name__)


def original_name_for(key: str, prepared: processing.Prepared) -> str:
    folder = "originals" if prepared.kind == MediaItem.Kind.IMAGE else "files"
    return f"{folder}/{key}/{prepared.content_hash[:20]}.{prepared.extension}"


def rendition_name_for(item: MediaItem, spec: processing.RenditionSpec) -> str:
    """Content-addressed: source hash, preset, focal point (for crops) and encoder version."""
    focus = ""
    if not spec.preset.startswith("w"):
        focus = f"-f{round(item.focal_x * 1000)}x{round(item.focal_y * 1000)}"
    return (
        f"renditions/{item.key}/{item.content_hash[:20]}-{spec.preset}{focus}"
        f"-v{processing.RENDITION_VERSION}.{processing.EXTENSIONS[spec.format]}"
    )


def store(name: str, content: bytes) -> tuple[str, bool]:
    """Save under exactly `name` (content-addressed, so an existing file is the same file)."""
    if default_storage.exists(name):
        return name, False
    stored = default_storage.save(name, ContentFile(content))
    return stored, True


def delete_files(names: Iterable[str]) -> None:
    for name in names:
        try:
            default_storage.delete(name)
        except Exception:  # a file already gone is what we wanted
            logger.warning("Could not delete media file %s", name, exc_info=True)
