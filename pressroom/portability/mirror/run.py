"""A run of the mirror: render what changed, write what differs, delete what is gone."""

from __future__ import annotations

import fcntl
import functools
import hashlib
import itertools
import os
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.core.files.storage import default_storage
from django.test.utils import override_settings
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from pressroom.newsletter.models import Digest
from pressroom.portability.mirror.common import (
    DIGEST_PAGE,
    FORMAT_VERSION,
    LOC,
    MANIFEST_NAME,
    PROGRESS_EVERY,
    MirrorError,
    Summary,
    Target,
    _digest,
    check_base_url,
    check_output,
)
from pressroom.portability.mirror.manifest import Manifest
from pressroom.portability.mirror.planning import plan
from pressroom.portability.mirror.rendering import (
    Renderer,
    Rewriter,
    output_file,
    redirect_page,
    write_atomically,
    write_if_changed,
)
from pressroom.publishing.models import (
    Author,
    Topic,
)

# Settings pages other than the topics' list show (an article's republication panel, its
# social image and language): a change renders every page again.
PAGE_SETTINGS = (
    "REPUBLISH_LICENCE",
    "REPUBLISH_LICENCE_URL",
    "SITE_NAME",
    "SITE_DESCRIPTION",
    "SITE_LANGUAGE",
    "LANGUAGES",
    "ORGANIZATION_NAME",
    "SOCIAL_IMAGE_DEFAULT_URL",
    "SOCIAL_IMAGE_DEFAULT_ALT",
    "EXCERPT_WORDS",
    "MEDIA_URL",
    "STATIC_URL",
    "MEDIA_RENDITION_WIDTHS",
    "MEDIA_AVIF",
    "EMBED_HOSTS",
)

# --- the run ------------------------------------------------------------------------------------


def site_fingerprint(renderer: Renderer, base_url: str) -> str:
    """What every page shows: the chrome (settings, menus, banner, theme, static files' names,
    topics in the navigation) as the topics' list draws it, the topics and authors themselves,
    the settings pages are drawn with, and the mirror's own format and address."""
    status, body, _ = renderer.get(reverse("publishing:topic-list"))
    manifest = Path(settings.STATIC_ROOT) / "staticfiles.json"
    topics = list(Topic.objects.order_by("id").values_list())
    authors = list(Author.objects.order_by("id").values_list())
    return _digest(
        FORMAT_VERSION,
        base_url,
        settings.SITE_URL,
        settings.ARTICLES_PER_PAGE,
        settings.FEED_ITEMS,
        settings.TIME_ZONE,
        [getattr(settings, name, None) for name in PAGE_SETTINGS],
        status,
        hashlib.sha256(body).hexdigest(),
        manifest.read_bytes() if manifest.exists() else b"",
        topics,
        authors,
    )


def mirror_site(
    outdir: Path,
    base_url: str | None = None,
    *,
    full: bool = False,
    force: bool = False,
    progress: Callable[[str], None] = lambda line: None,
) -> Summary:
    """Write the public site into `outdir` (see the module's docstring)."""
    base = check_base_url(base_url or settings.SITE_URL)
    outdir = check_output(outdir, force=force)
    with locked(outdir):
        try:
            return _run(outdir, base, full, progress)
        except sqlite3.Error as error:
            raise MirrorError(
                f"the manifest {outdir / MANIFEST_NAME} is unusable: {error}"
            ) from None


