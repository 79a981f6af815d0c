"""Stored pages: which requests may share one, where it is filed, how it is compressed and how
it answers (200, or 304 to a matching validator). Works on the WSGI environ, so the WSGI front
and the middleware file and find pages under exactly the same keys."""

from __future__ import annotations

import dataclasses
import functools
import gzip
import hashlib
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

import brotli
from django.conf import settings
from django.core.cache import cache
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils import timezone
from django.utils.http import http_date, parse_http_date_safe

from pressroom.lib.pagecache.generation import current_generation, next_moment

STATUS_HEADER = "X-Page-Cache"
MIN_COMPRESS_BYTES = 200
# What browsers and shared caches (nginx, a CDN) are told: browsers revalidate (a 304 costs
# nothing); shared caches keep a page one second, so a change shows through them within about a
# second plus one render (docs/scaling.md, "Publish-to-visible budget"), may serve it a little
# stale while one request refreshes it, and a day old if the app is down.
PROXY_SECONDS = 1
PUBLIC_CACHE_CONTROL = (
    f"public, max-age=0, s-maxage={PROXY_SECONDS}, stale-while-revalidate=10, stale-if-error=86400"
)
# Pages are compressed once, when stored: brotli's level 6 is within a few percent of its best
# for HTML at a fraction of the time.
BROTLI_QUALITY = 6
# What each process also keeps unpickled in memory, its most recently used answers: bounded by
# size, so about 200 pages (~20-50 KB each) or thousands of stored redirects (a few hundred
# bytes each), which search engines ask for by the thousand.
MEMORY_BYTES = 8 * 1024 * 1024
MEMORY_ENTRIES = 20_000
# What an entry costs besides its body (headers, the object itself), roughly.
ENTRY_OVERHEAD_BYTES = 1024
# Headers a 304 repeats (RFC 9110 15.4.5), plus our own.
NOT_MODIFIED_HEADERS = {
    "cache-control",
    "content-location",
    "expires",
    "vary",
    STATUS_HEADER.lower(),
}


@dataclass(frozen=True)
class Config:
    """The settings a cached hit needs, read once: each `settings.X` costs a microsecond."""

    seconds: int
    stores_pages: bool  # not with CACHE_URL=dummy://: every request renders
    session_cookie: str
    excluded_paths: tuple[str, ...]

    @classmethod
    @functools.cache
    def current(cls) -> Config:
        return cls(
            seconds=settings.PAGE_CACHE_SECONDS,
            stores_pages=not settings.CACHES["default"]["BACKEND"].endswith(".DummyCache"),
            session_cookie=f"{settings.SESSION_COOKIE_NAME}=",
            excluded_paths=(settings.STATIC_URL, *settings.PAGE_CACHE_EXCLUDE_PATHS),
        )


@receiver(setting_changed)
def _reread_settings(**kwargs: object) -> None:
    Config.current.cache_clear()
    forget_memory()


def is_public_request(meta: Mapping) -> bool:
    """Nothing in the request can make the page personal: GET/HEAD, no session cookie, no
    credentials, not an excluded path. A cookie header that merely mentions the session
    cookie's name is treated as a session: erring towards a fresh page is safe."""
    if meta.get("REQUEST_METHOD") not in ("GET", "HEAD") or "HTTP_AUTHORIZATION" in meta:
        return False
    config = Config.current()
    if config.session_cookie in meta.get("HTTP_COOKIE", ""):
        return False
    path = meta.get("PATH_INFO", "")
    # Webhooks may sit under any app's prefix (/donate/webhooks/stripe/, ...).
    return "/webhooks/" not in path and not path.startswith(config.excluded_paths)


# The most recently used pages, unpickled, in this process: a hit skips the cache's copy and
# unpickling (or the round trip to Redis). Keys carry the generation, so a change still shows
# at once; entries still end at their fresh_until.
_memory: OrderedDict[str, StoredPage] = OrderedDict()
_memory_lock = threading.Lock()
_memory_bytes = 0


