"""The content generation: one token that changes whenever anything readers can see changes.

Every cached page is filed under the generation current when its render started, so bumping it
makes every cached page unreachable at once (home, topics, authors, feeds, the article itself)
without knowing which pages showed the changed article. pressroom/lib/generations.py says where
the token lives.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings

from pressroom.lib.generations import (
    FileGeneration,
    GenerationMemo,
    SharedCacheGeneration,
    generation,
)

logger = logging.getLogger(__name__)

GENERATION_NAME = "pagecache"
GENERATION_KEY = f"{GENERATION_NAME}:generation"


def generation_source() -> SharedCacheGeneration | FileGeneration:
    return generation(GENERATION_NAME, settings.PAGE_CACHE_GENERATION_FILE)


_pinned: ContextVar[str | None] = ContextVar("pinned_content_generation", default=None)


def current_generation() -> str:
    return _pinned.get() or generation_source().current()


@contextmanager
def generation_pinned(generation: str = "") -> Iterator[None]:
    """While one public request is answered, every read of the content generation gives the
    one current when it started (`generation`, or read now), before the view read anything.

    Parts of the page kept per process are then filed under a generation no newer than the
    data they were made from: a change committed in the middle of a render (after the view read
    its teasers, say) cannot leave its old markup filed under the new generation.
    """
    token = _pinned.set(generation or generation_source().current())
    try:
        yield
    finally:
        _pinned.reset(token)


def content_memo(*, max_entries: int) -> GenerationMemo:
    """A memo of parts of pages worked out from published content (fragments, teasers, an
    archive's topic): kept until the content generation changes, and at most
    FRAGMENT_CACHE_SECONDS, which bounds how long a change nobody announced goes unseen."""
    return GenerationMemo(
        current_generation,
        max_age=lambda: settings.FRAGMENT_CACHE_SECONDS,
        max_entries=max_entries,
    )


def bump_generation() -> None:
    generation_source().bump()


def forget_cached_pages(**kwargs: object) -> None:
    """Something readers can see changed: every page cached so far is out of date.

    A signal receiver: publishing connects it to its content_changed signal in its
    AppConfig.ready() (lib knows no app)."""
    try:
        bump_generation()
    except Exception:
        # The change is committed; failing the editor's request now would help no one. Pages
        # stay stale for at most PAGE_CACHE_SECONDS.
        logger.exception("page cache: could not bump the content generation")
