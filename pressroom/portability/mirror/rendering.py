"""Rendering pages in process and rewriting their addresses for the mirror."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import uuid
from collections.abc import Callable
from html import escape
from pathlib import Path
from typing import IO
from urllib.parse import parse_qsl, unquote, urlsplit

from django.conf import settings
from django.test import Client

from pressroom.lib.pagecache.generation import generation_store, serving
from pressroom.portability.mirror.common import (
    ATTRIBUTE,
    LIVE_ONLY,
    LIVE_ONLY_EXACT,
    SITEMAP_SECTION,
    MirrorError,
    is_live_only,
)

# --- rendering and rewriting --------------------------------------------------------------------


class Renderer:
    """Renders live addresses in this process, as an anonymous reader over SITE_URL's host."""

    def __init__(self) -> None:
        site = urlsplit(settings.SITE_URL)
        self.client = Client(
            HTTP_HOST=site.netloc, raise_request_exception=False, headers={"accept": "*/*"}
        )
        self.secure = site.scheme == "https"
        # The parts of pages every page shares (header, banner, teasers, topics) are kept for
        # the run, as the page cache keeps them for a generation: a render costs a fraction.
        # A run of its own, so nothing kept before it (in a test's process) is used.
        self.generation = f"mirror-{uuid.uuid4().hex}"
        self.location = ""  # the last answer's Location (an old address's redirect)

    def get(self, address: str) -> tuple[int, bytes, str]:
        # With the site's generation read at each render: an edit saved during a long run
        # (it bumps the generation) is not drawn from parts kept before it.
        with serving(f"{self.generation}.{generation_store().current()}"):
            response = self.client.get(address, secure=self.secure)
        self.location = response.get("Location", "")
        body = (
            b"".join(response.streaming_content)  # type: ignore[attr-defined]
            if response.streaming
            else response.content
        )
        return response.status_code, body, response.get("Content-Type", "")


class Rewriter:
    """Turns a live page's addresses into the mirror's."""

    def __init__(self, base_url: str) -> None:
        self.site_url = settings.SITE_URL.rstrip("/")
        self.base_url = base_url
        live_only = "|".join(
            [re.escape(prefix[1:]) for prefix in LIVE_ONLY]
            # The digest's signup page, /digest/ exactly (its archive, below it, is mirrored).
            + [re.escape(path[1:]) + r"(?=[\"'<\s#]|$)" for path in LIVE_ONLY_EXACT]
        )
        # The site's own absolute addresses (JSON-LD, feeds, sitemaps, robots.txt) become the
        # mirror's, except those only the live site answers.
        self.absolute = re.compile(
            re.escape(self.site_url) + rf"(?!/(?:{live_only}))(?=[/\"'<\s]|$)"
        )
        self.feed_address = re.compile(
            re.escape(self.base_url) + r"(?:/[^\s\"'<>?#]*)?/feed/(?:atom/)?(?=[\"'<\s]|$)"
        )
        self.static_url = settings.STATIC_URL
        self.media_url = settings.MEDIA_URL

    def text(self, body: str) -> str:
        body = self.absolute.sub(lambda _: self.base_url, body)
        # Feeds' own addresses (a feed's self link, the pages' alternate links) get the file.
        return self.feed_address.sub(r"\g<0>index.xml", body)

    def html(
        self, body: str, listing: tuple[str, int] | None, own_query: str, media: set[str]
    ) -> str:
        body = self.text(body)

        def attribute(match: re.Match[str]) -> str:
            name, value = match.group("name").lower(), match.group("value")
            if name == "srcset":
                new = ", ".join(
                    " ".join([self.address(parts[0], listing, own_query, media), *parts[1:]])
                    for parts in (candidate.split() for candidate in value.split(","))
                    if parts
                )
            elif name == "content" and not value.startswith((self.base_url, self.site_url)):
                return match.group(0)  # a description, not an address
            else:
                new = self.address(value, listing, own_query, media)
            return f"{match.group('head')}{match.group('quote')}{new}{match.group('quote')}"

        return ATTRIBUTE.sub(attribute, body)

    def address(
        self, value: str, listing: tuple[str, int] | None, own_query: str, media: set[str]
    ) -> str:
        """The mirror's address for one address in a page (`value` as the page has it)."""
        prefix = ""
        rest = value
        for origin in (self.base_url, self.site_url):
            if value.startswith(origin + "/") or value == origin:
                prefix, rest = self.base_url, value[len(origin) :] or "/"
                break
        if listing is not None and rest.startswith("?"):
            rest = listing[0] + rest  # the pager's own-list links
        if not rest.startswith("/") or rest.startswith("//"):
            return value  # elsewhere, a fragment, mailto:
        parts = urlsplit(rest)
        path, query = parts.path, parts.query
        fragment = f"#{parts.fragment}" if parts.fragment else ""
        if is_live_only(path):
            return f"{self.site_url}{rest}"
        if path.startswith(self.static_url):
            return prefix + path + fragment
        if path.startswith(self.media_url):
            media.add(path)
            return prefix + path + fragment
        if path.endswith(("/feed/", "/feed/atom/")):
            return prefix + path + "index.xml" + fragment
        section = SITEMAP_SECTION.match(path)
        if section is not None:
            sitemap_page = dict(parse_qsl(query)).get("p", "1")
            if sitemap_page.isdigit() and int(sitemap_page) > 1:
                path = f"/sitemap-{section.group('section')}-p{int(sitemap_page)}.xml"
            return prefix + path + fragment
        if query and listing is not None and path == listing[0]:
            keys = dict(parse_qsl(query))
            number = listing[1]
            if query == own_query:
                pass
            elif "before" in keys:
                number += 1
            elif "after" in keys:
                number -= 1
            if number > 1:
                path = f"{path}page/{number}/"
        return prefix + path + fragment


