"""Keyset pagination for article lists: every page costs one indexed range scan.

A page is addressed by a cursor, the (published_at, id) of the article next to it, instead of
an offset, so page 500 of a topic reads as few rows as page 1 and no request counts the table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import Q, QuerySet
from django.http import Http404, QueryDict

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


@dataclass
class Page:
    items: list
    newer: str | None  # query string of the page of newer items, or None on the first page
    older: str | None  # query string of the page of older items, or None on the last page

    @property
    def is_first(self) -> bool:
        return self.newer is None


def keyset_page(
    links: QuerySet, query: QueryDict, per_page: int, *, time_field: str, id_field: str
) -> Page:
    """One page of `links`, newest first, from the `before` / `after` cursor in `query`.

    `links` rows (model instances, or dicts from values()) must have `time_field` and
    `id_field`; an index on (time, id) descending serves
    both directions.
    """
    before, after = query.get("before"), query.get("after")
    if before and after:
        raise Http404("No such page.")
    newest_first = links.order_by(f"-{time_field}", f"-{id_field}")
    rows: list = []
    has_newer = False
    if after:
        cursor = Cursor.decode(after)
        newer_than = Q(**{f"{time_field}__gt": cursor.published_at}) | Q(
            **{time_field: cursor.published_at, f"{id_field}__gt": cursor.id}
        )
        at_or_after = Q(**{f"{time_field}__gte": cursor.published_at})  # see older_than below
        rows = list(
            links.filter(at_or_after, newer_than).order_by(time_field, id_field)[: per_page + 1]
        )
        has_newer = len(rows) > per_page
        rows = list(reversed(rows[:per_page]))
        has_older = True
        if not rows:
            raise Http404("No such page.")
    if not has_newer:
        # The first page, or a walk back to the start: show a full first page.
        if before:
            cursor = Cursor.decode(before)
            older_than = Q(**{f"{time_field}__lt": cursor.published_at}) | Q(
                **{time_field: cursor.published_at, f"{id_field}__lt": cursor.id}
            )
            # The redundant bound lets the index range start at the cursor: databases do not
            # derive one from the OR, and would walk every newer entry (O(depth)) to get there.
            at_or_before = Q(**{f"{time_field}__lte": cursor.published_at})
            newest_first = newest_first.filter(at_or_before, older_than)
        rows = list(newest_first[: per_page + 1])
        has_older = len(rows) > per_page
        rows = rows[:per_page]
        has_newer = bool(before)
        if before and not rows:
            raise Http404("No such page.")

    def cursor_of(row: object) -> str:
        if isinstance(row, dict):  # rows of a values() query
            return Cursor(row[time_field], row[id_field]).encode()
        return Cursor(getattr(row, time_field), getattr(row, id_field)).encode()

    newer = f"after={cursor_of(rows[0])}" if has_newer and rows else None
    older = f"before={cursor_of(rows[-1])}" if has_older and rows else None
    return Page(items=rows, newer=newer, older=older)
