"""The mirror's constants, input checks and the records its parts pass each other."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from pressroom.settings import refuse_code_directory

MANIFEST_NAME = ".pressroom-mirror.sqlite3"
# Bumped when what the mirror writes changes shape: the next run renders every page again.
FORMAT_VERSION = "1"
# Addresses only the live site answers: forms (search reads the index, signup and donations
# change state), the subscribers' own links, the admin and previews. Links to them go to
# SITE_URL. The digest's signup page is /digest/ exactly: its archive and sent digests below it
# are pages like any other, mirrored.
LIVE_ONLY = (
    "/search/",
    "/donate/",
    "/admin/",
    "/preview/",
    "/fundraising/",
    "/anymail/",
    "/digest/thanks/",
    "/digest/confirm/",
    "/digest/preferences/",
    "/digest/unsubscribe/",
)
LIVE_ONLY_EXACT = ("/digest/",)
# A sent digest or public email, linked from the digest archive: what it shows is stored with it.
DIGEST_PAGE = re.compile(r'href="(/digest/(?:\d{4}-\d{2}-\d{2}|email/\d+)/)"')
# Pages rendered on every run: one each, cheap, and what they show has no single source.
ALWAYS = (
    "/topics/",
    "/republish/",
    "/digest/archive/",
    "/robots.txt",
    "/manifest.webmanifest",
)
MAX_BASE_URL_LENGTH = 200
BASE_URL = re.compile(r"https?://[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::[0-9]{1,5})?/?")
PROGRESS_EVERY = 1000

ATTRIBUTE = re.compile(
    r"""(?P<head>\s(?P<name>href|src|srcset|action|content|poster)=)(?P<quote>["'])(?P<value>[^"']*)(?P=quote)""",
    re.IGNORECASE,
)
SITEMAP_SECTION = re.compile(r"^/sitemap-(?P<section>[-\w]+)\.xml$")
LOC = re.compile(r"<loc>([^<]*)</loc>")


class MirrorError(Exception):
    """Bad input or an output folder the mirror cannot use: one line for the operator."""


@dataclass
class Target:
    """One file of the mirror: which live address renders it, where it goes, and the
    fingerprint of what it shows (None: render on every run)."""

    address: str  # path, with the query the live site addresses it by
    output: str  # the mirror's path ("/topics/peru/page/2/", "/feed/index.xml")
    sources: str | None
    listing: tuple[str, int] | None = None  # (the list's path, page number) for a list's page
    redirect: bool = False  # an old address (LegacyPath): a page that sends readers on


@dataclass
class Summary:
    rendered: int = 0
    written: int = 0
    unchanged: int = 0
    skipped: int = 0
    deleted: int = 0
    failed: list[str] = field(default_factory=list)
    full: bool = False
    static_files: int = 0
    media_files: int = 0


def is_live_only(path: str) -> bool:
    return path.startswith(LIVE_ONLY) or path in LIVE_ONLY_EXACT


def check_base_url(value: str) -> str:
    """The mirror's own address, as `https://mirror.example.org` (no trailing slash)."""
    if len(value) > MAX_BASE_URL_LENGTH:
        raise MirrorError(f"--base-url is longer than {MAX_BASE_URL_LENGTH} characters")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise MirrorError(f"--base-url must be an http:// or https:// address, not {value!r}")
    if parts.query or parts.fragment or any(char.isspace() for char in value):
        raise MirrorError("--base-url must be a plain address, without a query or spaces")
    # Written as it is into HTML attributes, JSON-LD and XML, and every link the mirror writes
    # is root-relative: only a scheme, a host and a port, nothing a page could be broken by.
    if not BASE_URL.fullmatch(value):
        raise MirrorError(
            f"--base-url must be scheme://host[:port] only (no path, quotes or brackets), "
            f"not {value!r}"
        )
    return value.rstrip("/")


def check_output(outdir: Path, *, force: bool = False) -> Path:
    """The output folder, made if missing; MirrorError when it is a file or not writable,
    when it is, contains or lies inside the code or a folder the site itself writes (media,
    static, var: the mirror would overwrite and delete the site's own files), or when a first
    run (no manifest) finds it holding files the mirror did not write, unless `force`."""
    resolved = outdir.resolve()
    _refuse_overlap(resolved)
    if outdir.exists() and not outdir.is_dir():
        raise MirrorError(f"{outdir} is a file, not a folder")
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise MirrorError(f"cannot create {outdir}: {error.strerror}") from None
    if not os.access(outdir, os.W_OK | os.X_OK):
        raise MirrorError(f"{outdir} is not writable")
    if not force and not (resolved / MANIFEST_NAME).exists() and any(resolved.iterdir()):
        raise MirrorError(
            f"{outdir} is not empty and holds no mirror: the mirror would replace and later "
            "delete its files; use an empty folder, or --force"
        )
    return resolved


def _refuse_overlap(outdir: Path) -> None:
    """MirrorError when OUTDIR is, holds or lies inside the code or the site's own folders."""
    try:
        refuse_code_directory("the output folder", outdir)
    except ImproperlyConfigured as error:
        raise MirrorError(str(error)) from None
    # The media and static folders: not the same, not one inside the other (the mirror's
    # media/ and static/ would be the site's own files). VAR_DIR (the secret key, the search
    # index): not served; a folder of its own below it, as var/mirror, is fine.
    for name, inside_allowed in (("MEDIA_ROOT", False), ("STATIC_ROOT", False), ("VAR_DIR", True)):
        folder = Path(getattr(settings, name)).resolve()
        if (
            outdir == folder
            or outdir in folder.parents
            or (not inside_allowed and folder in outdir.parents)
        ):
            raise MirrorError(
                f"the output folder {outdir} must not be, hold "
                f"{'' if inside_allowed else 'or lie inside '}{name} ({folder})"
            )


def _digest(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]
