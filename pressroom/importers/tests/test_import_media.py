"""An editor brings a WordPress site's media home: `import_wxr --media-dir` (a copy of
wp-content/uploads) or `--fetch-media` (downloads from the old site, served here by a local HTTP
server). Attachments become library items, posts point at them, old addresses lead to them."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from pressroom.importers.models import ImportedItem
from pressroom.importers.tests.media_samples import (
    OldSite,
    attachment_item,
    build_old_site,
    jpeg,
)
from pressroom.importers.tests.wxr_samples import small_export
from pressroom.media.models import MediaItem, MediaUse
from pressroom.media.tests.conftest import run_worker
from pressroom.media.tests.images import has_location_or_device
from pressroom.publishing.models import Article, LegacyPath

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


def import_wxr(path: Path, *args: str) -> str:
    out = StringIO()
    call_command("import_wxr", str(path), *args, stdout=out)
    return out.getvalue()


def summary_line(output: str, kind: str) -> str:
    return next(line for line in output.splitlines() if line.startswith(kind))


def item_named(name: str) -> MediaItem:
    return MediaItem.objects.get(original_name=name)


@pytest.fixture
def old_site(tmp_path) -> OldSite:
    return build_old_site(tmp_path / "old")


@pytest.fixture
def imported(old_site, django_capture_on_commit_callbacks) -> str:
    # What the import queues on commit (renditions) is queued, for the worker to run.
    with django_capture_on_commit_callbacks(execute=True):
        return import_wxr(old_site.export, "--media-dir", str(old_site.uploads))


def test_attachments_become_library_items_with_their_alt_text_and_captions(imported):
    # 12 attachments: 6 distinct good files (march twice, square twice), 4 not brought home.
    names = set(MediaItem.objects.values_list("original_name", flat=True))
    assert names == {
        *("march.jpg", "crowd-scaled.jpg", "square.jpg"),
        *("report.pdf", "interview.mp3", "clip.mp4"),
    }
    assert MediaItem.objects.count() == 6
    march = item_named("march.jpg")
    assert march.alt_text == "Miners marching into Lima"
    assert march.caption == "The march reached the city centre at noon."
    assert (march.width, march.height) == (800, 600)
    # The library's privacy rule holds for imported photos too: no GPS, no phone model.
    assert has_location_or_device(march.file.read()) == []
    assert item_named("report.pdf").kind == MediaItem.Kind.DOCUMENT
    assert item_named("interview.mp3").kind == MediaItem.Kind.AUDIO
    assert item_named("clip.mp4").kind == MediaItem.Kind.VIDEO
    assert summary_line(imported, "media") == (
        "media    created 6, updated 0, skipped 2 (already in the library (same file): 2), "
        "failed 4 (refused by the library: 2, not found in --media-dir: 1, "
        "refused: the path leaves the uploads folder: 1)"
    )
    records = ImportedItem.objects.filter(kind="attachment")
    assert records.count() == 8
    assert records.get(external_id="14").media_item == march  # the same bytes: one item


def test_media_not_brought_home_are_reported_by_name_and_reason(imported):
    problems = imported.split("media not brought home: 4\n", 1)[1]
    assert "2019/05/gone.jpg: not found in --media-dir" in problems
    assert "../secret.jpg: refused: the path leaves the uploads folder" in problems
    assert "not-a-photo.jpg: refused by the library — This is not an image" in problems
    assert "cut-short.jpg: refused by the library — The image is damaged or incomplete" in problems
    assert not MediaItem.objects.filter(original_name="secret.jpg").exists()


def test_featured_images_become_lead_images(imported):
    article = Article.objects.get(title="March on Lima")
    assert article.lead_image == item_named("march.jpg")
    assert article.lead_image_url == ""
    uses = MediaUse.objects.filter(object_id=article.pk)
    assert {(use.item.original_name, use.field) for use in uses} >= {
        ("march.jpg", "lead image"),
        ("march.jpg", "body"),
        ("crowd-scaled.jpg", "body"),
        ("square.jpg", "body"),
        ("report.pdf", "body"),
        ("interview.mp3", "body"),
        ("clip.mp4", "body"),
    }


def test_bodies_point_at_the_library_in_the_editors_blocks(imported):
    body = Article.objects.get(title="March on Lima").body
    march, crowd, square = (item_named(n) for n in ("march.jpg", "crowd-scaled.jpg", "square.jpg"))
    # A size WordPress made (photo-300x200.jpg) and a ?w= copy both lead to the library image,
    # with its own size (the page adds the renditions' srcset); an empty alt takes the library's.
    assert (
        f'<img src="{march.url}" alt="Miners marching into Lima" width="800" height="600">' in body
    )
    # [caption] is an image block with its caption; the link to the file follows it.
    assert (
        f'<figure><a href="{crowd.url}" rel="noopener noreferrer"><img src="{crowd.url}" '
        f'alt="Crowd" width="1200" height="800"></a><figcaption>The crowd, at noon.</figcaption>'
        "</figure>" in body
    )
    # [gallery] gives one image block per image, with the attachment's caption.
    assert (
        f'<figure><img src="{march.url}" alt="Miners marching into Lima" width="800" '
        f'height="600"><figcaption>The march reached the <em>city centre</em> at noon.'
        f'</figcaption></figure>\n<figure><img src="{square.url}" alt="" width="500" '
        'height="500"></figure>' in body
    )
    assert f'<audio controls="" src="{item_named("interview.mp3").url}"></audio>' in body
    assert f'<video controls="" src="{item_named("clip.mp4").url}"></video>' in body
    assert f'<a href="{item_named("report.pdf").url}"' in body
    # [embed] as before (click-to-load players are the editor's business).
    assert '<a href="https://www.youtube.com/watch?v=abc123"' in body
    # What did not come home keeps its old address; another site's file is not ours.
    assert 'src="https://old.example.org/news/wp-content/uploads/2019/05/gone.jpg"' in body
    assert 'src="https://elsewhere.example.net/2019/05/march.jpg"' in body
    assert body.count("wp-content/uploads") == 1


@pytest.mark.django_db(transaction=True)
def test_the_article_page_shows_library_images_with_their_renditions(imported, client):
    run_worker()
    article = Article.objects.get(title="March on Lima")
    page = client.get(article.get_absolute_url()).content.decode()
    march = item_named("march.jpg")
    assert page.count("<picture>") >= 3  # the lead image, the body image, the gallery's
    assert f"/renditions/{march.key}/" in page
    assert 'srcset="' in page
    assert 'type="image/webp"' in page


def test_a_rerun_reads_no_file_again_and_duplicates_nothing(old_site, imported, monkeypatch):
    before = (MediaItem.objects.count(), Article.objects.count(), LegacyPath.objects.count())
    body = Article.objects.get(title="March on Lima").body
    again = import_wxr(old_site.export, "--media-dir", str(old_site.uploads))
    assert "media    created 0, updated 0, skipped 8 (unchanged since the last import: 8)" in again
    assert "posts    created 0, updated 0, skipped 2" in again
    assert (MediaItem.objects.count(), Article.objects.count(), LegacyPath.objects.count()) == (
        before
    )
    # Without a media option the library is still what posts point at: nothing is undone.
    plain = import_wxr(old_site.export)
    assert "posts    created 0, updated 0, skipped 2" in plain
    assert Article.objects.get(title="March on Lima").body == body


def test_a_file_added_later_is_brought_home_on_the_next_run(old_site, imported):
    (old_site.uploads / "2019" / "05" / "gone.jpg").write_bytes(jpeg(300, 200, seed=8))
    again = import_wxr(old_site.export, "--media-dir", str(old_site.uploads))
    assert "media not brought home: 3" in again
    assert "posts    created 0, updated 1, skipped 1" in again
    assert "wp-content/uploads" not in Article.objects.get(title="March on Lima").body


def test_old_upload_addresses_and_attachment_pages_redirect(imported, client):
    march, square = item_named("march.jpg"), item_named("square.jpg")
    article = Article.objects.get(title="March on Lima")
    uploads = "/news/wp-content/uploads/2019/05"
    for old, new in [
        (f"{uploads}/march.jpg", march.url),
        (f"{uploads}/march.jpg?w=640", march.url),
        (f"{uploads}/march-300x225.jpg", march.url),  # no rendition made yet: the original
        (f"{uploads}/crowd.jpg", item_named("crowd-scaled.jpg").url),
        (f"{uploads}/crowd-1024x683.jpg", item_named("crowd-scaled.jpg").url),
        (f"{uploads}/report.pdf", item_named("report.pdf").url),
        ("/news/2020/03/04/1/march/", article.get_absolute_url()),  # attachment page
        ("/news/?attachment_id=11", article.get_absolute_url()),
        ("/news/unattached/", square.url),  # attached to no post: the file
    ]:
        response = client.get(old)
        assert response.status_code == 301, old
        assert response["Location"] == new, old
    assert client.get(f"{uploads}/gone.jpg").status_code == 404
    assert client.get(march.url).status_code == 200


# The real task worker closes its database connections: these tests commit for real.
@pytest.mark.django_db(transaction=True)
def test_renditions_are_left_to_the_task_worker(imported, client):
    from django_tasks_db.models import DBTaskResult

    march = item_named("march.jpg")
    assert march.renditions.count() == 0
    queued = DBTaskResult.objects.filter(task_path="pressroom.media.tasks.make_renditions")
    assert queued.count() == 3  # the three images, once each
    run_worker()
    assert march.renditions.count() > 0
    # Once the worker made them, a size WordPress made leads to the nearest rendition.
    response = client.get("/news/wp-content/uploads/2019/05/march-300x225.jpg")
    assert response.status_code == 301
    assert f"/renditions/{march.key}/" in response["Location"]
    assert "-w320-" in response["Location"]


def test_a_dry_run_stores_nothing(old_site, media_root):
    output = import_wxr(old_site.export, "--media-dir", str(old_site.uploads), "--dry-run")
    assert "media not brought home: 4" in output
    assert "media    created 6, updated 0, skipped 2" in output
    assert MediaItem.objects.count() == 0
    assert not media_root.exists() or not any(media_root.rglob("*.*"))


def test_a_media_folder_that_is_not_one_is_one_clear_line(old_site):
    with pytest.raises(CommandError, match="is not a folder"):
        import_wxr(old_site.export, "--media-dir", str(old_site.uploads / "nowhere"))
    with pytest.raises(CommandError):
        import_wxr(old_site.export, "--media-dir", str(old_site.uploads), "--fetch-media")


# --fetch-media, from a local HTTP server ----------------------------------------------------------


class UploadsHandler(SimpleHTTPRequestHandler):
    user_agents: list[str] = []

    def do_GET(self) -> None:
        self.user_agents.append(self.headers.get("User-Agent", ""))
        super().do_GET()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def old_server(tmp_path) -> Iterator[tuple[OldSite, list[str]]]:
    """The old site's document root (wp-content/uploads under news/) served on loopback."""
    root = tmp_path / "docroot"
    handler = type("Handler", (UploadsHandler,), {"user_agents": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(root)))
    base = f"http://127.0.0.1:{server.server_address[1]}/news"
    site = build_old_site(tmp_path / "old", base=base)
    (root / "news" / "wp-content").mkdir(parents=True)
    site.uploads.rename(root / "news" / "wp-content" / "uploads")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield site, handler.user_agents
    server.shutdown()
    server.server_close()


