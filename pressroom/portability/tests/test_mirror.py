"""`pressroom mirror OUTDIR`: the public site as plain files, served by nginx and crawled."""

from __future__ import annotations

import hashlib
import io
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.utils import timezone

from pressroom.newsletter.models import Digest
from pressroom.newsletter.tests.conftest import build_digest
from pressroom.portability.mirror import MANIFEST_NAME, is_live_only, mirror_site
from pressroom.portability.tests.crawling import LAST_BUILD, crawl
from pressroom.publishing.models import Article, ArticleAuthor, ArticleTopic, Author, Topic
from pressroom.publishing.services import save_article, unpublish_article
from tests.ports import free_port

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
PER_PAGE = 3


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """nginx serving a folder as any static host would (loopback only): (base URL, folder)."""
    root = tmp_path / "mirror"
    root.mkdir()
    work = tmp_path / "nginx"
    (work / "temp").mkdir(parents=True)
    port = free_port()
    user = "user root;" if os.geteuid() == 0 else ""
    (work / "nginx.conf").write_text(
        f"""{user}
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/error.log warn;
events {{ worker_connections 64; }}
http {{
    include /etc/nginx/mime.types;
    access_log off;
    client_body_temp_path {work}/temp/body;
    proxy_temp_path {work}/temp/proxy;
    fastcgi_temp_path {work}/temp/fastcgi;
    uwsgi_temp_path {work}/temp/uwsgi;
    scgi_temp_path {work}/temp/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        index index.html index.xml;
    }}
}}
"""
    )
    process = subprocess.Popen(
        [NGINX, "-p", str(work), "-c", str(work / "nginx.conf"), "-g", "daemon off;"],
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert process.poll() is None, "nginx exited at start-up"
            assert time.monotonic() < deadline, "nginx did not start"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}", root
    finally:
        process.terminate()
        process.wait(timeout=10)


class _Links(HTMLParser):
    """The addresses a browser would fetch or follow: a, link, img (srcset too), source,
    script."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in ("a", "link") and values.get("href"):
            self.links.append(values["href"] or "")
        if tag in ("img", "script", "source") and values.get("src"):
            self.links.append(values["src"] or "")
        if tag in ("img", "source") and values.get("srcset"):
            self.links += [part.split()[0] for part in (values["srcset"] or "").split(",")]


def crawl_mirror(base_url: str) -> dict[str, int]:
    """Every internal address reachable from the mirror's home page: path -> status."""
    seen: dict[str, int] = {}
    queue = deque(["/"])
    while queue:
        path = queue.popleft()
        if path in seen:
            continue
        try:
            with urllib.request.urlopen(base_url + path, timeout=10) as response:  # noqa: S310
                status, body = response.status, response.read()
                content_type = response.headers.get("Content-Type", "")
        except urllib.error.HTTPError as error:
            seen[path] = error.code
            continue
        seen[path] = status
        if not content_type.startswith("text/html"):
            continue
        parser = _Links()
        parser.feed(body.decode())
        for link in parser.links:
            absolute = urljoin(base_url + path, link)
            if not absolute.startswith(base_url + "/"):
                continue  # the live site (forms) or elsewhere
            parts = urlsplit(absolute)
            assert not parts.query, f"{path} links to {link} with a query string"
            queue.append(parts.path)
    return seen


def _listing_page_count(articles: int) -> int:
    return max(1, math.ceil(articles / PER_PAGE))


def _files(root: Path) -> dict[str, tuple[int, str]]:
    """Every file of the mirror but the manifest: relative path -> (mtime_ns, sha256)."""
    found = {}
    for path in root.rglob("*"):
        if path.is_file() and not path.name.startswith(MANIFEST_NAME):
            found[path.relative_to(root).as_posix()] = (
                path.stat().st_mtime_ns,
                hashlib.sha256(path.read_bytes()).hexdigest(),
            )
    return found


@pytest.fixture
def mirror_settings(settings, demo_site):
    settings.ARTICLES_PER_PAGE = PER_PAGE
    return demo_site


