"""The near-title check's word index passes over only titles the check's own rule (most words
shared, then difflib's ratio) would pass over: it finds exactly what comparing every recent
title by that rule finds."""

from __future__ import annotations

import difflib

from hypothesis import given, settings
from hypothesis import strategies as st

from pressroom.partners import polling

WORDS = st.sampled_from(
    ["miners", "march", "on", "lima", "peru", "strike", "water", "court", "union", "land"]
)
TITLES = st.lists(WORDS, min_size=2, max_size=9).map(" ".join)


def compare_every_title(titles: list[tuple[int, str]], folded: str, other_than: int) -> bool:
    if len(folded) < polling.DISTINCT_TITLE_LENGTH:
        return False
    words = set(folded.split())
    return any(
        partner != other_than
        and len(words & set(title.split())) * 4 >= max(len(words), len(set(title.split()))) * 3
        and difflib.SequenceMatcher(None, title, folded).ratio() >= polling.NEAR_TITLE_RATIO
        for partner, title in titles
    )


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 3), TITLES), max_size=40), TITLES)
def test_the_word_index_finds_what_comparing_every_title_finds(titles, folded):
    near = polling.NearTitles()
    near.titles = []  # as read from the database: nothing yet
    for partner, title in titles:
        near.add(partner, [title])
    assert near.match(folded, other_than=1) == compare_every_title(titles, folded, 1)