def test_fetch_media_downloads_each_attachment_through_the_outbound_helper(old_server, settings):
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = True
    settings.OUTBOUND_RETRIES = 0
    site, user_agents = old_server
    output = import_wxr(site.export, "--fetch-media")
    assert MediaItem.objects.count() == 6
    # gone.jpg, sneaky.jpg and unattached.jpg are not on the old server.
    assert "not found at its URL: 3" in summary_line(output, "media")
    assert "refused by the library: 2" in summary_line(output, "media")
    assert item_named("march.jpg").alt_text == "Miners marching into Lima"
    article = Article.objects.get(title="March on Lima")
    assert article.lead_image == item_named("march.jpg")
    assert all(agent.startswith("Pressroom (") for agent in user_agents)
    assert len(user_agents) == 12  # each address once
    again = import_wxr(site.export, "--fetch-media")
    assert len(user_agents) == 12 + 5  # only what failed is asked for again
    assert "media    created 0" in again
    assert MediaItem.objects.count() == 6


def test_fetch_media_refuses_private_addresses_unless_allowed(old_server, settings):
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = False
    site, user_agents = old_server
    output = import_wxr(site.export, "--fetch-media")
    assert MediaItem.objects.count() == 0
    assert user_agents == []
    assert "download failed: 12" in summary_line(output, "media")
    assert "resolves to an address that is not public" in output
    # Posts still come across, pointing at the old addresses.
    assert Article.objects.count() == 2


