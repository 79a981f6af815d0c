"""The content generation and the parts of pages each process keeps under it: values are kept
while public requests are answered under one generation, and worked out afresh after it moves on,
outside public requests (editors, commands, tasks), and when PAGE_CACHE_SECONDS has passed."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from pressroom.lib.pagecache import generation as content_generation
from pressroom.lib.pagecache.generation import (
    current_generation,
    forget_cached_pages,
    generation_to_render,
    register_next_publication,
    serving,
)
from pressroom.lib.pagecache.memo import ContentMemo, forget_memos


class Work:
    def __init__(self) -> None:
        self.done = 0

    def __call__(self) -> str:
        self.done += 1
        return f"value {self.done}"


def test_a_value_is_worked_out_once_per_generation():
    work = Work()
    memo: ContentMemo[str] = ContentMemo(max_entries=8)
    with serving("1"):
        assert memo.get_or_set("header", work) == "value 1"
        assert memo.get_or_set("header", work) == "value 1"
    with serving("2"):
        assert memo.get_or_set("header", work) == "value 2"
    assert work.done == 2


def test_outside_a_public_request_every_value_is_worked_out_and_nothing_kept():
    """How editors' requests, commands and tasks read: a change shows before anything
    announces it."""
    work = Work()
    memo: ContentMemo[str] = ContentMemo(max_entries=8)
    with serving("1"):
        assert memo.get_or_set("teaser", work) == "value 1"
    assert memo.get_or_set("teaser", work) == "value 2"
    with serving(""):  # PAGE_CACHE_SECONDS=0: nothing is kept
        assert memo.get_or_set("teaser", work) == "value 3"
    with serving("1"):
        assert memo.get_or_set("teaser", work) == "value 1"


def test_entries_are_bounded_and_the_oldest_goes_first():
    memo: ContentMemo[int] = ContentMemo(max_entries=2)
    with serving("1"):
        memo.get_or_set("a", lambda: 1)
        memo.get_or_set("b", lambda: 2)
        memo.get_or_set("c", lambda: 3)
        assert memo.get_or_set("c", lambda: 30) == 3
        assert memo.get_or_set("b", lambda: 20) == 2
        assert memo.get_or_set("a", lambda: 10) == 10  # "a" was dropped to make room


def test_forget_memos_empties_every_memo():
    memo: ContentMemo[int] = ContentMemo(max_entries=8)
    with serving("1"):
        memo.get_or_set("a", lambda: 1)
        forget_memos()
        assert memo.get_or_set("a", lambda: 2) == 2


def test_a_failed_work_out_keeps_nothing():
    """An unknown topic's lookup raises (a 404); the next request asks again."""
    memo: ContentMemo[int] = ContentMemo(max_entries=8)

    def fail() -> int:
        raise LookupError("no such topic")

    with serving("1"):
        for _ in range(2):
            with pytest.raises(LookupError):
                memo.get_or_set("missing", fail)
        assert memo.get_or_set("missing", lambda: 5) == 5


def test_many_values_work_out_only_the_missing():
    memo: ContentMemo[str] = ContentMemo(max_entries=8)
    with serving("1"):
        memo.get_or_set("b", lambda: "kept b")
        values = memo.get_or_set_many(
            [("a", lambda: "new a"), ("b", lambda: "new b"), ("c", lambda: "new c")]
        )
    assert values == ["new a", "kept b", "new c"]


def test_the_generation_moves_on_with_a_change_and_with_time(settings, monkeypatch):
    settings.PAGE_CACHE_SECONDS = 60
    now = [1_000_020.0]
    monkeypatch.setattr(content_generation.time, "time", lambda: now[0])
    first = current_generation()
    now[0] += 30
    assert current_generation() == first  # the same period of PAGE_CACHE_SECONDS
    forget_cached_pages()
    changed = current_generation()
    assert changed != first
    now[0] += 30
    assert current_generation() != changed  # the next period: nothing is older than a minute


def test_a_registered_moment_that_has_passed_moves_the_generation_on(db, settings):
    """What a scheduled article or a campaign's start does: no save, no signal."""
    moments = []

    def provider(now):
        return moments[0] if moments and moments[0] > now else None

    # An earlier test's answer for the same generation number (the per-process cache starts
    # again at the same value) must not hide the new provider: registering asks again.
    register_next_publication(provider)
    try:
        generation = current_generation()
        # The moment is set after the generation is read, so a slow machine cannot let it pass
        # before the first look.
        moments.append(timezone.now() + timedelta(seconds=1))
        assert generation_to_render(generation) == generation
        time.sleep(1.05)
        moved_on = generation_to_render(generation)
        assert moved_on != generation
        assert moved_on == current_generation()
        assert generation_to_render(moved_on) == moved_on  # nothing further is scheduled
    finally:
        content_generation._next_publication_providers.remove(provider)
