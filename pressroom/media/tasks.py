"""The media library's background work: renditions are made here, never in a reader's request."""

from __future__ import annotations

from django.tasks import task

from pressroom.media import renditions


@task
def make_renditions(item_id: int) -> int:
    return renditions.make_item_renditions(item_id)