class TroubledUploadsHandler(UploadsHandler):
    """The old site as it often is: slow (each answer takes `delay`), and with `trouble` for
    the first requests of some files ("503", "502", or "reset": the connection closed without
    an answer). Counts the requests waiting for their answer at once."""

    delay = 0.0
    trouble: dict[str, list[str]] = {}
    hits: dict[str, int] = {}
    in_flight = 0
    peak = 0
    lock = threading.Lock()

    def do_GET(self) -> None:
        cls = type(self)
        name = self.path.rsplit("/", 1)[-1]
        with cls.lock:
            cls.hits[name] = cls.hits.get(name, 0) + 1
            planned = cls.trouble.get(name, [])
            now = planned[cls.hits[name] - 1] if cls.hits[name] <= len(planned) else ""
            cls.in_flight += 1
            cls.peak = max(cls.peak, cls.in_flight)
        time.sleep(cls.delay)
        # Counted until the answer starts: from then on the client may already send the next.
        with cls.lock:
            cls.in_flight -= 1
        if now == "reset":
            self.close_connection = True
            return
        if now:
            self.send_error(int(now))
            return
        super().do_GET()


@pytest.fixture
def troubled_server(tmp_path) -> Iterator[tuple[OldSite, type[TroubledUploadsHandler]]]:
    root = tmp_path / "docroot"
    handler = type(
        "Handler",
        (TroubledUploadsHandler,),
        {"user_agents": [], "hits": {}, "trouble": {}, "lock": threading.Lock()},
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(root)))
    server.daemon_threads = True
    base = f"http://127.0.0.1:{server.server_address[1]}/news"
    site = build_old_site(tmp_path / "old", base=base)
    (root / "news" / "wp-content").mkdir(parents=True)
    site.uploads.rename(root / "news" / "wp-content" / "uploads")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield site, handler
    server.shutdown()
    server.server_close()


