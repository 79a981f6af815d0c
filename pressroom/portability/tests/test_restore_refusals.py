"""A restore checks the archive whole before it writes anything: it refuses a damaged, altered,
hostile or too new archive with one clear line, and the empty site stays empty."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from pressroom.portability.archive import MANIFEST
from pressroom.portability.tests.conftest import empty_the_site
from pressroom.publishing.models import Article, Author, Topic


@pytest.fixture
def exported(demo_site, tmp_path) -> Path:
    archive = tmp_path / "site.tar.gz"
    call_command("export", str(archive), stdout=io.StringIO())
    empty_the_site()
    return archive


def _members(archive: Path) -> list[tuple[tarfile.TarInfo, bytes]]:
    with tarfile.open(archive) as opened:
        return [
            (info, opened.extractfile(info).read() if info.isfile() else b"")
            for info in opened.getmembers()
        ]


def _write(path: Path, members: list[tuple[tarfile.TarInfo, bytes]]) -> Path:
    with tarfile.open(path, "w:gz") as out:
        for info, data in members:
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))
    return path


def _refused(archive: Path, message: str) -> None:
    with pytest.raises(CommandError, match=message) as raised:
        call_command("restore", str(archive), stdout=io.StringIO())
    assert "\n" not in str(raised.value)
    assert not Article.objects.exists()


def test_a_corrupt_archive_is_refused(exported, tmp_path):
    data = bytearray(exported.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = b"\x00" * 64
    corrupt = tmp_path / "corrupt.tar.gz"
    corrupt.write_bytes(bytes(data))
    _refused(corrupt, "damaged|checksum|not a Pressroom export")


def test_not_an_archive_is_refused(db, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    _refused(path, "not a Pressroom export")
    _refused(tmp_path / "missing.tar.gz", "is not a file")


def test_a_tampered_record_is_refused(exported, tmp_path):
    members = _members(exported)
    for index, (info, data) in enumerate(members):
        if info.name == "records/publishing.article.jsonl":
            members[index] = (info, data.replace(b'"title": "', b'"title": "Altered ', 1))
            assert members[index][1] != data
    _refused(_write(tmp_path / "tampered.tar.gz", members), "checksum mismatch")


def test_an_extra_member_is_refused(exported, tmp_path):
    members = _members(exported)
    members.insert(0, (tarfile.TarInfo("media/extra.txt"), b"not listed"))
    _refused(_write(tmp_path / "extra.tar.gz", members), "not the manifest")


@pytest.mark.parametrize(
    "name", ["../../etc/passwd", "/etc/passwd", "media/../../escape", "records/./x.jsonl"]
)
def test_a_path_traversal_member_is_refused(exported, tmp_path, name):
    members = _members(exported)
    members.insert(0, (tarfile.TarInfo(name), b"root:x:0:0"))
    _refused(_write(tmp_path / "traversal.tar.gz", members), "unsafe member name")
    assert not (tmp_path.parent.parent / "escape").exists()


def test_a_link_member_is_refused(exported, tmp_path):
    members = _members(exported)
    link = tarfile.TarInfo("media/link")
    link.type = tarfile.SYMTYPE
    link.linkname = "/etc/passwd"
    members.insert(0, (link, b""))
    _refused(_write(tmp_path / "link.tar.gz", members), "not a regular file")


def test_a_schema_newer_than_the_code_is_refused(exported, tmp_path):
    members = _members(exported)
    for index, (info, data) in enumerate(members):
        if info.name == MANIFEST:
            manifest = json.loads(data)
            manifest["schema"]["publishing"] = "9999_from_the_future"
            members[index] = (info, json.dumps(manifest).encode())
    _refused(_write(tmp_path / "newer.tar.gz", members), "newer than this code")


def test_an_export_over_an_existing_file_is_refused(demo_site, tmp_path):
    existing = tmp_path / "keep.tar.gz"
    existing.write_bytes(b"precious")
    with pytest.raises(CommandError, match="already exists"):
        call_command("export", str(existing), stdout=io.StringIO())
    assert existing.read_bytes() == b"precious"


def _reseal(members: list[tuple[tarfile.TarInfo, bytes]]) -> list[tuple[tarfile.TarInfo, bytes]]:
    """The manifest's checksums made to match the members again (a consistent, wrong archive)."""
    manifest_index = next(i for i, (info, _) in enumerate(members) if info.name == MANIFEST)
    manifest = json.loads(members[manifest_index][1])
    for info, data in members:
        if info.name in manifest["members"]:
            manifest["members"][info.name] = {
                "sha256": hashlib.sha256(data).hexdigest(),
                "size": len(data),
            }
    members[manifest_index] = (members[manifest_index][0], json.dumps(manifest).encode())
    return members


def test_a_restore_that_fails_half_way_leaves_nothing(exported, tmp_path, settings):
    shutil.rmtree(settings.MEDIA_ROOT)
    members = _members(exported)
    for index, (info, data) in enumerate(members):
        if info.name == "records/publishing.articleauthor.jsonl":
            # The last kinds load after the articles: a byline of an author who does not exist.
            lines = data.splitlines()
            record = json.loads(lines[-1])
            record["fields"]["author"] = 987654
            lines[-1] = json.dumps(record).encode()
            members[index] = (info, b"\n".join(lines) + b"\n")
    _refused(_write(tmp_path / "broken.tar.gz", _reseal(members)), "nothing was changed")
    assert not Topic.objects.exists()
    assert not Author.objects.exists()
    assert not any(Path(settings.MEDIA_ROOT).rglob("*.*"))


def test_the_command_exits_non_zero_with_one_line(tmp_path):
    missing = tmp_path / "missing.tar.gz"
    for command in (["restore", str(missing)], ["export", str(tmp_path / "no" / "dir.tar.gz")]):
        done = subprocess.run(
            [sys.executable, "-m", "pressroom.cli", *command],
            capture_output=True,
            text=True,
            env={**os.environ, "PRESSROOM_DEV_SECRET": "1"},
            timeout=120,
        )
        assert done.returncode == 1
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert "failed" in done.stderr
