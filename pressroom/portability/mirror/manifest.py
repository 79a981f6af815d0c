"""What the last run wrote (the manifest in OUTDIR)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

from pressroom.portability.mirror.common import (
    MANIFEST_NAME,
)

# --- the manifest -------------------------------------------------------------------------------


class Manifest:
    """What the last run wrote: path -> kind, content hash, sources fingerprint, media it links
    to. The paths and hashes are read into memory at the start (a few tens of bytes a file: a
    look-up per page in SQLite cost more than the rest of an unchanged page's handling); the
    pages themselves never are."""

    def __init__(self, outdir: Path) -> None:
        self.database = sqlite3.connect(outdir / MANIFEST_NAME)
        # A commit per new file (announce) must cost no disk flush: the write-ahead log, synced
        # at checkpoints, keeps every commit through a killed process (not a power cut).
        self.database.execute("PRAGMA journal_mode=WAL")
        self.database.execute("PRAGMA synchronous=NORMAL")
        self.database.executescript(
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
            "CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, kind TEXT NOT NULL,"
            " content TEXT NOT NULL, sources TEXT, media TEXT NOT NULL DEFAULT '');"
        )
        self.known: dict[str, tuple[str, str, str | None]] = {
            path: (kind, content, sources)
            for path, kind, content, sources in self.database.execute(
                "SELECT path, kind, content, sources FROM files"
            )
        }
        self.seen: set[str] = set()

    def meta(self, key: str) -> str | None:
        row = self.database.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.database.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, value])

    def get(self, path: str) -> tuple[str, str | None] | None:
        """(content hash, sources) of the file the last run wrote at `path`, if any."""
        found = self.known.get(path)
        return (found[1], found[2]) if found else None

    def keep(self, path: str) -> None:
        self.seen.add(path)

    def record(self, path: str, kind: str, content: str, sources: str | None, media: str) -> None:
        self.seen.add(path)
        self.database.execute(
            "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?)",
            [path, kind, content, sources, media],
        )

    def announce(self, path: str, kind: str) -> None:
        """A file about to be written where the manifest knows none: its row is committed
        first, so that a run killed after the file is in place still leaves it known, and the
        next run deletes it if its page is gone (sources NULL: it is rendered again)."""
        self.database.execute(
            "INSERT OR IGNORE INTO files VALUES (?, ?, '', NULL, '')", [path, kind]
        )
        self.database.commit()

    def stale(self, kind: str) -> list[str]:
        """The files of this kind the last run wrote and this one did not keep."""
        return [
            path
            for path, (known_kind, _, _) in self.known.items()
            if known_kind == kind and path not in self.seen
        ]

    def forget(self, path: str) -> None:
        self.database.execute("DELETE FROM files WHERE path = ?", [path])

    def linked_media(self) -> Iterator[str]:
        for (media,) in self.database.execute(
            "SELECT media FROM files WHERE kind = 'page' AND media != ''"
        ):
            yield from media.split("\n")

    def commit(self) -> None:
        self.database.commit()

    def close(self) -> None:
        self.database.commit()
        self.database.close()
