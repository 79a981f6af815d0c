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
import threading
import time
from collections import deque
from contextlib import suppress
from multiprocessing.connection import Connection
from multiprocessing.reduction import ForkingPickler
from typing import TYPE_CHECKING

from pressroom.importers.pipeline import AHEAD_BYTES, RECORDS_PER_MESSAGE, ReadRecord
from pressroom.importers.wxr import WxrChannel, WxrError, parse_wxr

if TYPE_CHECKING:
    from pressroom.importers.media import MediaLibrary


def main() -> None:
    """The reader's entry point: `python -c ... LIBRARY_FD RECORDS_FD PATH`."""
    library, records, path = sys.argv[1:4]
    read_export(
        path, Connection(int(library), writable=False), Connection(int(records), readable=False)
    )


class Outbox:
    """Messages for the importer, sent by a thread so that this process runs ahead of it.

    The importer takes a database batch's worth of messages at once, then writes them; sent
    from this thread, the reader could only get one message ahead (the pipe holds about one),
    and would wait on the importer's write, which would then wait on its conversions. Queued
    here, up to `limit` bytes of pickled messages (one message of any size if the queue is
    empty, so a huge post still goes), the reader keeps converting during the write.

    A send fails (BrokenPipeError) once the importer's end is gone, as the pipe's would."""

    def __init__(self, connection: Connection, limit: int) -> None:
        self.connection = connection
        self.limit = limit
        self.pending: deque[bytes | None] = deque()
        self.size = 0
        self.failed = False
        self.blocked = 0.0  # seconds send() waited for room: how far ahead the reader ran
        self.changed = threading.Condition()
        self.thread = threading.Thread(target=self.run, name="reader-outbox", daemon=True)
        self.thread.start()

    def send(self, message: object) -> None:
        # What Connection.send does, the pickling in this thread, the writing in the other.
        data = bytes(ForkingPickler.dumps(message))
        with self.changed:
            if self.size and self.size + len(data) > self.limit:
                waiting = time.perf_counter()
                while self.size and self.size + len(data) > self.limit and not self.failed:
                    self.changed.wait()
                self.blocked += time.perf_counter() - waiting
            if self.failed:
                raise BrokenPipeError("the importer is gone")
            self.pending.append(data)
            self.size += len(data)
            self.changed.notify_all()

    def run(self) -> None:
        while True:
            with self.changed:
                while not self.pending:
                    self.changed.wait()
                data = self.pending[0]
            if data is None:
                return
            try:
                self.connection.send_bytes(data)
            except OSError:
                with self.changed:
                    self.failed = True
                    self.changed.notify_all()
                return
            with self.changed:
                self.pending.popleft()
                self.size -= len(data)
                self.changed.notify_all()

    def close(self) -> None:
        """Wait until every message queued is out (or the importer is gone)."""
        with self.changed:
            self.pending.append(None)
            self.changed.notify_all()
        self.thread.join()


def read_export(path: str, library: Connection, records: Connection) -> None:
    """The reader's whole life: parse the export, convert its posts, send them in batches.
    If the importer's process goes, the next send or receive fails and the reader ends."""
    # Ctrl-C reaches the whole process group: the importer decides, and stops the reader.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    outbox = Outbox(records, AHEAD_BYTES)
    waited_for_library = 0.0
    try:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pressroom.settings")
        import django

        # The converter uses the media library's and publishing's helpers, so the apps are
        # loaded (the reader never opens a database connection).
        django.setup()
        set_up = time.process_time()
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
                        outbox.send(("records", source.tell(), [(record, None, None)]))
                        waiting = time.perf_counter()
                        known = library.recv()
                        waited_for_library = time.perf_counter() - waiting
                        continue
                    assert known is not None  # parse_wxr yields the channel first
                    batch.append(read_record(record, *known))
                    if len(batch) >= RECORDS_PER_MESSAGE:
                        outbox.send(("records", source.tell(), batch))
                        batch = []
            except WxrError as error:
                outbox.send(("records", source.tell(), batch))
                outbox.send(("error", error.message, error.line, error.column))
                return
            outbox.send(("records", source.tell(), batch))
            # Its own account of its time, for the importer's -v 2 line and the benchmark.
            stats = {
                "cpu": time.process_time(),
                "setup_cpu": set_up,
                "waited_for_library": waited_for_library,
                "ran_ahead": outbox.blocked,
            }
            outbox.send(("done", stats))
    except (EOFError, BrokenPipeError):
        return  # the importer is gone: nobody reads what this one would send
    except Exception as error:  # any other failure is reported as one line
        with suppress(OSError):
            outbox.send(("failed", f"the export reader failed: {type(error).__name__}: {error}"))
    finally:
        outbox.close()
