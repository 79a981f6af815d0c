"""Writes to the site settings: the admin calls `save_site_settings`, nothing else does."""

from __future__ import annotations

from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from pressroom.lib.pagecache import forget_cached_pages
from pressroom.media.models import MediaError, MediaItem
from pressroom.media.services import add_item_from_file, make_icon_renditions, record_uses
from pressroom.site.models import SITE_SETTINGS_ID, SiteSettings

# The images the settings point at, as the media library lists their uses.
IMAGE_FIELDS = {"logo": "logo", "icon": "icon", "share_image": "default share image"}


def _add_image(upload: UploadedFile, alt_text: str, created_by: Any) -> MediaItem:
    item, _ = add_item_from_file(upload, alt_text=alt_text, created_by=created_by)
    if not item.is_image:
        raise MediaError(f"“{item}” is not an image.")
    return item


@transaction.atomic
def save_site_settings(
    site: SiteSettings,
    *,
    uploads: dict[str, UploadedFile] | None = None,
    created_by: Any = None,
) -> SiteSettings:
    """Store the settings (validated by the form or `full_clean`), adding uploaded images
    (`uploads`: field name -> file) to the media library first. The icon's sizes are made
    here, so browsers find them as soon as the pages show them. Every cached page gives way
    once this commits: the name, colours and logo are on all of them.

    Raises MediaError (nothing is stored then) for an upload the library refuses."""
    site.pk = SITE_SETTINGS_ID
    for field, upload in (uploads or {}).items():
        if field not in IMAGE_FIELDS:
            raise ValueError(f"{field} is not an image of the site settings")
        setattr(site, field, _add_image(upload, site.name, created_by))
    if site.icon is not None:
        make_icon_renditions(site.icon)
    site.updated_at = timezone.now()
    site.save()
    for field, label in IMAGE_FIELDS.items():
        item = getattr(site, field)
        record_uses(
            site, field, [item] if item is not None else [], label=f"Site settings: {label}"
        )
    transaction.on_commit(forget_cached_pages)
    return site
