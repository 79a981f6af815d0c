"""The content generation: one token that changes whenever anything readers can see changes.

Every cached page is filed under the generation current when its render started, so bumping it
makes every cached page unreachable at once (home, topics, authors, feeds, the article itself)
without knowing which pages showed the changed article.

Where the token lives depends on the cache:
- a per-process cache (locmem, the embedded default; dummy) cannot carry it between the
  `pressroom serve` workers, so it is a small file in VAR_DIR that every request `stat()`s
  (a couple of microseconds) and re-reads only when it changed;
- a shared cache (Redis, file) keeps it next to the pages; each process re-reads it at most every
  PAGE_CACHE_GENERATION_POLL seconds, and at once after a bump of its own.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.dispatch import receiver

from pressroom.publishing.signals import content_changed

logger = logging.getLogger(__name__)

GENERATION_KEY = "pagecache:generation"
# Caches each process has for itself: the generation has to live outside them.
PER_PROCESS_BACKENDS = (".LocMemCache", ".DummyCache")


class SharedCacheGeneration:
    """The generation in a cache every process shares, polled at most every `poll_seconds`."""

    def __init__(self, poll_seconds: float) -> None:
        self.poll_seconds = poll_seconds
        self._value: str | None = None
        self._read_at = 0.0

    def current(self) -> str:
        now = time.monotonic()
        if self._value is None or now - self._read_at >= self.poll_seconds:
            value = cache.get(GENERATION_KEY)
            if value is None:
                value = self._start()
            self._value, self._read_at = str(value), now
        return self._value

    def bump(self) -> None:
        try:
            value = cache.incr(GENERATION_KEY)
        except ValueError:
            value = self._start()
        self._value, self._read_at = str(value), time.monotonic()

    @staticmethod
    def _start() -> int:
        # Start from the clock, never from 1: if the key was evicted (or Redis restarted), pages
        # filed under the old small numbers must not come back.
        cache.add(GENERATION_KEY, time.time_ns() // 1000, timeout=None)
        return cache.get(GENERATION_KEY) or 0


class FileGeneration:
    """The generation in a file every process on this machine checks with one stat().

    A bump replaces the file atomically, so its inode changes and no reader sees half a write.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._signature: tuple[int, int, int] | None = None
        self._value = "0"

    def current(self) -> str:
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            return "0"
        signature = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if signature != self._signature:
            try:
                self._value = self.path.read_text().strip() or "0"
            except FileNotFoundError:
                return "0"
            self._signature = signature
        return self._value

    def bump(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        token = f"{time.time_ns()}-{os.getpid()}-{secrets.token_hex(4)}"
        temporary = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        temporary.write_text(token)
        os.replace(temporary, self.path)


_sources: dict[tuple, SharedCacheGeneration | FileGeneration] = {}


def generation_source() -> SharedCacheGeneration | FileGeneration:
    """The store that fits the configured cache (settings are read on every call, cheaply: this
    runs on every cached hit)."""
    backend = settings.CACHES["default"]
    per_process = backend["BACKEND"].endswith(PER_PROCESS_BACKENDS)
    if per_process:
        key: tuple = ("file", settings.PAGE_CACHE_GENERATION_FILE)
    else:
        key = ("shared", backend["BACKEND"], str(backend.get("LOCATION")))
    source = _sources.get(key)
    if source is None:
        if per_process:
            source = FileGeneration(Path(settings.PAGE_CACHE_GENERATION_FILE))
        else:
            source = SharedCacheGeneration(settings.PAGE_CACHE_GENERATION_POLL)
        _sources[key] = source
    return source


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
