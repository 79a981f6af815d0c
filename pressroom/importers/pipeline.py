"""A large export read and written at once: a reader process parses the file and converts the
posts while the importer's process writes them.

Parsing and converting a post (XML, wpautop, shortcodes, media addresses, its fingerprint) is
about 40% of an import's work and needs no database, so on a machine with two cores the reader
(a fresh interpreter, not a fork: safe beside Django's connections and threads) does it while
this process writes through publishing's bulk service, the one write path. It is started as
`python -c` rather than by multiprocessing's "spawn", which would run the caller's main script
again in the reader (any script without an `if __name__ == "__main__"` guard would import twice). Records cross
in batches through a pipe; the reader queues up to AHEAD_BYTES of them, so it keeps converting
while this process writes a database batch, and memory stays flat.

What the importer guarantees holds as in one process: records arrive in file order, each
complete; a broken file raises the same WxrError (with its line) after every entry before the
break; the reader stopping any other way (killed, crashed) raises ReaderStopped, and the
importer keeps the whole entries it has, as for a broken file. If this process dies, the reader's
next send fails and it exits. Small exports are read in-process (PIPELINE_MIN_BYTES): the
reader's start-up would cost them more than it saves.

This module imports nothing of Django at its top: the reader imports it before setting Django up.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from pressroom.importers.wxr import WxrAuthor, WxrChannel, WxrError, WxrItem, WxrTerm

if TYPE_CHECKING:
    from pressroom.importers.media import MediaLibrary
    from pressroom.publishing.services import PreparedText


@dataclass(frozen=True)
class ConvertedPost:
    """A post's text as the export alone makes it (no database): worked out by the reader
    process while this one writes, when the import runs in two (importers.pipeline), else
    in the importer's process, only for a post that changed. Its body is already cleaned and
    its excerpt made by publishing's own rules (services.prepare_text), the costliest part
    of a write, so that the reader's core does it."""

    text: PreparedText  # the body, cleaned, the editor's excerpt and the excerpt
    title: str  # '' for a post without one: the writer makes one from its body and date
    legacy_paths: tuple[str, ...]


# What the reader sends for each record: the record, and for a post its fingerprint and, if
# it changed since the last import, its converted text (its raw body then dropped).
ReadRecord = tuple[WxrChannel | WxrAuthor | WxrTerm | WxrItem, str | None, ConvertedPost | None]


# Below this size an export is read in-process (about a thousand posts of 4 KB).
PIPELINE_MIN_BYTES = 4 * 1024 * 1024
# Records per message.
RECORDS_PER_MESSAGE = 100
# How far the reader may run ahead, in pickled messages (about 4.5 KB a post: some 1,800 posts,
# more than a database batch): the importer takes a batch's messages at once, then writes it,
# and the reader keeps converting meanwhile instead of waiting (importers.reader.Outbox).
AHEAD_BYTES = 8 * 1024 * 1024
STOP_SECONDS = 5.0


class ReaderStopped(Exception):
    """The reader process ended before the end of the file, without a WxrError."""


def export_path(source: BinaryIO) -> Path | None:
    """The file `source` reads, if it is a regular file the reader can open by its name."""
    name = getattr(source, "name", None)
    if not isinstance(name, str):
        return None
    path = Path(name)
    try:
        same = os.path.samestat(os.fstat(source.fileno()), path.stat())
    except (OSError, ValueError, AttributeError):
        return None
    return path if same and path.is_file() else None


class ExportReader:
    """This process's side: start the reader, send it what it needs once the channel is
    known, and iterate over what it read. Use as a context manager: leaving it stops the
    reader whatever happened.

    Plain pipes, one each way, rather than queues: each end is open in one process only, so
    either side sees the other's death at once (end of file, a broken pipe), even in the
    middle of a message, where a queue's reader would wait forever."""

    def __init__(self, path: Path) -> None:
        records_read, records_write = os.pipe()
        library_read, library_write = os.pipe()
        self.records = Connection(records_read, writable=False)
        self.library = Connection(library_write, readable=False)
        self.position = 0  # bytes of the file the reader has got through
        # Where the time goes (the command's -v 2 line, the benchmark): seconds this process
        # waited for the reader's messages, and when its first post batch came; the reader's
        # own account comes with its last message.
        self.waited = 0.0
        self.first_batch_after: float | None = None
        self.reader_stats: dict[str, float] = {}
        self.started = time.perf_counter()
        try:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    "from pressroom.importers.reader import main; main()",
                    *(str(library_read), str(records_write), str(path)),
                ],
                pass_fds=(library_read, records_write),
                stdin=subprocess.DEVNULL,
            )
        except BaseException:
            self.records.close()
            self.library.close()
            raise
        finally:
            # The reader's ends are the reader's alone now.
            os.close(records_write)
            os.close(library_read)

    def __enter__(self) -> ExportReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def send_library(self, media: MediaLibrary, prefix: str, known: dict[str, str]) -> None:
        """What converting a post needs from the database, sent once the channel is handled:
        the media library with its homes, the blog's path, earlier imports' fingerprints."""
        try:
            self.library.send((media, prefix, known))
        except OSError:
            raise ReaderStopped(self._ending()) from None

    def __iter__(self) -> Iterator[ReadRecord]:
        while True:
            waiting = time.perf_counter()
            try:
                data = self.records.recv_bytes()
                self.waited += time.perf_counter() - waiting
                message = pickle.loads(data)  # noqa: S301 (our own reader process's records)
            except (EOFError, OSError, pickle.UnpicklingError):
                raise ReaderStopped(self._ending()) from None
            del data
            kind = message[0]
            if kind == "records":
                self.position = message[1]
                if self.first_batch_after is None and len(message[2]) > 1:
                    self.first_batch_after = time.perf_counter() - self.started
                yield from message[2]
                continue
            # Its last message: it exits once that is out; let it, rather than stop it.
            with suppress(subprocess.TimeoutExpired):
                self.process.wait(STOP_SECONDS)
            if kind == "done":
                self.reader_stats = message[1]
                return
            if kind == "error":
                raise WxrError(*message[1:])
            raise ReaderStopped(message[1])

    def timings(self) -> dict[str, float]:
        """Seconds this process waited for the reader and when the first batch came, with
        the reader's own account (its CPU, and how long it waited for room ahead)."""
        timings = {"waiting_for_reader": self.waited}
        if self.first_batch_after is not None:
            timings["first_batch_after"] = self.first_batch_after
        timings.update({f"reader_{name}": value for name, value in self.reader_stats.items()})
        return timings

    def _ending(self) -> str:
        with suppress(subprocess.TimeoutExpired):
            self.process.wait(STOP_SECONDS)
        code = self.process.returncode
        if code is not None and code < 0:
            return f"the export reader was stopped by {signal.Signals(-code).name}"
        return f"the export reader stopped unexpectedly (exit status {code})"

    def close(self) -> None:
        self.records.close()
        self.library.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process.wait()