def test_fetch_media_downloads_a_few_at_a_time_never_more(troubled_server, settings):
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = True
    settings.OUTBOUND_PARALLEL_DOWNLOADS = 3
    site, handler = troubled_server
    handler.delay = 0.3  # long enough for downloads to overlap
    import_wxr(site.export, "--fetch-media")
    assert MediaItem.objects.count() == 6
    assert handler.peak == 3  # in parallel, and bounded by the setting


def test_fetch_media_retries_server_errors_and_dropped_connections(troubled_server, settings):
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = True
    settings.OUTBOUND_RETRIES = 2
    settings.OUTBOUND_RETRY_BACKOFF = 0.01
    site, handler = troubled_server
    handler.trouble = {
        "march.jpg": ["503", "502"],  # fine on the third try
        "square.jpg": ["reset"],  # the connection dropped once
        "report.pdf": ["503", "503", "503"],  # still failing after the retries
    }
    output = import_wxr(site.export, "--fetch-media")
    assert handler.hits["march.jpg"] == 3
    assert handler.hits["square.jpg"] == 2
    assert handler.hits["report.pdf"] == 3  # one try and two retries, then it is reported
    assert item_named("march.jpg").alt_text == "Miners marching into Lima"
    assert MediaItem.objects.filter(original_name="square.jpg").exists()
    assert not MediaItem.objects.filter(original_name="report.pdf").exists()
    assert "report.pdf: download failed — HTTP 503" in output
    # Run again once the server is well: only what failed is asked for again, and comes home.
    handler.trouble = {}
    import_wxr(site.export, "--fetch-media")
    assert handler.hits["report.pdf"] == 4
    assert handler.hits["march.jpg"] == 3
    assert MediaItem.objects.filter(original_name="report.pdf").exists()


