"""An import bringing media home, killed at any moment (SIGKILL: a crash, the out-of-memory
killer, a deploy) while it stores files and while it writes posts, then run again: every
attachment is in the library once, every post points at it, nothing is lost or duplicated.

The import runs as a real `pressroom import_wxr --media-dir` process against a database of its
own (a file on SQLite, a scratch database on PostgreSQL) and a media folder of its own.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from pressroom.importers.tests.media_samples import many_photos_export
from pressroom.importers.tests.test_import_resume import PRESSROOM, scratch_database

pytestmark = [pytest.mark.django_db, pytest.mark.slow]
__all__ = ["scratch_database"]  # the fixture, shared with test_import_resume

PHOTOS = 150


def media_state(env: dict[str, str]) -> dict:
    result = subprocess.run(
        [sys.executable, "-m", "pressroom.importers.tests.media_check"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def killed_when(command: list[str], env: dict[str, str], reached: Callable[[], bool]) -> None:
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 120
        while not reached() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        assert process.poll() is None, "the import ended before it could be killed"
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
    assert process.returncode == -signal.SIGKILL


def test_an_import_of_media_killed_twice_and_run_again_ends_whole_and_without_duplicates(
    tmp_path: Path, scratch_database
):
    env, count_articles = scratch_database
    export, uploads = many_photos_export(tmp_path, PHOTOS)
    command = [*PRESSROOM, "import_wxr", str(export), "--media-dir", str(uploads)]
    command += ["--batch-size", "4"]
    originals = Path(env["PRESSROOM_VAR_DIR"]) / "media" / "originals"

    def stored(at_least: int) -> Callable[[], bool]:
        return lambda: originals.is_dir() and len(list(originals.iterdir())) >= at_least

    # Killed while it stores files (before any post), then while it writes posts.
    killed_when(command, env, stored(40))
    first = media_state(env)
    assert first["articles"] == 0
    assert 39 <= first["items"] < PHOTOS  # the 40th file may be stored, its row not yet
    assert first["duplicated_hashes"] == 0
    killed_when(command, env, lambda: count_articles() >= 20)
    second = media_state(env)
    assert second["items"] == PHOTOS
    assert 20 <= second["articles"] < PHOTOS

    finished = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    assert f"skipped {PHOTOS} (unchanged since the last import: {PHOTOS})" in finished.stdout
    assert f"posts    created {PHOTOS - second['articles']}, updated 0" in finished.stdout
    final = media_state(env)
    assert final | {"stored_originals": 0} == {
        "items": PHOTOS,
        "duplicated_hashes": 0,
        "attachments": PHOTOS,
        "attachments_without_item": 0,
        "articles": PHOTOS,
        "articles_without_lead_image": 0,
        "bodies_at_old_uploads": 0,
        "upload_redirects": PHOTOS,
        "stored_originals": 0,
    }
    # A kill between writing a file and committing its row can leave that one file behind
    # (never a second library item): at most one a kill.
    assert PHOTOS <= final["stored_originals"] <= PHOTOS + 2
