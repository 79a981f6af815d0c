"""The mirror's refusals (review of issue #18 point 4): it never writes, empties or deletes a
file outside OUTDIR, one bad record never stops a run, and bad input is one clear line."""

from __future__ import annotations

import io
import os
import re
import sqlite3
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from pressroom.lib.pagecache.generation import forget_cached_pages
from pressroom.media.models import MediaItem
from pressroom.media.services import replace_item_file
from pressroom.portability.mirror import MANIFEST_NAME, MirrorError, mirror_site
from pressroom.portability.mirror.rendering import Renderer, Rewriter
from pressroom.portability.mirror.run import locked
from pressroom.portability.tests.conftest import _png
from pressroom.publishing.models import Article, Topic

BASE_URL = "https://mirror.example.org"


@pytest.fixture
def site(settings, demo_site):
    settings.ARTICLES_PER_PAGE = 3
    return demo_site


def _media_files() -> dict[str, bytes]:
    root = Path(settings.MEDIA_ROOT)
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in root.rglob("*")
        if path.is_file()
    }


def test_media_folder_symlinked_into_outdir_is_neither_emptied_nor_deleted(site, tmp_path):
    before = _media_files()
    assert before
    assert all(before.values())
    root = tmp_path / "mirror"
    root.mkdir()
    (root / "media").symlink_to(settings.MEDIA_ROOT, target_is_directory=True)
    summary = mirror_site(root, BASE_URL, force=True)
    # The media copies are refused and named; the site's own files are untouched.
    assert any("symbolic link" in failure for failure in summary.failed), summary.failed
    assert _media_files() == before
    assert (root / "index.html").exists()
    # A later run, the article with the image unpublished (its media now stale): still nothing
    # is deleted through the link.
    Article.objects.filter(pk=site["article"].pk).update(status=Article.Status.DRAFT)
    mirror_site(root, BASE_URL)
    assert _media_files() == before


