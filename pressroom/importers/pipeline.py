"""A large export read and written at once: a reader process parses the file and converts the
posts while the importer's process writes them.

Parsing and converting a post (XML, wpautop, shortcodes, media addresses, its fingerprint) is
about 40% of an import's work and needs no database, so on a machine with two cores the reader
(a "spawn" child: a fresh interpreter, safe beside Django's connections and threads) does it
while this process writes through publishing's bulk service, the one write path. Records cross
in batches through a bounded queue, so however far the reader gets ahead, memory stays flat.

What the importer guarantees holds as in one process: records arrive in file order, each
complete; a broken file raises the same WxrError (with its line) after every entry before the
break; the reader stopping any other way (killed, crashed) raises ReaderStopped, and the
importer keeps the whole entries it has, as for a broken file. If this process dies, the reader
notices within a second and exits. Small exports are read in-process (PIPELINE_MIN_BYTES): the
reader's start-up would cost them more than it saves.

This module imports nothing of Django at its top: the reader imports it before setting Django up.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import queue
import signal
from collections.abc import Iterator
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from pressroom.importers.wxr import WxrChannel, WxrError, parse_wxr

if TYPE_CHECKING:
    from pressroom.importers.media import MediaLibrary
    from pressroom.importers.wordpress import ReadRecord

# Below this size an export is read in-process (about a thousand posts of 4 KB).
PIPELINE_MIN_BYTES = 4 * 1024 * 1024
RECORDS_PER_MESSAGE = 100
# Messages the reader may have in flight: a few hundred posts, a few megabytes.
QUEUED_MESSAGES = 8
# How often a side waiting on the other looks whether it is still there.
POLL_SECONDS = 0.5
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
    reader whatever happened."""

    def __init__(self, path: Path) -> None:
        context = multiprocessing.get_context("spawn")
        self.library: Any = context.Queue()
        self.records: Any = context.Queue(QUEUED_MESSAGES)
        self.process: BaseProcess = context.Process(
            target=read_export,
            args=(str(path), self.library, self.records),
            name="pressroom-wxr-reader",
            daemon=True,
        )
        self.position = 0  # bytes of the file the reader has got through
        self.process.start()

    def __enter__(self) -> ExportReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def send_library(self, media: MediaLibrary, prefix: str, known: dict[str, str]) -> None:
        """What converting a post needs from the database, sent once the channel is handled:
        the media library with its homes, the blog's path, earlier imports' fingerprints."""
        self.library.put((media, prefix, known))

    def __iter__(self) -> Iterator[ReadRecord]:
        while True:
            message = self._receive()
            kind = message[0]
            if kind == "records":
                self.position = message[1]
                yield from message[2]
            elif kind == "done":
                # It exits once its last message is out: let it, rather than stop it.
                self.process.join(STOP_SECONDS)
                return
            elif kind == "error":
                raise WxrError(*message[1:])
            else:
                raise ReaderStopped(message[1])

    def _receive(self) -> tuple[Any, ...]:
        while True:
            try:
                return self.records.get(timeout=POLL_SECONDS)
            except queue.Empty:
                if self.process.is_alive():
                    continue
                try:
                    # Its last message may still be on its way.
                    return self.records.get(timeout=POLL_SECONDS)
                except queue.Empty:
                    raise ReaderStopped(self._ending()) from None
            except (EOFError, OSError, pickle.UnpicklingError):
                self.process.join(STOP_SECONDS)
                raise ReaderStopped(self._ending()) from None

    def _ending(self) -> str:
        code = self.process.exitcode
        if code is not None and code < 0:
            return f"the export reader was stopped by {signal.Signals(-code).name}"
        return f"the export reader stopped unexpectedly (exit status {code})"

    def close(self) -> None:
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(STOP_SECONDS)
            if self.process.is_alive():
                self.process.kill()
        self.process.join()
        for channel in (self.library, self.records):
            # Nothing left to deliver is worth waiting for.
            channel.cancel_join_thread()
            channel.close()


# The reader process -----------------------------------------------------------------------------


def read_export(path: str, library: Any, records: Any) -> None:
    """The reader's whole life: parse the export, convert its posts, send them in batches."""
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
                        _send(records, ("records", source.tell(), [(record, None, None)]))
                        known = _receive_library(library)
                        continue
                    assert known is not None  # parse_wxr yields the channel first
                    batch.append(read_record(record, *known))
                    if len(batch) >= RECORDS_PER_MESSAGE:
                        _send(records, ("records", source.tell(), batch))
                        batch = []
            except WxrError as error:
                _send(records, ("records", source.tell(), batch))
                _send(records, ("error", error.message, error.line, error.column))
                return
            _send(records, ("records", source.tell(), batch))
            _send(records, ("done",))
    except _ImporterGone:
        records.cancel_join_thread()
    except Exception as error:  # any failure is reported as one line
        try:
            _send(records, ("failed", f"the export reader failed: {type(error).__name__}: {error}"))
        except _ImporterGone:
            records.cancel_join_thread()


class _ImporterGone(Exception):
    """The importer's process is gone: nobody will read what this one sends."""


def _importer_alive() -> bool:
    parent = multiprocessing.parent_process()
    return parent is None or parent.is_alive()


def _send(records: Any, message: tuple[Any, ...]) -> None:
    while True:
        if not _importer_alive():
            raise _ImporterGone
        try:
            records.put(message, timeout=POLL_SECONDS)
            return
        except queue.Full:
            continue


def _receive_library(library: Any) -> tuple[MediaLibrary, str, dict[str, str]]:
    while True:
        try:
            return library.get(timeout=POLL_SECONDS)  # type: ignore[no-any-return]
        except queue.Empty:
            if not _importer_alive():
                raise _ImporterGone from None