def test_fetch_media_refuses_files_over_the_upload_limit_while_downloading(
    troubled_server, settings, tmp_path
):
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = True
    settings.MEDIA_MAX_UPLOAD_BYTES = 20_000
    site, _ = troubled_server
    sizes = {path.name: path.stat().st_size for path in (tmp_path / "docroot").rglob("*.*")}
    assert sizes["march.jpg"] > 20_000
    assert sizes["crowd-scaled.jpg"] > 20_000
    assert sizes["square.jpg"] < 20_000
    output = import_wxr(site.export, "--fetch-media")
    for name in ("march.jpg", "crowd-scaled.jpg"):
        assert re.search(
            rf"{name}: download failed — .*(announced \d+ bytes; the limit is 20000|larger than)",
            output,
        ), output
        assert not MediaItem.objects.filter(original_name=name).exists()
    assert set(MediaItem.objects.values_list("original_name", flat=True)) == {
        "square.jpg",
        "report.pdf",
        "interview.mp3",
        "clip.mp4",
    }


def test_check_legacy_urls_walks_uploads_and_attachment_pages_once_media_are_home(
    old_site, imported
):
    out = StringIO()
    with pytest.raises(CommandError, match="old addresses are broken"):
        call_command("check_legacy_urls", str(old_site.export), stdout=out)
    table = out.getvalue()
    assert re.search(r"\nupload +12 +8 +4\n", table), table
    assert re.search(r"\nupload \(a size WordPress made\) +9 +5 +4\n", table), table
    assert re.search(r"\nattachment page +14 +10 +4\n", table), table
    # What is broken is what the import reported as not brought home.
    for name in ("not-a-photo", "cut-short", "gone", "sneaky"):
        assert f"broken: /news/wp-content/uploads/2019/05/{name}.jpg (answers 404)" in table


def test_check_legacy_urls_leaves_uploads_alone_when_media_stayed_on_the_old_site(old_site):
    import_wxr(old_site.export)
    out = StringIO()
    call_command("check_legacy_urls", str(old_site.export), stdout=out)  # /news/?s= too
    assert "Every old address resolves." in out.getvalue()
    assert "35 upload and attachment addresses not checked: the media were not imported" in (
        out.getvalue()
    )
    assert "\nupload" not in out.getvalue()
    assert "\nattachment page" not in out.getvalue()


def test_a_symbolic_link_out_of_the_uploads_folder_is_refused(tmp_path):
    uploads = tmp_path / "uploads"
    (uploads / "2019").mkdir(parents=True)
    (tmp_path / "private.jpg").write_bytes(jpeg(64, 64))
    (uploads / "2019" / "link.jpg").symlink_to(tmp_path / "private.jpg")
    export = tmp_path / "export.xml"
    url = "https://old.example.org/news/wp-content/uploads/2019/link.jpg"
    export.write_bytes(small_export(attachment_item(5, url)))
    output = import_wxr(export, "--media-dir", str(uploads))
    assert "2019/link.jpg: refused: the path leaves the uploads folder" in output
    assert MediaItem.objects.count() == 0


def test_the_import_shows_its_progress_through_the_media(old_site):
    errors = StringIO()
    call_command(
        "import_wxr",
        str(old_site.export),
        "--media-dir",
        str(old_site.uploads),
        "--progress",
        stdout=StringIO(),
        stderr=errors,
    )
    assert "media 12/12" in errors.getvalue()
    assert "100%" in errors.getvalue()
