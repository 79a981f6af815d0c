"""The reader process of a WordPress import (importers.pipeline starts it): parse the export,
convert its posts, send them to the importer's process in batches.

Apart from the importer's side (pipeline.py) because it uses the converter in wordpress.py,
which uses pipeline.py: the two sides in one module would make a cycle. Like pipeline.py, it
imports nothing of Django at its top: it sets Django up itself.
"""

from __future__ import annotations

import os
import signal
import sys
from contextlib import suppress
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING

from pressroom.importers.pipeline import RECORDS_PER_MESSAGE, ReadRecord
from pressroom.importers.wxr import WxrChannel, WxrError, parse_wxr

if TYPE_CHECKING:
    from pressroom.importers.media import MediaLibrary


def main() -> None:
    """The reader's entry point: `python -c ... LIBRARY_FD RECORDS_FD PATH`."""
    library, records, path = sys.argv[1:4]
    read_export(
        path, Connection(int(library), writable=False), Connection(int(records), readable=False)
    )


def read_export(path: str, library: Connection, records: Connection) -> None:
    """The reader's whole life: parse the export, convert its posts, send them in batches.
    If the importer's process goes, the next send or receive fails and the reader ends."""
    # Ctrl-C reaches the whole process group: the importer decides, and stops the reader.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pressroom.settings")
        import django

        # The converter uses the media library's and publishing's helpers, so the apps are
        # loaded (the reader never opens a database connection).
        django.setup()
        # Imported once the apps are ready, which a module-level import would come before.
        from pressroom.importers.wordpress import read_record

        with open(path, "rb") as source:
            batch: list[ReadRecord] = []
            known: tuple[MediaLibrary, str, dict[str, str]] | None = None
            try:
                for record in parse_wxr(source):
                    if isinstance(record, WxrChannel):
                        # Posts are converted with what the importer knows once it has the
                        # channel (the library's homes, earlier fingerprints): wait for it.
                        records.send(("records", source.tell(), [(record, None, None)]))
                        known = library.recv()
                        continue
                    assert known is not None  # parse_wxr yields the channel first
                    batch.append(read_record(record, *known))
                    if len(batch) >= RECORDS_PER_MESSAGE:
                        records.send(("records", source.tell(), batch))
                        batch = []
            except WxrError as error:
                records.send(("records", source.tell(), batch))
                records.send(("error", error.message, error.line, error.column))
                return
            records.send(("records", source.tell(), batch))
            records.send(("done",))
    except (EOFError, BrokenPipeError):
        return  # the importer is gone: nobody reads what this one would send
    except Exception as error:  # any other failure is reported as one line
        with suppress(OSError):
            records.send(("failed", f"the export reader failed: {type(error).__name__}: {error}"))