def test_mirror_served_by_nginx_has_every_public_page_and_every_link_resolves(
    mirror_settings, nginx
):
    base_url, root = nginx
    digest, _ = build_digest()
    assert digest is not None
    Digest.objects.filter(pk=digest.pk).update(status=Digest.Status.SENT)
    summary = mirror_site(root, base_url)
    assert not summary.failed

    found = crawl_mirror(base_url)
    broken = {path: status for path, status in found.items() if status != 200}
    assert broken == {}
    assert len(found) > 50

    # Every page the live site's sitemaps list is in the mirror (with the mirror's address).
    now = timezone.now()
    listed = []
    for section in ("articles", "topics", "authors", "pages"):
        sitemap = (root / f"sitemap-{section}.xml").read_text()
        listed += [urlsplit(loc).path for loc in re.findall(r"<loc>([^<]*)</loc>", sitemap)]
        assert f"<loc>{settings.SITE_URL}/" not in sitemap
    published = {article.get_absolute_url() for article in Article.objects.published(now)}
    assert published <= set(listed)
    for path in listed:
        assert path in found, f"{path} is not reachable in the mirror"

    # The digest archive and the digests it lists are pages like any other.
    assert "/digest/archive/" in found
    assert digest.get_absolute_url() in found

    # Every page of every archive: the front page's, each topic's and each author's.
    home_pages = _listing_page_count(Article.objects.published(now).count())
    assert f"/page/{home_pages}/" in found
    assert f"/page/{home_pages + 1}/" not in found
    for topic in Topic.objects.all():
        count = ArticleTopic.objects.filter(topic=topic, is_public=True, published_at__lte=now)
        pages = _listing_page_count(count.count())
        path = topic.get_absolute_url()
        assert (f"{path}page/{pages}/" if pages > 1 else path) in found
        assert f"{path}page/{pages + 1}/" not in found
    for author in Author.objects.all():
        count = ArticleAuthor.objects.filter(author=author, is_public=True, published_at__lte=now)
        pages = _listing_page_count(count.count())
        if pages > 1:
            assert f"{author.get_absolute_url()}page/{pages}/" in found

    # And every page a reader reaches on the live site from its home page, but the forms.
    for path, (status, _) in crawl().items():
        if status != 200 or is_live_only(path):
            continue
        if path.endswith(("/feed/", "/feed/atom/")):
            path += "index.xml"
        assert path in found or (root / path.lstrip("/")).exists(), f"{path} missing"

    # Feeds and sitemaps are files with an extension a static host types, with the mirror's
    # addresses; forms post to the live site.
    with urllib.request.urlopen(base_url + "/feed/index.xml") as response:  # noqa: S310
        assert response.headers["Content-Type"].startswith("text/xml")
        feed = response.read().decode()
    assert f"<link>{base_url}/</link>" in feed
    assert f"Sitemap: {base_url}/sitemap.xml" in (root / "robots.txt").read_text()
    home = (root / "index.html").read_text()
    assert f'action="{settings.SITE_URL}/digest/"' in home
    assert f'href="{settings.SITE_URL}/search/"' in home
    # The lead image's renditions the pages link to were copied.
    media = [path for path in found if path.startswith(settings.MEDIA_URL)]
    assert media


def test_second_run_rewrites_the_changed_article_and_the_pages_listing_it_only(
    mirror_settings, tmp_path
):
    root = tmp_path / "mirror"
    base_url = "https://mirror.example.org"
    mirror_site(root, base_url)
    before = _files(root)

    # Nothing changed: nothing rendered but the few pages without one source, nothing written.
    summary = mirror_site(root, base_url)
    assert summary.written == 0
    assert summary.rendered < summary.skipped / 10
    assert _files(root) == before

    # One article retitled (an old one: it is on one topic page and one author page, not on
    # the front page's first page nor in the related articles).
    article = Article.objects.published().order_by("published_at", "id")[PER_PAGE * 2]
    article.title = "A retitled story for the mirror"
    save_article(article, require_alt_text=False)
    summary = mirror_site(root, base_url)
    after = _files(root)
    rewritten = {path for path in after if after[path][0] != before.get(path, (0, ""))[0]}
    changed = {path for path in after if after[path][1] != before.get(path, (0, ""))[1]}
    assert rewritten == changed
    article_file = f"articles/{article.slug}/index.html"
    assert article_file in rewritten
    listing = [
        path for path in rewritten if path.startswith(("topics/", "authors/", "archive/", "page/"))
    ]
    assert listing, rewritten
    for path in listing:
        assert "A retitled story for the mirror" in (root / path).read_text()
    # Far fewer pages were rendered than the site has.
    assert summary.rendered < len(after) / 4

    # An article unpublished: its file is deleted, the pages that listed it are rewritten.
    gone = Article.objects.published().order_by("published_at", "id")[0]
    unpublish_article(gone)
    summary = mirror_site(root, base_url)
    assert not (root / f"articles/{gone.slug}/index.html").exists()
    assert summary.deleted >= 1

    # And the incremental mirror is the mirror a fresh run writes, file for file.
    fresh = tmp_path / "fresh"
    mirror_site(fresh, base_url)
    assert _contents(root) == _contents(fresh)


def _contents(root: Path) -> dict[str, bytes]:
    """The mirror's files, but the time a feed without items was built (it is the time of the
    request: Django's Feed)."""
    return {
        path: LAST_BUILD.sub(b"<lastBuildDate/>", (root / path).read_bytes())
        for path in _files(root)
    }


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--base-url", "ftp://mirror.example.org"], "must be an http:// or https:// address"),
        (["--base-url", "https://"], "must be an http:// or https:// address"),
        (["--base-url", "https://mirror.example.org/?x=1"], "without a query"),
    ],
)
def test_bad_base_url_is_refused_with_one_line(db, tmp_path, arguments, message):
    with pytest.raises(CommandError, match=message):
        call_command("mirror", str(tmp_path / "out"), *arguments, stdout=io.StringIO())
    assert not (tmp_path / "out").exists()


def test_output_that_is_a_file_or_cannot_be_made_is_refused(db, tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    with pytest.raises(CommandError, match="is a file, not a folder"):
        call_command("mirror", str(a_file), stdout=io.StringIO())
    assert a_file.read_text() == "not a folder"
    with pytest.raises(CommandError, match="cannot create /proc/pressroom-mirror"):
        call_command("mirror", "/proc/pressroom-mirror", stdout=io.StringIO())


def test_command_exits_non_zero_with_one_clear_line(tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    result = subprocess.run(
        [str(Path(sys.executable).parent / "pressroom"), "mirror", str(a_file)],
        capture_output=True,
        text=True,
        env={**os.environ, "PRESSROOM_DEV_SECRET": "1"},
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"CommandError: mirror failed: {a_file} is a file, not a folder"
    ]


def test_progress_is_shown(mirror_settings, tmp_path):
    out = io.StringIO()
    call_command("mirror", str(tmp_path / "out"), stdout=out)
    assert "mirror: rendering every page" in out.getvalue()
    assert "pages rendered" in out.getvalue()
    assert "Mirror written." in out.getvalue()
