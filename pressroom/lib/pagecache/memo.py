"""Parts of public pages each process keeps between renders, under the content generation.

For what nearly every render needs and only published content decides (each teaser's markup,
the topic of an archive page, the header, the campaign banner), this is cheaper than the cache:
no key hashing, no pickling and, with Redis, no round trip. Values are kept only while a public
request is answered (generation.serving), under the generation that request started with, so
they are dropped with everything else when the generation moves on. Editors, commands and tasks
always work every value out afresh.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Hashable, Iterable
from typing import cast

from pressroom.lib.pagecache.generation import serving_generation

_memos: weakref.WeakSet[ContentMemo] = weakref.WeakSet()
_MISSING = object()


class ContentMemo[Value]:
    """Values worked out from published content, at most `max_entries` of them (the oldest go
    first), for as long as the content generation stays the same."""

    def __init__(self, *, max_entries: int) -> None:
        self.max_entries = max_entries
        # The generation and the entries worked out under it, swapped as one: a value worked
        # out under an old generation can only land among that generation's entries.
        self._state: tuple[str, dict[Hashable, Value]] = ("", {})
        self._lock = threading.Lock()
        _memos.add(self)

    def get_or_set(self, key: Hashable, work_out: Callable[[], Value]) -> Value:
        return self.get_or_set_many([(key, work_out)])[0]

    def get_or_set_many(
        self, wanted: Iterable[tuple[Hashable, Callable[[], Value]]]
    ) -> list[Value]:
        """The value of each (key, work_out), reading the generation once for them all."""
        generation = serving_generation()
        if not generation or self.max_entries <= 0:
            return [work_out() for _, work_out in wanted]
        kept_generation, entries = self._state
        if kept_generation != generation:
            entries = {}
            self._state = (generation, entries)
        values: list[Value] = []
        for key, work_out in wanted:
            kept = entries.get(key, _MISSING)
            if kept is not _MISSING:
                values.append(cast(Value, kept))
                continue
            value = work_out()
            with self._lock:  # reads need no lock; writers (with WEB_THREADS > 1) take turns
                if len(entries) >= self.max_entries:
                    entries.pop(next(iter(entries)), None)
                entries[key] = value
            values.append(value)
        return values

    def peek(self, key: Hashable) -> Value | None:
        """The value last kept under `key`, whatever generation it was worked out under, or
        None; never works anything out (for a page drawn while the database is away)."""
        return self._state[1].get(key)

    def clear(self) -> None:
        self._state = ("", {})


def forget_memos() -> None:
    """Drop every memo's values in this process.

    Kept public although only the test suite calls it: conftest.py resets every memo between
    tests through this hook, and the memos are private to the modules that own them."""
    for memo in list(_memos):
        memo.clear()
