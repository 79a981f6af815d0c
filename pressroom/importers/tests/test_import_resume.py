"""An import stopped at any moment (the process killed: a crash, an out-of-memory kill, a
deploy) and run again ends with every article whole: lead image, galleries, topics, byline,
old addresses and search entry. Each post is written whole in its batch, so a kill leaves only
whole posts; the re-run writes the rest.

The import runs as a real `pressroom import_wxr` process, SIGKILLed while it writes, against a
database of its own (a file on SQLite, a scratch database on PostgreSQL).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import pytest
from django.db import connection

from pressroom.importers.tests.whole_check import marker
from pressroom.importers.tests.wxr_samples import post_item, small_export

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

POSTS = 400
BATCH = "4"
PRESSROOM = [sys.executable, "-c", "from pressroom.cli import main; main()"]


def attachment(attachment_id: int, parent: int, url: str) -> str:
    return f"""<item><title>Photo {attachment_id}</title><wp:post_id>{attachment_id}</wp:post_id>
      <wp:post_parent>{parent}</wp:post_parent><wp:status>inherit</wp:status>
      <wp:post_type>attachment</wp:post_type><wp:attachment_url>{url}</wp:attachment_url></item>"""


def export_with_late_media(posts: int = POSTS, filler: str = "") -> bytes:
    """Posts whose images come later in the file, as WordPress writes them: each even post's
    featured image a few posts after it (often in a later batch), the images of every third
    post's [gallery] (all images attached to the post) at the very end. `filler`: paragraphs
    added to each post (a larger export)."""
    items, late = [], []
    for number in range(1, posts + 1):
        extra = '<category domain="category" nicename="news"><![CDATA[News]]></category>'
        if number % 2 == 0:
            extra += (
                "<wp:postmeta><wp:meta_key>_thumbnail_id</wp:meta_key>"
                f"<wp:meta_value>{100_000 + number}</wp:meta_value></wp:postmeta>"
            )
        content = f"Story {marker(number)} begins.\n\n"
        if number % 3 == 0:
            content += "[gallery]\n\n"
        content += f"{filler}It ends."
        items.append(post_item(number, f"Story {number}", content, extra=extra))
        if number % 2 == 0:
            # Seven posts later: with four posts a batch, never in the post's own batch.
            late.append(
                (
                    number + 7,
                    attachment(
                        100_000 + number, number, f"https://old.example.org/up/lead-{number}.jpg"
                    ),
                )
            )
        items += [item for at, item in late if at == number]
        late = [(at, item) for at, item in late if at != number]
    items += [item for _, item in late]
    for number in range(3, posts + 1, 3):
        for suffix in ("a", "b"):
            url = f"https://old.example.org/up/gallery-{number}-{suffix}.jpg"
            items.append(attachment(200_000 + number * 10 + ord(suffix), number, url))
    return small_export("".join(items))


@pytest.fixture
def scratch_database(tmp_path) -> Iterator[tuple[dict[str, str], Callable[[], int]]]:
    """The environment of a `pressroom` process on a migrated database of its own, and a way to
    count its articles while that process runs."""
    settings = connection.settings_dict
    env = {**os.environ, "PRESSROOM_VAR_DIR": str(tmp_path), "PRESSROOM_DEV_SECRET": "1"}
    if connection.vendor == "postgresql":
        import psycopg

        name = f"{settings['NAME']}_resume"
        server = (
            f"postgres://{settings['USER']}:{settings['PASSWORD']}"
            f"@{settings['HOST'] or '127.0.0.1'}:{settings['PORT'] or 5432}"
        )
        with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
            admin.execute(f'CREATE DATABASE "{name}"')
        env["DATABASE_URL"] = f"{server}/{name}"

        def count() -> int:
            with psycopg.connect(env["DATABASE_URL"]) as reader:
                return reader.execute("SELECT count(*) FROM publishing_article").fetchone()[0]

    else:
        import sqlite3

        database = tmp_path / "import.sqlite3"
        env["DATABASE_URL"] = f"sqlite:///{database}"

        def count() -> int:
            with closing(sqlite3.connect(database)) as reader:
                return reader.execute("SELECT count(*) FROM publishing_article").fetchone()[0]

    subprocess.run([*PRESSROOM, "migrate", "--no-input", "-v", "0"], env=env, check=True)
    yield env, count
    if connection.vendor == "postgresql":
        with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def whole(env: dict[str, str]) -> dict:
    result = subprocess.run(
        [sys.executable, "-m", "pressroom.importers.tests.whole_check"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def import_killed_after(export: Path, env: dict[str, str], count: Callable[[], int], at: int):
    """Start an import and SIGKILL it once `at` articles are committed. Returns how many were
    committed when it died."""
    process = subprocess.Popen(
        [*PRESSROOM, "import_wxr", str(export), "--batch-size", BATCH],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while count() < at and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        assert process.poll() is None, "the import ended before it could be killed"
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
    assert process.returncode == -signal.SIGKILL
    return count()


def test_an_import_killed_at_any_moment_and_run_again_leaves_every_article_whole(
    tmp_path, scratch_database
):
    env, count = scratch_database
    export = tmp_path / "late-media.xml"
    export.write_bytes(export_with_late_media())
    committed = []
    for at in (1, 120, 250):
        committed.append(import_killed_after(export, env, count, at))
        # Whatever the kill left is whole: no article without its image, gallery, links...
        state = whole(env)
        assert state["problems"] == [], state["problems"][:5]
        assert state["articles"] == committed[-1] < POSTS
    assert committed == sorted(committed)

    finished = subprocess.run(
        [*PRESSROOM, "import_wxr", str(export), "--batch-size", BATCH],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert f"created {POSTS - committed[-1]}, updated 0, skipped {committed[-1]}" in (
        finished.stdout
    )
    state = whole(env)
    assert state == {"articles": POSTS, "problems": []}