def test_page_folder_symlinked_out_of_outdir_gets_no_writes(site, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    root = tmp_path / "mirror"
    root.mkdir()
    (root / "topics").symlink_to(elsewhere, target_is_directory=True)
    summary = mirror_site(root, BASE_URL, force=True)
    assert any("/topics/" in failure for failure in summary.failed)
    assert list(elsewhere.iterdir()) == []


@pytest.mark.parametrize("where", ["media root", "media parent", "inside media", "var", "static"])
def test_outdir_overlapping_the_sites_own_folders_is_refused(site, where):
    media = Path(settings.MEDIA_ROOT)
    outdir = {
        "media root": media,
        "media parent": media.parent,
        "inside media": media / "mirror",
        "var": Path(settings.VAR_DIR),
        "static": Path(settings.STATIC_ROOT),
    }[where]
    before = _media_files()
    with pytest.raises(CommandError, match="must not be, hold"):
        call_command("mirror", str(outdir), "--force", stdout=io.StringIO())
    assert _media_files() == before


VIRTUALENV_FOLDER = Path(sys.prefix) / "mirror"


@pytest.mark.parametrize("outdir", ["/", str(settings.BASE_DIR), str(VIRTUALENV_FOLDER)])
def test_outdir_at_root_the_checkout_or_the_code_is_refused(db, outdir):
    with pytest.raises(CommandError, match=r"which is or contains the code|must not be inside"):
        call_command("mirror", outdir, "--force", stdout=io.StringIO())
    assert not VIRTUALENV_FOLDER.exists()


def test_first_run_into_a_non_empty_folder_is_refused_unless_forced(site, tmp_path):
    root = tmp_path / "existing"
    root.mkdir()
    (root / "index.html").write_text("the folder's own page")
    with pytest.raises(CommandError, match="is not empty and holds no mirror"):
        call_command("mirror", str(root), stdout=io.StringIO())
    assert (root / "index.html").read_text() == "the folder's own page"
    assert not (root / MANIFEST_NAME).exists()
    summary = mirror_site(root, BASE_URL, force=True)
    assert not summary.failed
    # A folder holding a mirror needs no --force.
    assert not mirror_site(root, BASE_URL).failed


def test_bad_slugs_fail_their_pages_only_and_the_run_goes_on(site, tmp_path):
    root = tmp_path / "mirror"
    mirror_site(root, BASE_URL)
    gone = Article.objects.published().order_by("id").last()
    assert gone is not None
    Article.objects.filter(pk=gone.pk).update(status=Article.Status.DRAFT)
    bad_article = Article.objects.published().order_by("id").first()
    assert bad_article is not None
    Article.objects.filter(pk=bad_article.pk).update(slug="..")
    topic = Topic.objects.order_by("id").first()
    assert topic is not None
    Topic.objects.filter(pk=topic.pk).update(slug="a/b")
    summary = mirror_site(root, BASE_URL)
    assert any("topic 'a/b'" in failure for failure in summary.failed), summary.failed
    # The rest of the run happened: the unpublished article deleted, the static files there.
    assert not (root / "articles" / gone.slug / "index.html").exists()
    assert summary.deleted >= 1
    assert (root / settings.STATIC_URL.strip("/")).is_dir()
    assert (root / "index.html").exists()
    assert not (tmp_path / "index.html").exists()
    with pytest.raises(CommandError, match=r"mirror incomplete: \d+ pages failed: .*a/b"):
        call_command("mirror", str(root), stdout=io.StringIO())


@pytest.mark.parametrize(
    "base_url",
    [
        'https://m.example"><script>alert(1)</script>',
        "https://m.example/<x>",
        "https://m.example/sub/path",
        "https://m.example'onload=x",
        "https://user@m.example",
    ],
)
def test_base_url_with_a_path_or_markup_is_refused(db, tmp_path, base_url):
    with pytest.raises(CommandError, match=r"must be scheme://host\[:port\] only"):
        call_command("mirror", str(tmp_path / "out"), "--base-url", base_url, stdout=io.StringIO())
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("base_url", ["https://m.example.org", "http://127.0.0.1:8080/"])
def test_plain_base_urls_are_accepted(site, tmp_path, base_url):
    assert not mirror_site(tmp_path / "out", base_url).failed


def test_corrupt_manifest_is_one_line(site, tmp_path):
    root = tmp_path / "mirror"
    root.mkdir()
    (root / MANIFEST_NAME).write_bytes(b"this is not a SQLite database" * 100)
    with pytest.raises(CommandError, match=r"^mirror failed: the manifest .* is unusable"):
        call_command("mirror", str(root), stdout=io.StringIO())


def test_second_run_at_once_is_refused_with_one_line(site, tmp_path):
    root = tmp_path / "mirror"
    root.mkdir()
    with (
        locked(root.resolve()),
        pytest.raises(CommandError, match="another mirror run is in progress"),
    ):
        call_command("mirror", str(root), stdout=io.StringIO())
    # Released: the next run goes through.
    assert not mirror_site(root, BASE_URL).failed


def test_manifest_error_inside_a_run_is_a_mirror_error(site, tmp_path, monkeypatch):
    def locked_database(*args: object, **kwargs: object) -> None:
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr("pressroom.portability.mirror.manifest.Manifest.commit", locked_database)
    with pytest.raises(MirrorError, match="database is locked"):
        mirror_site(tmp_path / "mirror", BASE_URL)


def _mirrored_media(root: Path) -> set[str]:
    media = root / settings.MEDIA_URL.strip("/")
    return {path.relative_to(root).as_posix() for path in media.rglob("*") if path.is_file()}


def test_replaced_photo_is_replaced_on_the_mirror_and_the_old_file_deleted(site, tmp_path):
    root = tmp_path / "mirror"
    mirror_site(root, BASE_URL)
    article = site["article"]
    page = root / "articles" / article.slug / "index.html"
    before_page = page.read_text()
    before_media = _mirrored_media(root)
    assert before_media

    item = MediaItem.objects.get(pk=site["media"].pk)
    replace_item_file(item, _png((10, 90, 200)), "harbour-blurred.png")
    summary = mirror_site(root, BASE_URL)
    assert not summary.failed
    after_page = page.read_text()
    assert after_page != before_page
    after_media = _mirrored_media(root)
    # The old photo's files are gone from the mirror, the new ones are there and linked.
    old_only = before_media - after_media
    assert old_only
    assert not any(f'/{path}"' in after_page for path in old_only)
    new = after_media - before_media
    assert new
    assert any(f"/{path}" in after_page for path in new)
    # And the teasers listing it (the front page shows the lead image) moved with it.
    assert all(f"/{path}" not in (root / "index.html").read_text() for path in old_only)


class Killed(BaseException):
    """Stands for the process being killed: nothing after it runs, no commit."""


def test_a_file_written_by_a_killed_run_is_deleted_when_its_page_goes(site, tmp_path, monkeypatch):
    root = tmp_path / "mirror"
    article = Article.objects.published().order_by("id").last()
    assert article is not None
    wanted = root.resolve() / "articles" / article.slug / "index.html"
    replace = os.replace

    def replace_then_die(source: str, destination: Path) -> None:
        replace(source, destination)
        if Path(destination) == wanted:
            raise Killed

    # Killed right after the article's file is in place: the manifest's connection closes
    # without committing what was not committed yet, as a killed process's would.
    monkeypatch.setattr("pressroom.portability.mirror.rendering.os.replace", replace_then_die)
    monkeypatch.setattr(
        "pressroom.portability.mirror.manifest.Manifest.close",
        lambda manifest: manifest.database.close(),
    )
    with pytest.raises(Killed):
        mirror_site(root, BASE_URL)
    assert wanted.exists()
    monkeypatch.undo()

    Article.objects.filter(pk=article.pk).update(status=Article.Status.DRAFT)
    summary = mirror_site(root, BASE_URL)
    assert not summary.failed
    assert not wanted.exists()


def test_a_setting_only_article_pages_show_renders_them_again(site, tmp_path, settings):
    settings.REPUBLISH_LICENCE = ""
    root = tmp_path / "mirror"
    mirror_site(root, BASE_URL)
    # One of our own (a republished piece offers no republication).
    article = (
        Article.objects.published().filter(original_outlet="", original_url="").order_by("id")
    ).first()
    assert article is not None
    page = root / "articles" / article.slug / "index.html"
    assert "CC BY-ND 4.0" not in page.read_text()

    settings.REPUBLISH_LICENCE = "CC BY-ND 4.0"
    summary = mirror_site(root, BASE_URL)
    assert summary.full
    assert "CC BY-ND 4.0" in page.read_text()


def test_absolute_links_to_the_digest_signup_stay_on_the_live_site(settings):
    rewriter = Rewriter(BASE_URL)
    text = (
        f'<a href="{settings.SITE_URL}/digest/">sign up</a> '
        f'"{settings.SITE_URL}/digest/archive/" <link>{settings.SITE_URL}/digest/</link>'
    )
    assert rewriter.text(text) == (
        f'<a href="{settings.SITE_URL}/digest/">sign up</a> '
        f'"{BASE_URL}/digest/archive/" <link>{settings.SITE_URL}/digest/</link>'
    )


def test_an_edit_during_a_run_is_not_drawn_from_parts_kept_before_it(site, settings):
    # As mirror_site renders: past the page cache's middleware.
    settings.MIDDLEWARE = [name for name in settings.MIDDLEWARE if "pagecache" not in name]
    renderer = Renderer()
    article = Article.objects.published().order_by("-published_at", "-id").first()
    assert article is not None
    topic = article.topics.order_by("id").first()
    assert topic is not None
    status, listing, _ = renderer.get(topic.get_absolute_url())
    assert status == 200
    assert article.title in listing.decode()
    # Saved while the run goes on: the save bumps the generation once it commits.
    Article.objects.filter(pk=article.pk).update(title="Retitled while the mirror ran")
    forget_cached_pages()
    status, listing, _ = renderer.get(topic.get_absolute_url())
    assert status == 200
    assert "Retitled while the mirror ran" in listing.decode()
    # Nowhere the old title: not in the teaser's markup kept from the first render either.
    assert article.title not in listing.decode()


def test_a_renamed_articles_old_address_sends_readers_on(site, tmp_path):
    from pressroom.publishing.services import save_article

    root = tmp_path / "mirror"
    mirror_site(root, BASE_URL)
    article = Article.objects.published().order_by("id").first()
    assert article is not None
    old_slug = article.slug
    article.slug = "a-new-address-for-the-story"
    save_article(article, require_alt_text=False)
    summary = mirror_site(root, BASE_URL)
    assert not summary.failed
    new = f"{BASE_URL}/articles/a-new-address-for-the-story/"
    assert (root / "articles/a-new-address-for-the-story/index.html").exists()
    moved = (root / "articles" / old_slug / "index.html").read_text()
    assert f'<link rel="canonical" href="{new}">' in moved
    assert f'<meta http-equiv="refresh" content="0; url={new}">' in moved
    # Renamed back: the old address is the article's page again, not a redirect.
    article.slug = old_slug
    save_article(article, require_alt_text=False)
    mirror_site(root, BASE_URL)
    assert "http-equiv" not in (root / "articles" / old_slug / "index.html").read_text()


def test_a_sent_digest_the_archive_page_no_longer_lists_stays_mirrored(site, tmp_path, monkeypatch):
    from pressroom.newsletter.models import Digest
    from pressroom.newsletter.tests.conftest import build_digest

    digest, _ = build_digest()
    assert digest is not None
    Digest.objects.filter(pk=digest.pk).update(status=Digest.Status.SENT)
    # The archive page lists the newest 100 only: as if this one were older than them.
    monkeypatch.setattr(
        "pressroom.portability.mirror.run.DIGEST_PAGE", re.compile("listed-nowhere")
    )
    root = tmp_path / "mirror"
    assert not mirror_site(root, BASE_URL).failed
    page = root / digest.get_absolute_url().strip("/") / "index.html"
    assert page.exists()
    assert digest.subject in page.read_text()


def test_drafts_and_scheduled_articles_are_left_out(site, tmp_path):
    from datetime import timedelta

    from django.utils import timezone

    from pressroom.publishing.services import save_article, unpublish_article

    draft, scheduled = Article.objects.published().order_by("id")[:2]
    unpublish_article(draft)
    scheduled.published_at = timezone.now() + timedelta(days=2)
    save_article(scheduled, require_alt_text=False)
    root = tmp_path / "mirror"
    assert not mirror_site(root, BASE_URL).failed
    everything = "".join(
        path.read_text() for path in root.rglob("*") if path.suffix in (".html", ".xml")
    )
    for article in (draft, scheduled):
        assert not (root / "articles" / article.slug).exists()
        assert f"/articles/{article.slug}/" not in everything


def test_temporary_files_a_killed_run_left_are_removed_by_the_next(site, tmp_path):
    root = tmp_path / "mirror"
    mirror_site(root, BASE_URL)
    leftover = root / "topics" / ".mirror-abc123"
    leftover.write_text("half a page")
    # A finished run leaves no mark: the next one does not walk the mirror.
    mirror_site(root, BASE_URL)
    assert leftover.exists()
    # A killed one does.
    with sqlite3.connect(root / MANIFEST_NAME) as database:
        database.execute("UPDATE meta SET value = '1' WHERE key = 'running'")
    assert not mirror_site(root, BASE_URL).failed
    assert not leftover.exists()
