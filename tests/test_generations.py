"""Generation memos: values a process keeps until the content they were worked out from changes."""

import pytest

from pressroom.lib.generations import GenerationMemo, forget_memos, fresh_reads


class Clock:
    def __init__(self) -> None:
        self.generation = "1"
        self.work_done = 0

    def work(self) -> str:
        self.work_done += 1
        return f"value {self.work_done}"


def test_a_value_is_worked_out_once_per_generation():
    clock = Clock()
    memo: GenerationMemo[str] = GenerationMemo(lambda: clock.generation, max_age=60)
    assert memo.get_or_set("header", clock.work) == "value 1"
    assert memo.get_or_set("header", clock.work) == "value 1"
    clock.generation = "2"
    assert memo.get_or_set("header", clock.work) == "value 2"
    assert clock.work_done == 2


def test_max_age_works_a_value_out_again_within_a_generation(monkeypatch):
    clock = Clock()
    now = [1000.0]
    monkeypatch.setattr("pressroom.lib.generations.time.monotonic", lambda: now[0])
    memo: GenerationMemo[str] = GenerationMemo(lambda: clock.generation, max_age=10)
    assert memo.get_or_set("banner", clock.work) == "value 1"
    now[0] += 9
    assert memo.get_or_set("banner", clock.work) == "value 1"
    now[0] += 2
    assert memo.get_or_set("banner", clock.work) == "value 2"


def test_entries_are_bounded_and_the_oldest_goes_first():
    memo: GenerationMemo[int] = GenerationMemo(lambda: "1", max_age=60, max_entries=2)
    memo.get_or_set("a", lambda: 1)
    memo.get_or_set("b", lambda: 2)
    memo.get_or_set("c", lambda: 3)
    assert memo.get_or_set("c", lambda: 30) == 3
    assert memo.get_or_set("b", lambda: 20) == 2
    assert memo.get_or_set("a", lambda: 10) == 10  # "a" was dropped to make room


def test_forget_memos_empties_every_memo():
    memo: GenerationMemo[int] = GenerationMemo(lambda: "1", max_age=60)
    memo.get_or_set("a", lambda: 1)
    forget_memos()
    assert memo.get_or_set("a", lambda: 2) == 2


def test_a_failed_work_out_keeps_nothing():
    """An unknown topic's lookup raises (a 404); the next request asks again."""
    memo: GenerationMemo[int] = GenerationMemo(lambda: "1", max_age=60)

    def fail() -> int:
        raise LookupError("no such topic")

    for _ in range(2):
        with pytest.raises(LookupError):
            memo.get_or_set("missing", fail)
    assert memo.get_or_set("missing", lambda: 5) == 5


def test_fresh_reads_work_every_value_out_and_keep_nothing():
    """How editors' requests read: a change shows before anything announces it."""
    clock = Clock()
    memo: GenerationMemo[str] = GenerationMemo(lambda: clock.generation, max_age=60)
    assert memo.get_or_set("teaser", clock.work) == "value 1"
    with fresh_reads():
        assert memo.get_or_set("teaser", clock.work) == "value 2"
    assert memo.get_or_set("teaser", clock.work) == "value 1"


def test_a_max_age_of_zero_keeps_nothing():
    clock = Clock()
    memo: GenerationMemo[str] = GenerationMemo(lambda: clock.generation, max_age=lambda: 0)
    assert memo.get_or_set("teaser", clock.work) == "value 1"
    assert memo.get_or_set("teaser", clock.work) == "value 2"


def test_many_values_read_the_generation_once_and_work_out_only_the_missing():
    """A list page asks for twenty teasers at once; the generation costs a stat() each read."""
    reads = []

    def generation() -> str:
        reads.append(1)
        return "1"

    memo: GenerationMemo[str] = GenerationMemo(generation, max_age=60)
    memo.get_or_set("b", lambda: "kept b")
    reads.clear()
    values = memo.get_or_set_many(
        [("a", lambda: "new a"), ("b", lambda: "new b"), ("c", lambda: "new c")]
    )
    assert values == ["new a", "kept b", "new c"]
    assert len(reads) == 1
