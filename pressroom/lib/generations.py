"""Generations: a token every process can read that changes whenever something changes.

A cache entry filed under the current generation becomes unreachable in every process as soon
as the generation is bumped, without knowing which entries depended on the change. The page
cache files pages under the "pagecache" generation; the campaign banner files its figures under
the "fundraising" one.

Where a generation lives depends on the cache:
- a per-process cache (locmem, the embedded default; dummy) cannot carry it between the
  `pressroom serve` workers, so it is a small file in VAR_DIR that every read `stat()`s
  (a couple of microseconds) and re-reads only when it changed;
- a shared cache (Redis, file) keeps it next to the entries; each process re-reads it at most
  every PAGE_CACHE_GENERATION_POLL seconds, and at once after a bump of its own.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
import weakref
from collections.abc import Callable, Hashable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)

# Caches each process has for itself: a generation has to live outside them.
PER_PROCESS_BACKENDS = (".LocMemCache", ".DummyCache")
# What a process that never reached its shared cache files things under until it does.
OUTAGE_GENERATION = "unavailable"


class SharedCacheGeneration:
    """A generation in a cache every process shares, polled at most every `poll_seconds`."""

    def __init__(self, poll_seconds: float, key: str = "pagecache:generation") -> None:
        self.poll_seconds = poll_seconds
        self.key = key
        self._value: str | None = None
        self._read_at = 0.0
        self._highest = 0

    def current(self) -> str:
        now = time.monotonic()
        if self._value is None or now - self._read_at >= self.poll_seconds:
            try:
                value = cache.get(self.key)
                if value is None:
                    value = self._start()
                value = self._never_backwards(value)
            except Exception:
                # Redis is unreachable: pages keep rendering under the last generation seen
                # (changes show once it is back), and it is asked again after the next poll.
                logger.warning("could not read generation %s; using the last one", self.key)
                value = self._value or OUTAGE_GENERATION
            self._value, self._read_at = str(value), now
        return self._value

    def bump(self) -> None:
        try:
            value = cache.incr(self.key)
        except ValueError:
            value = self._start()
        self._value, self._read_at = str(self._never_backwards(value)), time.monotonic()

    def _never_backwards(self, value: object) -> object:
        """A generation lower than one this process has seen counts as a bump.

        Redis restarted from an old snapshot brings back an old number, and the pages filed
        under it: served, readers would flip between today's pages and older ones. So the
        process moves the generation past anything it has seen, for every process to read.
        """
        try:
            number = int(str(value))
        except ValueError:
            return value
        if number >= self._highest:
            self._highest = number
            return value
        number = max(self._highest + 1, time.time_ns() // 1000)
        cache.set(self.key, number, timeout=None)
        self._highest = number
        return number

    def _start(self) -> int:
        # Start from the clock, never from 1: if the key was evicted (or Redis restarted),
        # entries filed under the old small numbers must not come back.
        cache.add(self.key, time.time_ns() // 1000, timeout=None)
        return cache.get(self.key) or 0


class FileGeneration:
    """A generation in a file every process on this machine checks with one stat().

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


Generation = SharedCacheGeneration | FileGeneration
_sources: dict[tuple, Generation] = {}


def generation(name: str, file_path: str | Path | None = None) -> Generation:
    """The store of generation `name` that fits the configured cache.

    Settings are read on every call, cheaply: this runs on every cached hit. `file_path` is where
    a per-process cache keeps it (default: VAR_DIR/<name>-generation).
    """
    backend = settings.CACHES["default"]
    if backend["BACKEND"].endswith(PER_PROCESS_BACKENDS):
        key: tuple = ("file", name, file_path, settings.VAR_DIR)
        if (source := _sources.get(key)) is None:
            path = Path(file_path or Path(settings.VAR_DIR) / f"{name}-generation")
            source = _sources[key] = FileGeneration(path)
        return source
    key = ("shared", name, backend["BACKEND"], backend.get("LOCATION"))
    if (source := _sources.get(key)) is None:
        source = _sources[key] = SharedCacheGeneration(
            settings.PAGE_CACHE_GENERATION_POLL, key=f"{name}:generation"
        )
    return source


_memos: weakref.WeakSet[GenerationMemo] = weakref.WeakSet()
_fresh_reads: ContextVar[bool] = ContextVar("fresh_reads", default=False)


@contextmanager
def fresh_reads() -> Iterator[None]:
    """Within this block every memo works its value out afresh and keeps nothing: the page
    cache answers editors this way, so they see a change before anything announces it."""
    token = _fresh_reads.set(True)
    try:
        yield
    finally:
        _fresh_reads.reset(token)


class GenerationMemo[Value]:
    """Values worked out from content, kept in this process while a generation stays the same.

    For what nearly every render needs (the header's markup, the topic of an archive page, the
    campaign banner), this is cheaper than the cache: no key hashing, no pickling and, with
    Redis, no round trip. Each process works a value out once per generation, and again once
    it is `max_age` seconds old (a number, or a function reading a setting), which bounds how
    stale a change that announces nothing can make it. `max_entries` bounds the memory,
    dropping the oldest entries first.
    """

    def __init__(
        self,
        current_generation: Callable[[], str],
        *,
        max_age: float | Callable[[], float],
        max_entries: int = 1024,
    ) -> None:
        self._current_generation = current_generation
        self._max_age = max_age
        self._max_entries = max_entries
        # The generation and the entries worked out under it, swapped as one: a value worked
        # out under an old generation can only land among that generation's entries.
        self._state: tuple[str | None, dict[Hashable, tuple[float, Value]]] = (None, {})
        self._lock = threading.Lock()
        _memos.add(self)

    def get_or_set(self, key: Hashable, work_out: Callable[[], Value]) -> Value:
        return self.get_or_set_many([(key, work_out)])[0]

    def get_or_set_many(
        self, wanted: Iterable[tuple[Hashable, Callable[[], Value]]]
    ) -> list[Value]:
        """The value of each (key, work_out), reading the generation once for them all."""
        if _fresh_reads.get():
            return [work_out() for _, work_out in wanted]
        max_age = self._max_age() if callable(self._max_age) else self._max_age
        if max_age <= 0:
            return [work_out() for _, work_out in wanted]
        current = self._current_generation()
        generation, entries = self._state
        if current != generation:
            entries = {}
            self._state = (current, entries)
        now = time.monotonic()
        values = []
        for key, work_out in wanted:
            entry = entries.get(key)
            if entry is not None and now - entry[0] < max_age:
                values.append(entry[1])
                continue
            value = work_out()
            with self._lock:  # reads need no lock; writers (with WEB_THREADS > 1) take turns
                if len(entries) >= self._max_entries:
                    entries.pop(next(iter(entries)), None)
                entries[key] = (now, value)
            values.append(value)
        return values

    def clear(self) -> None:
        self._state = (None, {})


def forget_memos() -> None:
    """Drop every memo's values in this process (tests do, between tests)."""
    for memo in list(_memos):
        memo.clear()
