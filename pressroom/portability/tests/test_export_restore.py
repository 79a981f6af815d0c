"""`pressroom export` and `pressroom restore`: the same public site and the same records."""

from __future__ import annotations

import io
import json
import os
import shutil
import stat
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from pressroom.newsletter.models import Subscriber
from pressroom.portability.archive import MANIFEST, PERSONAL_MODELS, exported_models
from pressroom.portability.tests.conftest import (
    DONOR_EMAIL,
    SUBSCRIBER_EMAIL,
    empty_the_site,
    records,
)
from pressroom.portability.tests.crawling import crawl, fingerprints
from pressroom.publishing.models import Article, Topic


def _export(path: Path, *options: str) -> str:
    out = io.StringIO()
    call_command("export", str(path), *options, stdout=out)
    return out.getvalue()


def _restore(path: Path) -> str:
    out = io.StringIO()
    call_command("restore", str(path), stdout=out)
    return out.getvalue()


def test_restore_into_an_empty_install_gives_the_same_site_and_records(demo_site, tmp_path):
    pages_before = crawl()
    records_before = records()
    archive = tmp_path / "site.tar.gz"
    output = _export(archive)
    assert "publishing.article: 24" in output
    assert "media files: 1" in output
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600

    empty_the_site()
    shutil.rmtree(settings.MEDIA_ROOT)
    assert not Article.objects.exists()

    output = _restore(archive)
    assert "publishing.article: 24" in output
    records_after = records()
    assert {k: len(v) for k, v in records_after.items()} == {
        k: len(v) for k, v in records_before.items()
    }
    for kind, rows in records_before.items():
        for before, after in zip(rows, records_after[kind], strict=True):
            assert after == before, f"{kind}: {before} != {after}"
    pages_after = crawl()
    assert len(pages_before) > 40  # the crawl reached articles, topics, authors, pages, media
    assert f"/media/{demo_site['media'].file.name}" in pages_before  # the lead image's file
    assert {path.split("/")[1] for path in pages_before} >= {
        "articles",
        "topics",
        "authors",
        "about",
    }
    assert sorted(pages_after) == sorted(pages_before)
    for path, page in pages_before.items():
        assert pages_after[path] == page, path
    media_file = Path(settings.MEDIA_ROOT) / demo_site["media"].file.name
    assert media_file.is_file()

    # The sequences moved past the restored keys (PostgreSQL): new records get new ones.
    highest = max(row["pk"] for row in records_before["publishing.topic"])
    assert Topic.objects.create(name="After the move", slug="after-the-move").pk > highest


def test_restore_refuses_a_site_with_content(demo_site, tmp_path):
    archive = tmp_path / "site.tar.gz"
    _export(archive)
    before = records()
    with pytest.raises(CommandError, match="already has content"):
        _restore(archive)
    assert records() == before


def test_the_archive_is_open_and_documented(demo_site, tmp_path):
    archive = tmp_path / "site.tar.gz"
    _export(archive)
    with tarfile.open(archive) as opened:
        names = opened.getnames()
        manifest = json.load(opened.extractfile(MANIFEST))
        articles = opened.extractfile("records/publishing.article.jsonl").read().splitlines()
    assert names[-1] == MANIFEST
    assert set(manifest["members"]) == set(names) - {MANIFEST}
    assert manifest["schema"]["publishing"].startswith("00")
    assert {kind["model"] for kind in manifest["kinds"]} == {
        m._meta.label_lower for m in exported_models()
    }
    assert len(articles) == 24
    assert all(json.loads(line)["model"] == "publishing.article" for line in articles)
    assert any(name.startswith("media/") for name in names)


def test_exclude_personal_data_leaves_out_people(demo_site, tmp_path):
    archive = tmp_path / "public.tar.gz"
    output = _export(archive, "--exclude-personal-data")
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    assert "newsletter.subscriber" not in output
    with tarfile.open(archive) as opened:
        names = opened.getnames()
        manifest = json.load(opened.extractfile(MANIFEST))
        everything = b"".join(
            opened.extractfile(member).read() for member in opened.getmembers() if member.isfile()
        )
    kinds = {kind["model"] for kind in manifest["kinds"]}
    assert not kinds & PERSONAL_MODELS
    assert "newsletter.delivery" not in kinds
    assert not any(
        name.startswith(("records/auth.user", "records/newsletter.subscriber")) for name in names
    )
    assert SUBSCRIBER_EMAIL.encode() not in everything
    assert DONOR_EMAIL.encode() not in everything
    assert b"editor@example.org" not in everything
    assert manifest["personal_data"] is False

    # It restores: the public site without its people.
    empty_the_site()
    shutil.rmtree(settings.MEDIA_ROOT)
    _restore(archive)
    assert Article.objects.count() == 24
    assert not Subscriber.objects.exists()


def _pressroom(*arguments: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pressroom.cli", *arguments],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )


@pytest.mark.slow
def test_restore_into_a_fresh_database_serves_the_same_pages(demo_site, tmp_path):
    """Another install: its own SQLite database, var and media directories, migrated from
    nothing, restored by the command in its own process, crawled there."""
    pages_before = fingerprints(crawl())
    archive = tmp_path / "site.tar.gz"
    _export(archive)
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    env = {
        **os.environ,
        "PRESSROOM_DEV_SECRET": "1",
        "DATABASE_URL": f"sqlite:///{fresh / 'site.sqlite3'}",
        "PRESSROOM_VAR_DIR": str(fresh / "var"),
        "MEDIA_ROOT": str(fresh / "media"),
        "ALLOWED_HOSTS": "testserver",
    }
    migrated = _pressroom("migrate", "--no-input", "-v0", env=env)
    assert migrated.returncode == 0, migrated.stderr
    restored = _pressroom("restore", str(archive), env=env)
    assert restored.returncode == 0, restored.stderr
    assert "publishing.article: 24" in restored.stdout
    crawled = subprocess.run(
        [sys.executable, "-m", "pressroom.portability.tests.crawling"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert crawled.returncode == 0, crawled.stderr
    pages_after = json.loads(crawled.stdout)
    assert len(pages_before) > 40
    assert sorted(pages_after) == sorted(pages_before)
    differing = [path for path in pages_before if pages_after[path] != pages_before[path]]
    assert differing == []
