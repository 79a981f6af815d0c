"""The content generation: one token for everything a public page shows.

Every stored page and every part of a page a process keeps (pressroom/lib/pagecache/memo.py) is
filed under the generation current when its request started. The generation moves on

- when something readers see changes: apps call `forget_cached_pages()` after their commit
  (publishing on `content_changed`; fundraising on a gift or a campaign change);
- when a moment an app registered with `register_next_publication()` has passed (a scheduled
  article goes public, a campaign starts or ends): the first public request to render after it
  moves it on;
- and at least every PAGE_CACHE_SECONDS (the time is part of the token), which bounds how long
  a change nobody announced (an SQL update by hand) goes unseen.

So "how stale can a public page be" has one answer: not past the next change, and never more
than PAGE_CACHE_SECONDS old.

Where the stored part of the token lives depends on the cache (CACHE_URL):
- a per-process cache (locmem, the embedded default; dummy) cannot carry it between the
  `pressroom serve` workers, so it is a small file, VAR_DIR/content-generation, that every read
  `stat()`s (a couple of microseconds) and re-reads only when it changed;
- a shared cache (Redis, file) keeps it next to the pages, read on every request; it never goes
  backwards (the highest seen is also kept in VAR_DIR/content-generation-highest).
lib knows no app: apps register what they know from their AppConfig.ready().
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

logger = logging.getLogger(__name__)

GENERATION_KEY = "content:generation"
# Caches each process has for itself: the generation has to live outside them.
PER_PROCESS_BACKENDS = (".LocMemCache", ".DummyCache")
# What a process that never reached its shared cache files things under until it does.
OUTAGE_GENERATION = "unavailable"


class SharedCacheGeneration:
    """The generation in a cache every process shares (Redis), read on every request.

    It never goes backwards: each process remembers the highest generation it has seen (and
    keeps it in `highest_file`, so a restarted process remembers too). Redis restarted from an
    old snapshot brings back an old number and the pages filed under it; served, readers would
    flip between today's pages and older ones. A lower number read counts as a bump instead.
    """

    def __init__(self, key: str = GENERATION_KEY, highest_file: Path | None = None) -> None:
        self.key = key
        self.highest_file = highest_file
        self._last = OUTAGE_GENERATION
        self._highest = self._read_highest()

    def current(self) -> str:
        try:
            value = cache.get(self.key)
            if value is None:
                value = self._start()
            value = self._never_backwards(value)
        except Exception:
            # Redis is unreachable: pages keep rendering under the last generation seen
            # (changes show once it is back).
            logger.warning("could not read the content generation; using the last one")
            return self._last
        self._last = str(value)
        return self._last

    def bump(self) -> None:
        try:
            value = cache.incr(self.key)
        except ValueError:
            value = self._start()
        self._never_backwards(value)

    def _start(self) -> int:
        # Start from the clock, never from 1: if the key was evicted (or Redis restarted),
        # entries filed under the old small numbers must not come back.
        cache.add(self.key, time.time_ns() // 1000, timeout=None)
        return cache.get(self.key) or 0

    def _never_backwards(self, value: object) -> object:
        """`value`, or, if it is lower than a generation seen before, a new higher one that
        every process will read."""
        try:
            number = int(str(value))
        except ValueError:
            return value
        if number >= self._highest:
            if number > self._highest:
                self._highest = number
                self._write_highest()
            return value
        number = max(self._highest + 1, time.time_ns() // 1000)
        cache.set(self.key, number, timeout=None)
        self._highest = number
        self._write_highest()
        return number

    def _read_highest(self) -> int:
        if self.highest_file is None:
            return 0
        try:
            return int(self.highest_file.read_text().strip() or 0)
        except (OSError, ValueError):
            return 0

    def _write_highest(self) -> None:
        if self.highest_file is None:
            return
        try:
            # Another process may have written a higher one: keep the higher.
            if self._read_highest() >= self._highest:
                return
            self.highest_file.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.highest_file.with_name(f"{self.highest_file.name}.{os.getpid()}.tmp")
            temporary.write_text(str(self._highest))
            os.replace(temporary, self.highest_file)
        except OSError:
            # Only a restart from an old snapshot after a restart of this process depends on it.
            logger.warning("could not keep the content generation in %s", self.highest_file)


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


_stores: dict[tuple, SharedCacheGeneration | FileGeneration] = {}


def generation_store() -> SharedCacheGeneration | FileGeneration:
    """Where the generation lives with the configured cache. Settings are read on every call,
    cheaply: this runs on every request (and tests change them)."""
    backend = settings.CACHES["default"]
    if backend["BACKEND"].endswith(PER_PROCESS_BACKENDS):
        key: tuple = ("file", settings.VAR_DIR)
        if (store := _stores.get(key)) is None:
            store = _stores[key] = FileGeneration(Path(settings.VAR_DIR) / "content-generation")
        return store
    key = ("shared", backend["BACKEND"], backend.get("LOCATION"), settings.VAR_DIR)
    if (store := _stores.get(key)) is None:
        store = _stores[key] = SharedCacheGeneration(
            highest_file=Path(settings.VAR_DIR) / "content-generation-highest"
        )
    return store


def current_generation() -> str:
    """The generation now: the stored token and the PAGE_CACHE_SECONDS period we are in."""
    seconds = settings.PAGE_CACHE_SECONDS
    stored = generation_store().current()
    if seconds <= 0:
        return stored
    return f"{stored}.{int(time.time()) // seconds}"


def forget_cached_pages(**kwargs: object) -> None:
    """Something readers can see changed: every page and part of a page kept so far, in every
    process, is out of date. Call it after the change commits (transaction.on_commit); it also
    serves as a signal receiver."""
    try:
        generation_store().bump()
    except Exception:
        # The change is committed; failing the editor's request now would help no one. Pages
        # stay stale for at most PAGE_CACHE_SECONDS.
        logger.exception("page cache: could not bump the content generation")


# The request being answered: the generation it started under, or "" to keep nothing.
_serving: ContextVar[str] = ContextVar("serving_generation", default="")


@contextmanager
def serving(generation: str) -> Iterator[None]:
    """While one public request is answered, parts of pages are kept under `generation`, read
    before the view read anything: a change committed in the middle of a render (after the view
    read its teasers, say) cannot leave its old markup filed under the new generation. Outside
    this block (editors, commands, tasks) nothing is kept and every part is worked out afresh."""
    token = _serving.set(generation)
    try:
        yield
    finally:
        _serving.reset(token)


def serving_generation() -> str:
    return _serving.get()


# Moments at which what readers see changes without a save, from the apps that know them.
_next_publication_providers: list[Callable[[datetime], datetime | None]] = []


def register_next_publication(provider: Callable[[datetime], datetime | None]) -> None:
    """`provider(now)` gives the next moment after `now` at which something public changes
    without a save (a scheduled article goes public, a campaign starts or ends), or None."""
    global _next_moment
    if provider not in _next_publication_providers:
        _next_publication_providers.append(provider)
        _next_moment = ("", None)  # asked again of every provider, the new one included


# This process's answer for one generation: (generation, timestamp of the next moment or None).
_next_moment: tuple[str, float | None] = ("", None)


def next_moment(generation: str) -> float | None:
    """When the next registered moment falls, asked of the apps once per generation and
    process (a query each), then remembered."""
    global _next_moment
    known, moment = _next_moment
    if known != generation:
        now = timezone.now()
        upcoming = [found for provider in _next_publication_providers if (found := provider(now))]
        moment = min(upcoming).timestamp() if upcoming else None
        _next_moment = (generation, moment)
    return moment


def generation_to_render(generation: str) -> str:
    """The generation a render that starts now is filed under: `generation`, unless a
    registered moment has passed since it began, which moves the generation on first (in every
    process), so nothing kept from before that moment is used."""
    moment = next_moment(generation)
    # timezone.now(), the clock listings compare publication times with.
    if moment is not None and timezone.now().timestamp() >= moment:
        forget_cached_pages()
        return current_generation()
    return generation
