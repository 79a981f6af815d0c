"""The archive module in this process (the command tests run it in subprocesses): its refusals,
its pieces, and — where the test database is a file or PostgreSQL — a full backup."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import sys
import tarfile
import traceback
from collections.abc import Callable

import pytest
from django.db import connection

from pressroom.backups import archive, isolation


def _fake_backup(path, manifest):
    with tarfile.open(path, "w:gz") as tar:
        data = path.with_suffix(".json")
        data.write_text(json.dumps(manifest))
        tar.add(data, "manifest.json")


@pytest.mark.django_db
def test_restore_refuses_what_it_cannot_restore_with_one_clear_reason(tmp_path):
    with pytest.raises(archive.BackupError, match="no backup at"):
        archive.restore_backup(tmp_path / "missing.tar.gz")
    (tmp_path / "notes.tar.gz").write_text("not an archive")
    with pytest.raises(archive.BackupError, match="is not a Pressroom backup"):
        archive.restore_backup(tmp_path / "notes.tar.gz")
    _fake_backup(tmp_path / "old.tar.gz", {"format": 0})
    with pytest.raises(archive.BackupError, match="this version can restore"):
        archive.restore_backup(tmp_path / "old.tar.gz")
    other = "postgresql" if connection.vendor == "sqlite" else "sqlite"
    _fake_backup(tmp_path / "other.tar.gz", {"format": archive.FORMAT, "engine": other})
    with pytest.raises(archive.BackupError, match="restore into the same kind of database"):
        archive.restore_backup(tmp_path / "other.tar.gz")
    _fake_backup(tmp_path / "same.tar.gz", {"format": archive.FORMAT, "engine": connection.vendor})
    with pytest.raises(archive.BackupError, match="is not empty"):
        archive.restore_backup(tmp_path / "same.tar.gz")  # the test database has its tables


def test_backup_refuses_a_bad_directory_or_count(tmp_path):
    with pytest.raises(archive.BackupError, match="--keep must be 1 or more"):
        archive.create_backup(tmp_path, keep=0)
    (tmp_path / "a-file").write_text("")
    with pytest.raises(archive.BackupError, match="is not a directory"):
        archive.create_backup(tmp_path / "a-file", keep=1)


def _as_another_user(work: Callable[[], None]) -> tuple[int, str]:
    """Run `work` in a child process as `nobody` (the test runs as root in CI, and root reads
    every file): its exit status and what it wrote to stderr."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the child)
        code = 0
        try:
            os.close(read)
            sys.stderr = os.fdopen(write, "w", buffering=1)
            if os.geteuid() == 0:
                os.setgid(65534)
                os.setuid(65534)
            work()
        except SystemExit as exit:
            code = int(exit.code or 0)
        except BaseException:
            traceback.print_exc()
            code = 99
        finally:
            sys.stderr.flush()
            os._exit(code)
    os.close(write)
    with os.fdopen(read) as stream:
        output = stream.read()
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), output


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_backup_the_user_cannot_read_is_one_line_not_a_traceback(tmp_path):
    """docs/deploy.md's restore once named a file in /root, which the pressroom user cannot
    read: the command says so in one line and exits non-zero."""
    from django.core.management import load_command_class

    unreadable = tmp_path / "pressroom-20261129-033000Z.tar.gz"
    unreadable.write_text("")
    unreadable.chmod(0o000)
    tmp_path.chmod(0o700)

    def restore() -> None:
        command = load_command_class("pressroom.backups", "restore_backup")
        command.run_from_argv(["pressroom", "restore-backup", str(unreadable)])

    status, stderr = _as_another_user(restore)
    assert status == 1, stderr
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines() == [
        f"CommandError: restore failed: cannot read {unreadable}: Permission denied; copy it "
        "where this user can read it (`install -o pressroom -m 0600 FILE "
        "/var/lib/pressroom/backups/`)"
    ]


def test_a_backup_directory_open_to_others_or_in_the_code_is_refused(tmp_path, settings):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)
    with pytest.raises(archive.BackupError, match=r"is open to other users \(mode 755\)"):
        archive.create_backup(shared, keep=1)
    assert stat.S_IMODE(shared.stat().st_mode) == 0o755  # left as it was
    with pytest.raises(archive.BackupError, match="must not be inside"):
        archive.create_backup(settings.BASE_DIR / ".git" / "backups", keep=1)
    with pytest.raises(archive.BackupError, match="which is or contains the code"):
        archive.create_backup(settings.BASE_DIR.parent, keep=1)
    assert not (settings.BASE_DIR / ".git" / "backups").exists()