def _entry_bytes(page: StoredPage) -> int:
    return len(page.body) + ENTRY_OVERHEAD_BYTES


def remember(key: str, page: StoredPage) -> None:
    global _memory_bytes
    with _memory_lock:
        previous = _memory.pop(key, None)
        if previous is not None:
            _memory_bytes -= _entry_bytes(previous)
        _memory[key] = page
        _memory_bytes += _entry_bytes(page)
        while len(_memory) > MEMORY_ENTRIES or _memory_bytes > MEMORY_BYTES:
            _, dropped = _memory.popitem(last=False)
            _memory_bytes -= _entry_bytes(dropped)


def recall(key: str) -> StoredPage | None:
    with _memory_lock:
        page = _memory.get(key)
        if page is not None:
            _memory.move_to_end(key)
        return page


def forget_memory() -> None:
    """Drop this process's copies (tests do, with cache.clear(), between tests)."""
    global _memory_bytes
    with _memory_lock:
        _memory.clear()
        _memory_bytes = 0


@functools.lru_cache(maxsize=256)
def preferred_encoding(accept_encoding: str) -> str:
    """'br', 'gzip' or '' (identity), from an Accept-Encoding header; q=0 refuses."""
    offered: dict[str, float] = {}
    for part in accept_encoding.lower().split(","):
        name, _, params = part.strip().partition(";")
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                quality = 0.0
        offered[name.strip()] = quality
    for encoding in ("br", "gzip"):
        if offered.get(encoding, offered.get("*", 0.0)) > 0:
            return encoding
    return ""


def compress(body: bytes, encoding: str) -> bytes:
    if encoding == "br":
        return brotli.compress(body, mode=brotli.MODE_TEXT, quality=BROTLI_QUALITY)
    if encoding == "gzip":
        return gzip.compress(body, compresslevel=6, mtime=0)
    return body


def request_scheme(meta: Mapping) -> str:
    proxy_header = settings.SECURE_PROXY_SSL_HEADER
    if proxy_header:
        header, secure_value = proxy_header
        if meta.get(header, "").split(",")[0].strip() == secure_value:
            return "https"
    return meta.get("wsgi.url_scheme", "http")


def page_key(meta: Mapping, generation: str, encoding: str) -> str:
    host = meta.get("HTTP_HOST") or f"{meta.get('SERVER_NAME')}:{meta.get('SERVER_PORT')}"
    address = (
        f"{request_scheme(meta)}://{host}{meta.get('SCRIPT_NAME', '')}{meta.get('PATH_INFO', '')}"
        f"?{meta.get('QUERY_STRING', '')}"
    )
    digest = hashlib.blake2b(address.encode("utf-8", "surrogateescape"), digest_size=16)
    return f"page:{generation}:{encoding or 'identity'}:{digest.hexdigest()}"


@dataclass(frozen=True)
class Lookup:
    key: str  # empty when the page cache is off
    generation: str  # empty when nothing is kept (PAGE_CACHE_SECONDS=0)
    encoding: str
    page: StoredPage | None


def look_up(meta: Mapping) -> Lookup:
    """Find the stored page for a public request (call is_public_request first)."""
    encoding = preferred_encoding(meta.get("HTTP_ACCEPT_ENCODING", ""))
    config = Config.current()
    if config.seconds <= 0:
        return Lookup("", "", encoding, None)
    # Read before the view reads the database: a change committed during a render moves the
    # generation on, so that render is filed under a generation nobody asks for any more.
    generation = current_generation()
    if not config.stores_pages:
        return Lookup("", generation, encoding, None)
    key = page_key(meta, generation, encoding)
    page = recall(key)
    if page is None:
        page = cache.get(key)
        if page is not None:
            page = page.unpacked()
            remember(key, page)
    # timezone.now(), the clock listings compare publication times with.
    if page is not None and timezone.now().timestamp() >= page.fresh_until:
        page = None
    return Lookup(key, generation, encoding, page)


