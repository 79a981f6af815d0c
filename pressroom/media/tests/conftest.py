from __future__ import annotations

import pytest
from django.core.management import call_command


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Each test stores its files in a directory of its own."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


def run_worker() -> None:
    """The real task worker, in batch mode: runs what is queued, then returns."""
    call_command("worker", batch=True, verbosity=0)


def library_photo(
    name: str = "photo.jpg", width: int = 1400, height: int = 1050, seed: int = 1, **fields: str
):
    """A phone photo added to the library, with every rendition made by the worker's own job
    (media.renditions): real files in storage, real rows."""
    from pressroom.media import services
    from pressroom.media.models import MediaItem
    from pressroom.media.renditions import make_item_renditions
    from pressroom.media.tests.images import jpeg_with_gps

    item, _ = services.add_item_from_bytes(jpeg_with_gps(width, height, seed=seed), name, **fields)
    make_item_renditions(item.pk)
    return MediaItem.objects.get(pk=item.pk)
