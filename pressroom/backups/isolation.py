"""A restored copy stays apart from the live site until an operator says it goes live.

Restoring a backup writes a marker into VAR_DIR named after the database (settings.py reads it at
start-up and gives the cache keys their own prefix); while it is there, `pressroom worker` runs no
task, so a scratch restore neither serves its pages to live readers through a shared Redis nor
mails the subscribers it contains. `pressroom go-live` removes it.
"""

from __future__ import annotations

import logging
import secrets
import time
from pathlib import Path

from django.conf import settings

logger = logging.getLogger(__name__)


def marker() -> Path:
    return Path(settings.RESTORED_COPY_FILE)


def is_isolated() -> bool:
    return marker().is_file()


def isolate() -> str:
    """Mark this database as a restored copy; returns the copy's name (its cache key prefix)."""
    name = time.strftime("%Y%m%d%H%M%S") + "-" + secrets.token_hex(4)
    path = marker()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(name + "\n")
    return name


def go_live() -> bool:
    """Let the restored copy act as the site; False if it was not isolated."""
    try:
        marker().unlink()
    except FileNotFoundError:
        return False
    return True


def wait_until_live(poll_seconds: float = 2.0) -> bool:
    """Block while this is an isolated restored copy (the worker calls this before any task);
    True if it waited, so the process still has the copy's cache key prefix."""
    if not is_isolated():
        return False
    logger.warning(
        "This is a restored copy: tasks are paused until `pressroom go-live` (marker %s).",
        marker(),
    )
    while is_isolated():
        time.sleep(poll_seconds)
    return True