@dataclass(frozen=True)
class StoredPage:
    status_code: int
    headers: tuple[tuple[str, str], ...]  # everything but the ones below
    body: bytes
    encoding: str
    etag: str
    last_modified: int
    fresh_until: float  # a timezone.now() timestamp
    # An uncompressed page is kept zlib-packed in the cache (a fifth of the memory, in every
    # process's locmem or in Redis) and unpacked once into the process's memory of hot pages.
    packed: bool = False

    def for_cache(self) -> StoredPage:
        if self.encoding or self.packed:
            return self
        return dataclasses.replace(self, body=zlib.compress(self.body, 1), packed=True)

    def unpacked(self) -> StoredPage:
        if not self.packed:
            return self
        return dataclasses.replace(self, body=zlib.decompress(self.body), packed=False)

    def is_not_modified(self, meta: Mapping) -> bool:
        """RFC 9110 13.2.2 for GET/HEAD: If-None-Match decides when present (weak comparison),
        otherwise If-Modified-Since."""
        if_none_match = meta.get("HTTP_IF_NONE_MATCH")
        if if_none_match:
            if if_none_match.strip() == "*":
                return True
            wanted = self.etag.removeprefix("W/")
            return any(tag.strip().removeprefix("W/") == wanted for tag in if_none_match.split(","))
        if_modified_since = meta.get("HTTP_IF_MODIFIED_SINCE")
        if if_modified_since:
            since = parse_http_date_safe(if_modified_since)
            return since is not None and self.last_modified <= since
        return False

    def answer(self, meta: Mapping, cache_status: str) -> tuple[int, list[tuple[str, str]], bytes]:
        """Status, headers and body for this request."""
        answered = [(STATUS_HEADER, cache_status), proxy_expiry()]
        # Validators (and so 304s) are a page's: a stored redirect or 410 answers in full.
        if self.status_code == 200 and self.is_not_modified(meta):
            return 304, [*self.not_modified_headers, *answered], b""
        body = b"" if meta.get("REQUEST_METHOD") == "HEAD" else self.body
        return self.status_code, [*self.full_headers, *answered], body

    # Worked out once per page and process, not on every hit.

    @functools.cached_property
    def validators(self) -> list[tuple[str, str]]:
        if self.status_code != 200:
            return []
        return [("ETag", self.etag), ("Last-Modified", http_date(self.last_modified))]

    @functools.cached_property
    def full_headers(self) -> list[tuple[str, str]]:
        headers = [*self.headers, *self.validators, ("Content-Length", str(len(self.body)))]
        if self.encoding:
            headers.append(("Content-Encoding", self.encoding))
        return headers

    @functools.cached_property
    def not_modified_headers(self) -> list[tuple[str, str]]:
        kept = [
            (name, value) for name, value in self.headers if name.lower() in NOT_MODIFIED_HEADERS
        ]
        return [*kept, *self.validators]


def proxy_expiry() -> tuple[str, str]:
    """When nginx's copy of this answer expires, as an absolute second (nginx does not pass the
    header on). nginx counts `s-maxage` in whole seconds from the second it stores a page, so
    `s-maxage=1` keeps a copy up to two seconds; ending it with the second PROXY_SECONDS from
    now keeps it at most that long, which is what the publish-to-visible budget counts on.

    Only stored pages answer with it, and only shareable responses are stored: nginx lets this
    header override Cache-Control. The second is the app's clock and nginx compares it with its
    own, so app servers and nginx must keep their clocks synchronised (NTP)."""
    return ("X-Accel-Expires", f"@{int(time.time()) + PROXY_SECONDS - 1}")


def seconds_until_next_moment(generation: str) -> float | None:
    """Scheduled articles go public (and campaigns start and end) without a save, so no page
    may outlive that moment."""
    moment = next_moment(generation)
    return None if moment is None else moment - timezone.now().timestamp()