def redirect_page(address: str, base_url: str) -> str:
    """What an old address is in the mirror (a static host cannot answer 301): a page that
    sends readers and crawlers on to `address` (the mirror's), its canonical link naming it."""
    absolute = escape(
        address if address.startswith(("http://", "https://")) else base_url + address
    )
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n  <meta charset="utf-8">\n'
        "  <title>This page has moved</title>\n"
        f'  <link rel="canonical" href="{absolute}">\n'
        f'  <meta http-equiv="refresh" content="0; url={absolute}">\n'
        '  <meta name="robots" content="noindex">\n</head>\n<body>\n'
        f'  <p>This page has moved to <a href="{absolute}">{absolute}</a>.</p>\n</body>\n</html>\n'
    )


def output_file(outdir: Path, output: str) -> Path:
    """The file for a mirror path; addresses come from the site's own URLconf, but a slug or
    a page's path that decodes to `..` must still not leave OUTDIR."""
    relative = unquote(output).lstrip("/")
    if output.endswith("/"):
        relative += "index.html"
    if any(part in ("", ".", "..") for part in relative.split("/")) or "\\" in relative:
        raise MirrorError(f"refusing to write outside the output folder: {output}")
    path = outdir / relative
    # A symlinked folder (or file) inside OUTDIR would send writes and deletions elsewhere,
    # e.g. into MEDIA_ROOT: what the path resolves to must stay in OUTDIR (itself resolved).
    if path.is_symlink() or not path.resolve().is_relative_to(outdir):
        raise MirrorError(f"refusing to write through a symbolic link: {output}")
    return path


def write_if_changed(path: Path, content: bytes, known: str | None) -> tuple[str, bool]:
    """Write `content` atomically unless the file holds it already; (sha256, written)."""
    digest = hashlib.sha256(content).hexdigest()[:32]
    if known == digest and path.exists():
        return digest, False
    write_atomically(path, lambda file: file.write(content))
    return digest, True


def write_atomically(path: Path, fill: Callable[[IO[bytes]], object]) -> None:
    """Fill a temporary file beside `path`, then rename it into place: a reader never sees
    half a file, and a file (or link) already at `path` is replaced, never opened and emptied
    (it may be the very file being copied). The temporary file goes if filling fails."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".mirror-", delete=False) as temporary:
        try:
            fill(temporary)
        except BaseException:
            temporary.close()
            os.unlink(temporary.name)
            raise
    os.chmod(temporary.name, 0o644)
    os.replace(temporary.name, path)
