"""Keyset pagination for article lists: every page costs one indexed range scan.

A page is addressed by a cursor, the (published_at, id) of the article next to it, instead of
an offset, so page 500 of a topic reads as few rows as page 1 and no request counts the table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from django.http import Http404

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Cursor:
    published_at: datetime
    id: int

    def encode(self) -> str:
        # Integer arithmetic: a float timestamp can round .999999 up into the next second.
        micros = (self.published_at - EPOCH) // timedelta(microseconds=1)
        return f"{micros}-{self.id}"

    @classmethod
    def decode(cls, value: str) -> Cursor:
        """Parse a cursor from a URL; anything malformed is a 404, never a 500."""
        try:
            micros_text, id_text = value.rsplit("-", 1)  # micros may be negative (pre-1970)
            micros, article_id = int(micros_text), int(id_text)
            published_at = EPOCH + timedelta(microseconds=micros)
        except (ValueError, OverflowError, OSError):
            raise Http404("No such page.") from None
        # Ids beyond a 64-bit integer would make the database raise instead of finding nothing.
        if not 0 <= article_id < 2**63:
            raise Http404("No such page.")
        return cls(published_at, article_id)


class Keyed(Protocol):
    """A row of a keyset list: where it sits in the (published_at, id) order."""

    @property
    def published_at(self) -> datetime: ...

    @property
    def id(self) -> int: ...


@dataclass
class Page[Row: Keyed]:
    items: list[Row]
    newer: str | None  # query string of the page of newer items, or None on the first page
    older: str | None  # query string of the page of older items, or None on the last page

    @property
    def is_first(self) -> bool:
        return self.newer is None


# The query parameters a list page is addressed by: a deeper page is canonical to itself (so
# search engines reach every article through the pages); list views name them to the page's
# canonical link (`canonical_query_keys` in their context), nothing else in a query is kept.
QUERY_KEYS = ("before", "after")


def keyset_page[Row: Keyed](
    read: Callable[[Cursor | None, bool, int], list[Row]],
    query: Mapping[str, str],
    per_page: int,
) -> Page[Row]:
    """One page of a list, newest first, from the `before` / `after` cursor in `query`.

    `read(cursor, newer, limit)` returns at most `limit` rows next to `cursor` (from the newest
    when it is None): older rows newest first, or with newer=True newer rows oldest first.
    """
    before, after = query.get("before"), query.get("after")
    if before and after:
        raise Http404("No such page.")
    rows: list[Row] = []
    has_newer = False
    has_older = True
    if after:
        rows = read(Cursor.decode(after), True, per_page + 1)
        has_newer = len(rows) > per_page
        rows = rows[:per_page][::-1]
        if not rows:
            raise Http404("No such page.")
    if not has_newer:
        # The first page, or a walk back to the start: show a full first page.
        rows = read(Cursor.decode(before) if before else None, False, per_page + 1)
        has_older = len(rows) > per_page
        rows = rows[:per_page]
        has_newer = bool(before)
        if before and not rows:
            raise Http404("No such page.")

    newer = f"after={Cursor(rows[0].published_at, rows[0].id).encode()}" if has_newer else None
    older = f"before={Cursor(rows[-1].published_at, rows[-1].id).encode()}" if has_older else None
    return Page(items=rows, newer=newer if rows else None, older=older if rows else None)
