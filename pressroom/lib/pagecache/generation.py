"""The content generation: one token that changes whenever anything readers can see changes.

Every cached page is filed under the generation current when its render started, so bumping it
makes every cached page unreachable at once (home, topics, authors, feeds, the article itself)
without knowing which pages showed the changed article. pressroom/lib/generations.py says where
the token lives.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.dispatch import receiver

from pressroom.lib.generations import FileGeneration, SharedCacheGeneration, generation
from pressroom.publishing.signals import content_changed

logger = logging.getLogger(__name__)

GENERATION_NAME = "pagecache"
GENERATION_KEY = f"{GENERATION_NAME}:generation"


def generation_source() -> SharedCacheGeneration | FileGeneration:
    return generation(GENERATION_NAME, settings.PAGE_CACHE_GENERATION_FILE)


def current_generation() -> str:
    return generation_source().current()


def bump_generation() -> None:
    generation_source().bump()


@receiver(content_changed, dispatch_uid="pagecache-bump-generation")
def forget_cached_pages(**kwargs: object) -> None:
    """Something readers can see changed: every page cached so far is out of date."""
    try:
        bump_generation()
    except Exception:
        # The change is committed; failing the editor's request now would help no one. Pages
        # stay stale for at most PAGE_CACHE_SECONDS.
        logger.exception("page cache: could not bump the content generation")
