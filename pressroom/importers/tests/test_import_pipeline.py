"""A large export is read by a reader process (importers.pipeline) while the importer writes:
what it writes, reports and guarantees must be what the import in one process does.

The first tests run the import in the test's process with the size threshold lowered to 0, so a
small export goes through a real reader process; the last ones run `pressroom import_wxr` as a
real process on an export above the threshold, and kill the reader or the importer.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from io import BytesIO, StringIO
from multiprocessing.connection import Connection
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from bench.wxr import write_export
from pressroom.importers import pipeline, wordpress
from pressroom.importers.models import ImportedItem
from pressroom.importers.reader import Outbox
from pressroom.importers.tests.test_import_output_stable import (
    GENERATED_DIGEST,
    GENERATED_POSTS,
    GENERATED_SEARCH_DIGEST,
    THEME_DIGEST,
    THEME_SEARCH_DIGEST,
    imported_output_digest,
    search_index_digest,
)
from pressroom.importers.tests.test_import_resume import (
    PRESSROOM,
    export_with_late_media,
    scratch_database,
    whole,
)
from pressroom.importers.tests.whole_check import problems
from pressroom.importers.tests.wxr_samples import THEME_UNIT_TEST_DATA
from pressroom.importers.wordpress import POST_STATUSES, is_written_post
from pressroom.importers.wxr import WxrItem
from pressroom.lib.bulk import BULK_CHECKPOINT_PAGES
from pressroom.publishing.models import Article

pytestmark = pytest.mark.django_db
__all__ = ["scratch_database"]  # the fixture, shared with test_import_resume

# Above the threshold: 2,000 posts of about 2.3 KB.
LARGE_POSTS = 2000
FILLER = ("Council members debated the water rights of the valley for a long night. " * 30) + (
    "\n\n"
)


@pytest.fixture
def readers(monkeypatch) -> list[pipeline.ExportReader]:
    """Every reader process started, with the threshold lowered so that any export has one."""
    started: list[pipeline.ExportReader] = []

    class CountedReader(pipeline.ExportReader):
        def __init__(self, path: Path) -> None:
            super().__init__(path)
            started.append(self)

    monkeypatch.setattr(pipeline, "PIPELINE_MIN_BYTES", 0)
    monkeypatch.setattr(wordpress, "ExportReader", CountedReader)
    return started


@contextmanager
def in_one_process() -> Iterator[None]:
    threshold = pipeline.PIPELINE_MIN_BYTES
    pipeline.PIPELINE_MIN_BYTES = 1 << 60
    try:
        yield
    finally:
        pipeline.PIPELINE_MIN_BYTES = threshold


def import_undone(path: Path, *args: str) -> tuple[str, str]:
    """The command's output and the imported articles' digest, for an import in one process
    rolled back afterwards (the reference for the same import through a reader)."""
    output = StringIO()
    with transaction.atomic(), in_one_process():
        call_command("import_wxr", str(path), *args, stdout=output)
        digest = imported_output_digest()
        transaction.set_rollback(True)
    assert not Article.objects.exists()
    return output.getvalue(), digest


def test_through_the_reader_the_theme_data_imports_the_same_articles_and_report(readers):
    in_process_output, in_process_digest = import_undone(THEME_UNIT_TEST_DATA)
    assert readers == []

    output = StringIO()
    call_command("import_wxr", str(THEME_UNIT_TEST_DATA), stdout=output)
    assert len(readers) == 1
    assert readers[0].process.returncode == 0
    assert output.getvalue() == in_process_output
    assert imported_output_digest() == in_process_digest == THEME_DIGEST
    if connection.vendor == "sqlite":
        assert search_index_digest() == THEME_SEARCH_DIGEST


def test_through_the_reader_the_benchmark_export_imports_the_same_articles(readers, tmp_path):
    export = tmp_path / "export.xml"
    write_export(export, GENERATED_POSTS)
    in_process_output, _ = import_undone(export)

    output = StringIO()
    call_command("import_wxr", str(export), stdout=output)
    assert len(readers) == 1
    assert output.getvalue() == in_process_output
    assert imported_output_digest() == GENERATED_DIGEST
    if connection.vendor == "sqlite":
        assert search_index_digest() == GENERATED_SEARCH_DIGEST

    # Run again unchanged: every post is found unchanged, none converted or written.
    again = StringIO()
    call_command("import_wxr", str(export), stdout=again)
    assert len(readers) == 2
    posts_line = next(line for line in again.getvalue().splitlines() if line.startswith("posts"))
    created = ImportedItem.objects.filter(kind="post").count()
    assert posts_line.startswith(f"posts    created 0, updated 0, skipped {GENERATED_POSTS} ")
    assert f"unchanged since the last import: {created}" in posts_line
    assert imported_output_digest() == GENERATED_DIGEST


def test_through_the_reader_late_media_and_a_dry_run_are_as_in_one_process(readers, tmp_path):
    export = tmp_path / "late-media.xml"
    export.write_bytes(export_with_late_media(120))
    in_process_output, in_process_digest = import_undone(export, "--batch-size", "7")

    dry = StringIO()
    call_command("import_wxr", str(export), "--batch-size", "7", "--dry-run", stdout=dry)
    assert dry.getvalue().startswith("Dry run, nothing was saved")
    assert dry.getvalue().split("\n", 1)[1] == in_process_output.split("\n", 1)[1]
    assert not Article.objects.exists()

    output = StringIO()
    call_command("import_wxr", str(export), "--batch-size", "7", stdout=output)
    assert len(readers) == 2
    assert output.getvalue() == in_process_output
    assert imported_output_digest() == in_process_digest
    assert problems() == []


def test_a_broken_file_read_by_the_reader_stops_as_in_one_process(readers, tmp_path):
    export = tmp_path / "broken.xml"
    text = export_with_late_media(150)
    cut = text.index(b"<wp:post_id>101</wp:post_id>")
    export.write_bytes(text[:cut] + b"<wp:broken></item>" + text[cut:])
    output = StringIO()
    with transaction.atomic(), in_one_process():
        with pytest.raises(CommandError) as in_process:
            call_command("import_wxr", str(export), stdout=output)
        in_process_digest = imported_output_digest()
        transaction.set_rollback(True)
    assert readers == []

    reader_output = StringIO()
    with pytest.raises(CommandError) as through_reader:
        call_command("import_wxr", str(export), stdout=reader_output)
    assert len(readers) == 1
    message = str(through_reader.value)
    assert message == str(in_process.value)
    assert "not well-formed" in message
    assert "\n" not in message
    assert message.endswith("entries before it were saved; fix the file and run the import again.")
    assert reader_output.getvalue() == output.getvalue()
    # The posts before the break, as in one process (images after the break are not known to
    # either); none after it.
    assert sorted(
        int(i)
        for i in ImportedItem.objects.filter(kind="post").values_list("external_id", flat=True)
    ) == list(range(1, 101))
    assert imported_output_digest() == in_process_digest


def test_the_reader_converts_exactly_the_posts_the_importer_writes():
    """The reader's own test of which posts to convert, against the importer's statuses."""
    assert set(POST_STATUSES) == {"publish", "future", "draft", "pending"}
    for status in [*POST_STATUSES, "private", "trash", "inherit", "odd"]:
        item = WxrItem(post_id="7", post_type="post", status=status)
        assert is_written_post(item) == (status in POST_STATUSES)
    assert not is_written_post(WxrItem(post_id="7", post_type="page", status="publish"))
    assert not is_written_post(WxrItem(post_id="", post_type="post", status="publish"))
    protected = WxrItem(post_id="7", post_type="post", status="publish", password="secret")
    assert not is_written_post(protected)


def test_a_small_export_or_an_open_stream_is_read_in_process(tmp_path):
    small = tmp_path / "small.xml"
    small.write_bytes(export_with_late_media(5))
    with small.open("rb") as source:
        assert pipeline.export_path(source) == small
        assert (
            wordpress.WordPressImporter(
                site_timezone=wordpress.timezone.get_default_timezone(),
                dry_run=True,
                batch_size=10,
                progress=None,
            ).start_reader(source)
            is None
        )
    assert pipeline.export_path(BytesIO(small.read_bytes())) is None


def test_a_reader_that_fails_says_why_in_one_line(tmp_path):
    """Any failure of the reader's own (here the file gone before it could open it) ends the
    import with one line, as a broken file does."""
    reader = pipeline.ExportReader(tmp_path / "gone.xml")
    with reader, pytest.raises(pipeline.ReaderStopped) as stopped:
        list(reader)
    message = str(stopped.value)
    assert message.startswith("the export reader failed: FileNotFoundError: ")
    assert "gone.xml" in message
    assert "\n" not in message
    assert reader.process.returncode == 0


def test_the_reader_runs_ahead_of_the_importer_by_a_bounded_queue():
    """While the importer writes a batch and reads nothing, the reader keeps sending (its
    messages queued up to the limit, however little the pipe holds), then waits; everything
    arrives whole and in order."""
    read_end, write_end = os.pipe()
    receiving = Connection(read_end, writable=False)
    limit = 400_000
    outbox = Outbox(Connection(write_end, readable=False), limit)
    messages = [("records", number, ["x" * 100_000]) for number in range(12)]
    sender = threading.Thread(target=lambda: [outbox.send(m) for m in messages])
    sender.start()
    # Nothing read yet: the queue fills to its limit (beside what the pipe holds), no further.
    while outbox.size < limit - 110_000:
        time.sleep(0.01)
    assert outbox.size <= limit
    assert sender.is_alive()  # the twelfth message waits for room
    assert [receiving.recv() for _ in messages] == messages
    sender.join()
    outbox.close()
    assert outbox.blocked > 0
    receiving.close()


def test_a_reader_whose_importer_is_gone_stops_sending():
    read_end, write_end = os.pipe()
    os.close(read_end)
    outbox = Outbox(Connection(write_end, readable=False), 1_000_000)
    outbox.send(("records", 0, []))  # queued: its thread finds the pipe broken
    outbox.close()
    with pytest.raises(BrokenPipeError):
        outbox.send(("records", 1, []))


def test_the_command_says_where_the_time_went_when_asked(readers, tmp_path):
    export = tmp_path / "export.xml"
    write_export(export, 30)
    quiet, verbose = StringIO(), StringIO()
    call_command("import_wxr", str(export), stdout=quiet)
    call_command("import_wxr", str(export), "-v", "2", stdout=verbose)
    assert "timings" not in quiet.getvalue()
    [line] = [line for line in verbose.getvalue().splitlines() if line.startswith("timings: ")]
    for part in ("media library cpu", "committing", "waiting for reader", "first batch after"):
        assert f"{part} " in line
    # The reader's own account, from its last message.
    assert re.search(r"reader cpu (\d+\.\d\d) s", line)
    assert float(re.search(r"reader cpu (\d+\.\d\d) s", line)[1]) > 0


def wal_autocheckpoint() -> int:
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_autocheckpoint")
        return int(cursor.fetchone()[0])


@pytest.mark.skipif("connection.vendor != 'sqlite'", reason="SQLite's write-ahead log")
def test_an_import_checkpoints_sqlite_less_and_leaves_the_connection_as_it_was(tmp_path):
    """While the import writes, SQLite's log is checkpointed every 64 MB, not after nearly each
    batch (lib.bulk.fewer_checkpoints); the connection is given back as it was."""
    export = tmp_path / "export.xml"
    write_export(export, 450)
    before = wal_autocheckpoint()
    during: list[int] = []
    with export.open("rb") as source:
        wordpress.import_file(source, progress=lambda entries: during.append(wal_autocheckpoint()))
    assert during
    assert set(during) == {BULK_CHECKPOINT_PAGES}
    assert wal_autocheckpoint() == before != BULK_CHECKPOINT_PAGES


# The command as a real process, on an export above the threshold -------------------------------


def reader_of(pid: int) -> int:
    """The reader process `pid` started (Linux's /proc), once it has started."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for task in Path(f"/proc/{pid}/task").glob("*/children"):
            for child in task.read_text().split():
                command = Path(f"/proc/{child}/cmdline").read_bytes()
                if b"pressroom.importers.reader" in command:
                    return int(child)
        time.sleep(0.01)
    raise AssertionError("no reader process started")


def gone(pid: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return True
        if state == "Z":  # exited, waiting for a parent to collect it
            return True
        time.sleep(0.05)
    return False


def large_export(tmp_path: Path) -> Path:
    export = tmp_path / "large.xml"
    export.write_bytes(export_with_late_media(LARGE_POSTS, FILLER))
    assert export.stat().st_size > pipeline.PIPELINE_MIN_BYTES
    return export


def start_import(export: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*PRESSROOM, "import_wxr", str(export), "--batch-size", "20"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_articles(count, at: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 120
    while count() < at and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert process.poll() is None, "the import ended before it could be stopped"


def finish_import(export: Path, env: dict[str, str], committed: int) -> None:
    """Run the import again: it writes the rest, and every article is whole."""
    finished = subprocess.run(
        [*PRESSROOM, "import_wxr", str(export)], env=env, capture_output=True, text=True
    )
    assert finished.returncode == 0, finished.stderr
    assert f"created {LARGE_POSTS - committed}, updated 0, skipped {committed}" in finished.stdout
    assert whole(env) == {"articles": LARGE_POSTS, "problems": []}


@pytest.mark.slow
def test_a_killed_reader_stops_the_import_with_one_line_and_whole_articles(
    tmp_path, scratch_database
):
    env, count = scratch_database
    export = large_export(tmp_path)
    process = start_import(export, env)
    reader = reader_of(process.pid)
    wait_for_articles(count, 40, process)
    os.kill(reader, signal.SIGKILL)
    stdout, stderr = process.communicate(timeout=120)

    assert process.returncode == 1
    assert stderr.splitlines() == [
        f"CommandError: {export}: the export reader was stopped by SIGKILL — entries before it "
        "were saved; run the import again."
    ]
    assert stdout.startswith("https://old.example.org/news (WXR 1.2)\n")
    state = whole(env)
    assert state["problems"] == [], state["problems"][:5]
    assert 40 <= state["articles"] < LARGE_POSTS
    finish_import(export, env, state["articles"])


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGTERM])
def test_a_stopped_importer_leaves_no_reader_behind_and_whole_articles(
    tmp_path, scratch_database, stop
):
    env, count = scratch_database
    export = large_export(tmp_path)
    process = start_import(export, env)
    reader = reader_of(process.pid)
    wait_for_articles(count, 40, process)
    process.send_signal(stop)
    process.communicate(timeout=60)
    assert process.returncode == -stop
    # The reader sees its importer gone and exits (it would otherwise wait on a full queue).
    assert gone(reader, within=10)
    state = whole(env)
    assert state["problems"] == [], state["problems"][:5]
    assert 40 <= state["articles"] < LARGE_POSTS
    finish_import(export, env, state["articles"])
