"""Archives an operator should not have been handed, and set-ups a volunteer sysadmin makes:
`restore-backup` refuses a crafted archive in one line and restores nothing from it; a restore
that fails half-way leaves the copy isolated; a MEDIA_ROOT that is a symlink is backed up."""

from __future__ import annotations

import io
import json
import sqlite3
import tarfile
from pathlib import Path

import pytest

from tests.services import pressroom, pressroom_ok, site_environment


def _backed_up_site(tmp_path: Path) -> tuple[dict[str, str], Path]:
    site = site_environment(tmp_path / "live")
    pressroom_ok("migrate", "--no-input", env=site)
    media = tmp_path / "live" / "media" / "originals" / "ab"
    media.mkdir(parents=True)
    (media / "photo.jpg").write_bytes(b"an image")
    pressroom_ok("backup", "--to", str(tmp_path / "backups"), env=site)
    return site, next((tmp_path / "backups").glob("pressroom-*.tar.gz"))


def _craft(
    source: Path, target: Path, *, manifest: dict | None = None, extra: list | None = None
) -> Path:
    """`source` re-packed, with its manifest changed and `extra` (TarInfo, bytes) members."""
    with tarfile.open(source, "r:gz") as original, tarfile.open(target, "w:gz") as crafted:
        for member in original.getmembers():
            data = original.extractfile(member) if member.isfile() else None
            if member.name == "manifest.json" and manifest is not None:
                text = json.dumps({**json.load(data), **manifest}).encode()  # type: ignore[arg-type]
                member.size, data = len(text), io.BytesIO(text)
            crafted.addfile(member, data)
        for member, payload in extra or []:
            crafted.addfile(member, io.BytesIO(payload) if payload is not None else None)
    return target


def _link(name: str, target: str, *, hard: bool = False) -> tarfile.TarInfo:
    member = tarfile.TarInfo(name)
    member.type = tarfile.LNKTYPE if hard else tarfile.SYMTYPE
    member.linkname = target
    return member


def _tables(database: Path) -> list[str]:
    if not database.exists():
        return []
    with sqlite3.connect(database) as connection:
        return [row[0] for row in connection.execute("SELECT name FROM sqlite_master")]


@pytest.mark.slow
def test_a_crafted_archive_is_refused_in_one_line_and_restores_nothing(tmp_path):
    site, backup = _backed_up_site(tmp_path)
    live_database = Path(site["DATABASE_URL"].removeprefix("sqlite:///"))
    escape = _link("media/originals/ab/db.jpg", "../../../database.sqlite3")
    outside = tarfile.TarInfo("../../outside.txt")
    outside.size = 3
    crafted = {
        # The manifest names a file of this machine (the live site's database) to restore.
        "absolute database": (
            _craft(backup, tmp_path / "a.tar.gz", manifest={"database": str(live_database)}),
            "has no database in it",
        ),
        "member outside": (
            _craft(backup, tmp_path / "b.tar.gz", extra=[(outside, b"bad")]),
            "which is outside the destination",
        ),
        # A link inside the tree: the data filter lets it through, and copying media/ would
        # publish the database as an image (or loop for ever with a link to ".").
        "symlink in media": (
            _craft(backup, tmp_path / "c.tar.gz", extra=[(escape, None)]),
            "is a link; backups hold only files",
        ),
        "loop in media": (
            _craft(backup, tmp_path / "d.tar.gz", extra=[(_link("media/loop", "."), None)]),
            "is a link; backups hold only files",
        ),
        "hard link": (
            _craft(
                backup,
                tmp_path / "e.tar.gz",
                extra=[(_link("media/copy.jpg", "database.sqlite3", hard=True), None)],
            ),
            "is a link; backups hold only files",
        ),
    }
    for name, (archive, message) in crafted.items():
        copy_var = tmp_path / f"copy-{archive.stem}"
        copy = site_environment(copy_var)
        result = pressroom("restore-backup", str(archive), env=copy)
        assert result.returncode != 0, name
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, (name, result.stderr)
        assert lines[0].startswith("CommandError: restore failed: "), name
        assert message in lines[0], (name, lines[0])
        assert _tables(copy_var / "pressroom.sqlite3") == [], name
        assert not (copy_var / "media").exists(), name
        # Nothing was restored, so nothing is left marked as a restored copy either.
        assert not list(copy_var.glob("restored-copy-*")), name
    assert not (tmp_path / "outside.txt").exists()


@pytest.mark.slow
def test_a_restore_that_fails_half_way_leaves_the_copy_isolated(tmp_path):
    """The database is restored, then the media cannot be written: the copy holds the live
    site's subscribers and queued tasks, so its worker must stay paused."""
    _, backup = _backed_up_site(tmp_path)
    (tmp_path / "a-file").write_text("")
    copy_var = tmp_path / "copy"
    copy = site_environment(copy_var, MEDIA_ROOT=str(tmp_path / "a-file" / "media"))
    result = pressroom("restore-backup", str(backup), env=copy)
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "django_migrations" in _tables(copy_var / "pressroom.sqlite3")
    assert len(list(copy_var.glob("restored-copy-*"))) == 1
    paused = pressroom(
        "shell", "-c", "from pressroom.backups import isolation; print(isolation.is_isolated())",
        env=copy,
    )  # fmt: skip
    assert paused.stdout.strip().splitlines()[-1] == "True", paused.stderr


@pytest.mark.slow
def test_a_media_root_that_is_a_symlink_is_backed_up_as_its_files(tmp_path):
    """/srv/pressroom/var/media -> /mnt/disk/media: the archive holds the files, not the link."""
    real = tmp_path / "disk" / "media"
    (real / "originals" / "ab").mkdir(parents=True)
    (real / "originals" / "ab" / "photo.jpg").write_bytes(b"an image")
    (tmp_path / "media-link").symlink_to(real)
    site = site_environment(tmp_path / "live", MEDIA_ROOT=str(tmp_path / "media-link"))
    pressroom_ok("migrate", "--no-input", env=site)
    pressroom_ok("backup", "--to", str(tmp_path / "backups"), env=site)
    backup = next((tmp_path / "backups").glob("pressroom-*.tar.gz"))
    with tarfile.open(backup, "r:gz") as tar:
        media = {
            member.name: member for member in tar.getmembers() if member.name.startswith("media")
        }
    assert media["media"].isdir()
    assert media["media/originals/ab/photo.jpg"].isfile()

    copy_var = tmp_path / "copy"
    pressroom_ok("restore-backup", str(backup), env=site_environment(copy_var))
    assert (copy_var / "media" / "originals" / "ab" / "photo.jpg").read_bytes() == b"an image"