def test_archives_are_listed_oldest_first_and_named_by_the_second(tmp_path):
    for name in ("pressroom-20261129-033000Z.tar.gz", "pressroom-20261128-033000Z.tar.gz"):
        (tmp_path / name).write_text("")
    (tmp_path / "notes.txt").write_text("")
    assert [path.name for path in archive.archives(tmp_path)] == [
        "pressroom-20261128-033000Z.tar.gz",
        "pressroom-20261129-033000Z.tar.gz",
    ]
    assert archive.archives(tmp_path / "missing") == []
    assert archive.ARCHIVE_NAME.match(archive._new_archive_path(tmp_path).name)


def test_settings_files_are_saved_only_when_readable_and_kept_for_the_owner_alone(
    tmp_path, settings
):
    settings.PRESSROOM_ENV_FILE = str(tmp_path / "missing.env")
    with pytest.raises(archive.BackupError, match="PRESSROOM_ENV_FILE"):
        archive._settings_files()
    env_file = tmp_path / "pressroom.env"
    env_file.write_text("SECRET_KEY=x\n")
    settings.PRESSROOM_ENV_FILE = str(env_file)
    settings.DKIM_PRIVATE_KEY_PATH = ""
    assert archive._settings_files() == [(env_file, archive.ENV_FILE_MEMBER)]

    work = tmp_path / "work"
    (work / "settings").mkdir(parents=True)
    (work / archive.ENV_FILE_MEMBER).write_text("SECRET_KEY=x\n")
    settings.VAR_DIR = tmp_path / "var"
    settings.VAR_DIR.mkdir()
    kept = archive._keep_settings_files(work, [archive.ENV_FILE_MEMBER, "../etc/passwd"])
    assert [path.name for path in kept] == ["pressroom.env"]
    assert stat.S_IMODE(kept[0].stat().st_mode) == 0o600


def test_the_sqlite_copy_is_consistent_and_refuses_a_missing_database(tmp_path):
    source = tmp_path / "live.sqlite3"
    with sqlite3.connect(source) as database:
        database.execute("CREATE TABLE article (title TEXT)")
        database.execute("INSERT INTO article VALUES ('Miners march on Lima')")
    archive._sqlite_copy(source, tmp_path / "copy.sqlite3")
    with sqlite3.connect(tmp_path / "copy.sqlite3") as copy:
        assert copy.execute("SELECT title FROM article").fetchall() == [("Miners march on Lima",)]
    with pytest.raises(archive.BackupError, match="no SQLite database"):
        archive._sqlite_copy(tmp_path / "missing.sqlite3", tmp_path / "other.sqlite3")


def test_the_sqlite_copy_reads_a_path_with_uri_characters_in_it(tmp_path):
    """`file:{path}?mode=ro` cut "/srv/news #2/var/db" at the "#": SQLite created an empty
    "/srv/news " and the backup held that instead of the site."""
    directory = tmp_path / "news #2?x"
    directory.mkdir()
    with sqlite3.connect(directory / "live.sqlite3") as database:
        database.execute("CREATE TABLE article (title TEXT)")
        database.execute("INSERT INTO article VALUES ('Miners march on Lima')")
    archive._sqlite_copy(directory / "live.sqlite3", tmp_path / "copy.sqlite3")
    with sqlite3.connect(tmp_path / "copy.sqlite3") as copy:
        assert copy.execute("SELECT title FROM article").fetchall() == [("Miners march on Lima",)]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["copy.sqlite3", "news #2?x"]


@pytest.mark.django_db
def test_a_backup_of_the_test_database_on_postgresql(tmp_path, settings):
    if connection.vendor != "postgresql":
        pytest.skip("the SQLite test database lives in memory (the command tests cover SQLite)")
    settings.PRESSROOM_ENV_FILE = ""
    settings.DKIM_PRIVATE_KEY_PATH = ""
    path = archive.create_backup(tmp_path / "backups", keep=1)
    manifest = archive.read_manifest(path)
    assert manifest["engine"] == "postgresql"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_isolation_marker_comes_and_goes(tmp_path, settings):
    settings.RESTORED_COPY_FILE = tmp_path / "restored-copy-test"
    assert not isolation.is_isolated()
    isolation.wait_until_live()  # returns at once: not a restored copy
    name = isolation.isolate()
    assert isolation.is_isolated()
    assert settings.RESTORED_COPY_FILE.read_text().strip() == name
    assert isolation.go_live()
    assert not isolation.go_live()