@contextmanager
def locked(outdir: Path) -> Iterator[None]:
    """One run at a time per OUTDIR: the folder itself is locked (no lock file to serve)."""
    descriptor = os.open(outdir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise MirrorError(f"another mirror run is in progress in {outdir}") from None
        yield
    finally:
        os.close(descriptor)


def _run(outdir: Path, base: str, full: bool, progress: Callable[[str], None]) -> Summary:
    started = time.monotonic()
    summary = Summary()
    # Rendered as an anonymous reader, past the page cache: the mirror's pages are no reader's,
    # and keeping them would push the pages readers ask for out of the cache.
    middleware = [name for name in settings.MIDDLEWARE if "pagecache" not in name.lower()]
    with override_settings(MIDDLEWARE=middleware), closing(Manifest(outdir)) as manifest:
        if manifest.meta("running") == "1":
            # The last run was killed: its temporary files (served if left) go first.
            for leftover in outdir.rglob(".mirror-*"):
                if leftover.is_file() and not leftover.is_symlink():
                    leftover.unlink()
        manifest.set_meta("running", "1")
        manifest.commit()
        renderer = Renderer()
        rewriter = Rewriter(base)
        fingerprint = site_fingerprint(renderer, base)
        summary.full = full or manifest.meta("site") != fingerprint
        progress(
            "mirror: site-wide parts changed, rendering every page"
            if summary.full and manifest.meta("site") is not None
            else "mirror: rendering every page"
            if summary.full
            else "mirror: rendering the pages whose sources changed"
        )
        now = timezone.now()
        sitemap_sources: dict[str, str] = {}
        for target in plan(now, sitemap_sources, summary.failed):
            _mirror_one(target, outdir, manifest, renderer, rewriter, summary)
            handled = summary.rendered + summary.skipped
            if handled % PROGRESS_EVERY == 0:
                manifest.commit()
                progress(
                    f"mirror: {handled} pages ({summary.rendered} rendered, "
                    f"{summary.written} written) in {time.monotonic() - started:.1f} s"
                )
        _mirror_sitemaps(outdir, manifest, renderer, rewriter, summary, sitemap_sources)
        _mirror_digests(outdir, manifest, renderer, rewriter, summary)
        summary.deleted += _delete_stale(outdir, manifest, "page")
        summary.static_files = _copy_static(outdir, manifest, summary)
        summary.media_files = _copy_media(outdir, manifest, summary)
        if not summary.failed:
            # A run with failures renders everything next time, until one goes through.
            manifest.set_meta("site", fingerprint)
        manifest.set_meta("running", "0")
        manifest.commit()
    progress(
        f"mirror: {summary.rendered} pages rendered, {summary.written} written, "
        f"{summary.skipped} unchanged sources, {summary.deleted} deleted, "
        f"{summary.static_files} static and {summary.media_files} media files copied "
        f"in {time.monotonic() - started:.1f} s"
    )
    return summary


def _mirror_one(
    target: Target,
    outdir: Path,
    manifest: Manifest,
    renderer: Renderer,
    rewriter: Rewriter,
    summary: Summary,
) -> None:
    """One target; one the site holds bad data for (a slug that decodes to `..`, a body that
    is not UTF-8) is a failure of the run, named in its summary, never the end of it."""
    try:
        _mirror_target(target, outdir, manifest, renderer, rewriter, summary)
    except (MirrorError, NoReverseMatch, UnicodeError) as error:
        summary.failed.append(f"{target.address} ({error})")
        if manifest.get(target.output) is not None:
            manifest.keep(target.output)


def _mirror_target(
    target: Target,
    outdir: Path,
    manifest: Manifest,
    renderer: Renderer,
    rewriter: Rewriter,
    summary: Summary,
) -> None:
    known = manifest.get(target.output)
    if (
        not summary.full
        and known is not None
        and target.sources is not None
        and known[1] == target.sources
    ):
        manifest.keep(target.output)
        summary.skipped += 1
        return
    if target.redirect and target.output in manifest.seen:
        return  # an old address that is a mirrored page's too: the page wins, as live
    status, body, content_type = renderer.get(target.address)
    summary.rendered += 1
    if target.redirect:
        if status not in (301, 302, 307, 308) or not renderer.location:
            return  # gone (410) or no longer leading anywhere: no file, the last one deleted
        location = rewriter.address(renderer.location, None, "", set())
        body, content_type = redirect_page(location, rewriter.base_url).encode(), "text/html"
        status = 200
    if status == 404:
        # Gone since the plan was read (unpublished), or a part of the site switched off (no
        # republication policy): no file, and the last run's is deleted with the stale ones.
        return
    if status != 200:
        # One page the site cannot draw is no reason to stop; the run exits non-zero.
        summary.failed.append(f"{target.address} ({status})")
        if known is not None:
            manifest.keep(target.output)
        return
    path = output_file(outdir, target.output)
    media: set[str] = set()
    text = body.decode("utf-8")
    if content_type.startswith("text/html"):
        query = urlsplit(target.address).query
        text = rewriter.html(text, target.listing, query, media)
    else:
        text = rewriter.text(text)
        if target.output.startswith("/sitemap"):
            # The index's links to the sections' pages (?p=2) become the files written for them.
            text = LOC.sub(
                lambda match: f"<loc>{rewriter.address(match.group(1), None, '', media)}</loc>",
                text,
            )
    if known is None:
        manifest.announce(target.output, "page")
    digest, written = write_if_changed(path, text.encode("utf-8"), known[0] if known else None)
    summary.written += written
    summary.unchanged += not written
    manifest.record(target.output, "page", digest, target.sources, "\n".join(sorted(media)))


def _mirror_sitemaps(
    outdir: Path,
    manifest: Manifest,
    renderer: Renderer,
    rewriter: Rewriter,
    summary: Summary,
    sources: dict[str, str],
) -> None:
    """The sitemap index and every page of every section it lists (`?p=2` as `-p2.xml`): the
    articles' pages when their articles changed, the others (a few hundred lines) always."""
    index = reverse("sitemap")
    status, body, _ = renderer.get(index)
    if status != 200:
        summary.failed.append(f"{index} ({status})")
        return
    sections = [urlsplit(loc) for loc in LOC.findall(body.decode())]
    _mirror_one(Target(index, index, None), outdir, manifest, renderer, rewriter, summary)
    for section in sections:
        address = section.path + (f"?{section.query}" if section.query else "")
        output = rewriter.address(address, None, "", set())
        target = Target(address, output, sources.get(address))
        _mirror_one(target, outdir, manifest, renderer, rewriter, summary)


def _mirror_digests(
    outdir: Path, manifest: Manifest, renderer: Renderer, rewriter: Rewriter, summary: Summary
) -> None:
    """The sent digests and public emails the digest archive lists (rendered with it, in
    ALWAYS), and every sent one past them. A sent one never changes: rendered once, and again
    when the site-wide parts move."""
    archive = output_file(outdir, "/digest/archive/")
    if not archive.exists():
        return
    # Every sent one, not only the newest the archive page lists: a digest's page, linked from
    # its email ("view in your browser"), stays where it was.
    listed = DIGEST_PAGE.findall(archive.read_text())
    older = (digest.get_absolute_url() for digest in Digest.objects.archived().iterator())
    for address in dict.fromkeys(itertools.chain(listed, older)):
        _mirror_one(Target(address, address, "sent"), outdir, manifest, renderer, rewriter, summary)


def _delete_stale(outdir: Path, manifest: Manifest, kind: str) -> int:
    deleted = 0
    for stale in manifest.stale(kind):
        manifest.forget(stale)
        try:
            path = output_file(outdir, stale)
        except MirrorError:
            continue  # now behind a symbolic link: what it points to is not the mirror's
        path.unlink(missing_ok=True)
        deleted += 1
        # Leave no empty folders behind (a removed article's).
        folder = path.parent
        while folder != outdir:
            try:
                folder.rmdir()
            except OSError:
                break
            folder = folder.parent
    return deleted


def _copy_static(outdir: Path, manifest: Manifest, summary: Summary) -> int:
    """STATIC_ROOT under STATIC_URL (the admin's files left out): copied when new or changed."""
    root = Path(settings.STATIC_ROOT)
    copied = 0
    for source in sorted(root.rglob("*")):
        relative = source.relative_to(root).as_posix()
        if not source.is_file() or relative.startswith("admin/"):
            continue
        address = settings.STATIC_URL + relative
        stat = source.stat()
        sources = f"{stat.st_size}:{stat.st_mtime_ns}"
        known = manifest.get(address)
        try:
            target = output_file(outdir, address)
        except MirrorError as error:
            summary.failed.append(str(error))
            continue
        if known is not None and known[1] == sources and target.exists():
            manifest.keep(address)
            continue
        if known is None:
            manifest.announce(address, "static")
        with open(source, "rb") as original:
            write_atomically(target, functools.partial(shutil.copyfileobj, original))
        manifest.record(address, "static", "", sources, "")
        copied += 1
    _delete_stale(outdir, manifest, "static")
    return copied


def _copy_media(outdir: Path, manifest: Manifest, summary: Summary) -> int:
    """The media files the mirrored pages link to, from the storage (local or S3)."""
    copied = 0
    for address in sorted(set(manifest.linked_media())):
        known = manifest.get(address)
        try:
            target = output_file(outdir, address)
        except MirrorError as error:
            summary.failed.append(str(error))
            continue
        if known is not None and target.exists():
            manifest.keep(address)
            continue
        name = unquote(address[len(settings.MEDIA_URL) :])
        if known is None:
            manifest.announce(address, "media")
        try:
            with default_storage.open(name, "rb") as source:
                write_atomically(target, functools.partial(shutil.copyfileobj, source))
        except (OSError, ValueError):
            continue  # a link to a file the storage no longer has: the live site 404s too
        manifest.record(address, "media", "", name, "")
        copied += 1
    _delete_stale(outdir, manifest, "media")
    return copied
