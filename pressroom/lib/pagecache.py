"""The anonymous page cache: public pages rendered once, then served from the cache, compressed.

Why it is built this way:
- Every cached page is filed under the current *content generation*. Any change readers can see
  (`publishing.signals.content_changed`, sent after commit) bumps the generation, so every page
  that might show the changed article (home, its topics, its authors, feeds, the article itself)
  is current on the next request, without knowing which pages those are.
- Where the generation lives depends on the cache. A per-process cache (locmem, the embedded
  default) cannot carry it between `pressroom serve` workers, so it is a small file in VAR_DIR
  that every request `stat()`s (microseconds). A shared cache (Redis, file) keeps it next to the
  pages; each process re-reads it at most every PAGE_CACHE_GENERATION_POLL seconds.
- Entries also expire after PAGE_CACHE_SECONDS even without a change (campaign figures may be
  that stale), and when the next scheduled article becomes public.
- A request is eligible only when it cannot be personal: GET/HEAD, no session cookie, no
  Authorization header, not an excluded path. A response is stored only when it cannot be
  personal either: 200, no Set-Cookie, no private/no-store/no-cache, nothing used a CSRF token.
- The page is compressed (brotli or gzip) once, when it is stored, not on every hit. Public pages
  carry no secrets, so they need none of the BREACH padding Django's GZipMiddleware adds; every
  other response still goes through GZipMiddleware unchanged.
- Stored pages carry a weak ETag (a hash of the page) and Last-Modified, and answer
  If-None-Match / If-Modified-Since with 304.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import brotli
from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.dummy import DummyCache
from django.core.cache.backends.locmem import LocMemCache
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.middleware.gzip import GZipMiddleware
from django.utils import timezone
from django.utils.cache import get_conditional_response, patch_vary_headers
from django.utils.http import http_date, parse_http_date_safe

from pressroom.publishing.signals import content_changed

GENERATION_KEY = "pagecache:generation"
NEXT_PUBLICATION_KEY = "pagecache:next-publication:{generation}"
STATUS_HEADER = "X-Page-Cache"
UNCACHEABLE_CACHE_CONTROL = ("private", "no-store", "no-cache")
# Vary values a cookie-less anonymous request cannot make differ between readers.
HARMLESS_VARY = {"accept-encoding", "cookie"}
MIN_COMPRESS_BYTES = 200


# --- The content generation -----------------------------------------------------------------


class SharedCacheGeneration:
    """The generation in a cache every process shares (Redis, file), polled at most every
    `poll_seconds` so a cache hit costs one round trip, not two."""

    def __init__(self, poll_seconds: float) -> None:
        self.poll_seconds = poll_seconds
        self._value: str | None = None
        self._read_at = 0.0

    def current(self) -> str:
        now = time.monotonic()
        if self._value is None or now - self._read_at >= self.poll_seconds:
            value = cache.get(GENERATION_KEY)
            if value is None:
                value = self._start()
            self._value, self._read_at = str(value), now
        return self._value

    def bump(self) -> None:
        try:
            value = cache.incr(GENERATION_KEY)
        except ValueError:
            value = self._start()
        self._value, self._read_at = str(value), time.monotonic()

    @staticmethod
    def _start() -> int:
        # Start from the clock, never from 1: if the key was evicted, old pages filed under
        # small numbers must not come back.
        cache.add(GENERATION_KEY, time.time_ns() // 1000, timeout=None)
        return cache.get(GENERATION_KEY) or 0


class FileGeneration:
    """The generation in a file that every process on this machine checks with one stat().

    Bumps replace the file atomically, so its inode changes and no reader sees half a write.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._signature: tuple[int, int, int] | None = None
        self._value = "0"

    def current(self) -> str:
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            return "0"
        signature = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if signature != self._signature:
            try:
                self._value = self.path.read_text().strip() or "0"
            except FileNotFoundError:
                return "0"
            self._signature = signature
        return self._value

    def bump(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        token = f"{time.time_ns()}-{os.getpid()}-{secrets.token_hex(4)}"
        temporary = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        temporary.write_text(token)
        os.replace(temporary, self.path)


_generations: dict[tuple, SharedCacheGeneration | FileGeneration] = {}


def generation_source() -> SharedCacheGeneration | FileGeneration:
    """The generation store that fits the configured cache (settings are read on each call)."""
    per_process = isinstance(caches["default"], (LocMemCache, DummyCache))
    if per_process:
        key: tuple = ("file", settings.PAGE_CACHE_GENERATION_FILE)
    else:
        key = ("shared", settings.CACHES["default"].get("LOCATION"))
    source = _generations.get(key)
    if source is None:
        if per_process:
            source = FileGeneration(Path(settings.PAGE_CACHE_GENERATION_FILE))
        else:
            source = SharedCacheGeneration(settings.PAGE_CACHE_GENERATION_POLL)
        _generations[key] = source
    return source


def current_generation() -> str:
    return generation_source().current()


def bump_generation() -> None:
    generation_source().bump()


@receiver(content_changed, dispatch_uid="pagecache-bump-generation")
def forget_cached_pages(**kwargs: object) -> None:
    """Something readers can see changed: every page cached so far is out of date."""
    bump_generation()


# --- Compression ----------------------------------------------------------------------------


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
        return brotli.compress(
            body, mode=brotli.MODE_TEXT, quality=settings.PAGE_CACHE_BROTLI_QUALITY
        )
    if encoding == "gzip":
        return gzip.compress(body, compresslevel=6, mtime=0)
    return body


# --- Stored pages ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredPage:
    headers: tuple[tuple[str, str], ...]
    body: bytes
    encoding: str
    etag: str
    last_modified: float
    fresh_until: float  # on the clock of timezone.now(), which is what listings compare against

    def response(self, status: str) -> HttpResponse:
        response = HttpResponse(self.body, headers=dict(self.headers))
        response["Content-Length"] = str(len(self.body))
        if self.encoding:
            response["Content-Encoding"] = self.encoding
        response["ETag"] = self.etag
        response["Last-Modified"] = http_date(self.last_modified)
        response[STATUS_HEADER] = status
        return response


def page_key(request: HttpRequest, generation: str, encoding: str) -> str:
    address = f"{request.scheme}://{request.get_host()}{request.get_full_path()}"
    digest = hashlib.blake2b(address.encode(), digest_size=16).hexdigest()
    return f"page:{generation}:{encoding or 'identity'}:{digest}"


def public_cache_control() -> str:
    return (
        f"public, max-age={settings.PAGE_CACHE_BROWSER_SECONDS}, "
        f"s-maxage={settings.PAGE_CACHE_PROXY_SECONDS}, "
        f"stale-while-revalidate={settings.PAGE_CACHE_STALE_SECONDS}, stale-if-error=86400"
    )


def seconds_until_next_publication(generation: str) -> float | None:
    """Scheduled articles go public without a save, so pages must not outlive that moment."""
    from pressroom.publishing.models import Article

    key = NEXT_PUBLICATION_KEY.format(generation=generation)
    now = timezone.now().timestamp()
    moment = cache.get(key)
    if moment is None or (moment and moment <= now):
        upcoming = (
            Article.objects.filter(status=Article.Status.SCHEDULED, published_at__gt=timezone.now())
            .order_by("published_at")
            .values_list("published_at", flat=True)
            .first()
        )
        moment = upcoming.timestamp() if upcoming else 0
        cache.set(key, moment, timeout=settings.PAGE_CACHE_SECONDS)
    return moment - now if moment else None


# --- The middleware -------------------------------------------------------------------------


class PageCacheMiddleware:
    """Serve anonymous public pages from the page cache; compress everything (replaces
    GZipMiddleware in MIDDLEWARE, at the same place: after WhiteNoise, before sessions)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.gzip = GZipMiddleware(get_response)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not self.is_public_request(request):
            return self.private_response(request, self.get_response(request))

        encoding = preferred_encoding(request.META.get("HTTP_ACCEPT_ENCODING", ""))
        seconds = settings.PAGE_CACHE_SECONDS
        key = ""
        generation = ""
        if seconds > 0:
            # Read before the view reads the database: a change committed during the render
            # bumps the generation, so this render is filed under a generation nobody asks for.
            generation = current_generation()
            key = page_key(request, generation, encoding)
            stored = cache.get(key)
            if stored is not None and timezone.now().timestamp() < stored.fresh_until:
                return self.conditional(request, stored.response("hit"))

        response = self.get_response(request)
        if not self.is_public_response(request, response):
            return self.gzip.process_response(request, response)

        lifetime = float(seconds)
        if key:
            until_publication = seconds_until_next_publication(generation)
            if until_publication is not None:
                lifetime = min(lifetime, until_publication)
        stored = self.make_page(response, encoding, lifetime)
        if key and lifetime > 0:
            cache.set(key, stored, timeout=math.ceil(lifetime))
        return self.conditional(request, stored.response("miss" if key else "off"))

    # Which requests and responses may be shared between readers.

    @staticmethod
    def is_public_request(request: HttpRequest) -> bool:
        if request.method not in ("GET", "HEAD"):
            return False
        if settings.SESSION_COOKIE_NAME in request.COOKIES or "HTTP_AUTHORIZATION" in request.META:
            return False
        path = request.path_info
        # Webhooks may sit under any app's prefix (/donate/webhooks/stripe/, ...).
        if "/webhooks/" in path:
            return False
        return not path.startswith(tuple(settings.PAGE_CACHE_EXCLUDE_PATHS))

    @staticmethod
    def is_public_response(request: HttpRequest, response: HttpResponse) -> bool:
        if response.status_code != 200 or response.streaming or response.cookies:
            return False
        if response.has_header("Content-Encoding") or request.META.get("CSRF_COOKIE_NEEDS_UPDATE"):
            return False
        cache_control = response.get("Cache-Control", "").lower()
        if any(word in cache_control for word in UNCACHEABLE_CACHE_CONTROL):
            return False
        vary = {value.strip().lower() for value in response.get("Vary", "").split(",") if value}
        return vary <= HARMLESS_VARY

    # Building responses.

    @staticmethod
    def make_page(response: HttpResponse, encoding: str, lifetime: float) -> StoredPage:
        body = response.content
        etag = response.get("ETag") or (
            'W/"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'
        )
        if len(body) < MIN_COMPRESS_BYTES:
            encoding = ""
        patch_vary_headers(response, ("Accept-Encoding",))
        if not response.has_header("Cache-Control"):
            response["Cache-Control"] = public_cache_control()
        skipped = {"content-length", "content-encoding", "etag", "last-modified", "set-cookie"}
        headers = tuple(
            (name, value) for name, value in response.items() if name.lower() not in skipped
        )
        return StoredPage(
            headers=headers,
            body=compress(body, encoding),
            encoding=encoding,
            etag=etag,
            last_modified=time.time(),
            fresh_until=timezone.now().timestamp() + lifetime,
        )

    @staticmethod
    def conditional(request: HttpRequest, response: HttpResponse) -> HttpResponse:
        answer = get_conditional_response(
            request,
            etag=response["ETag"],
            last_modified=parse_http_date_safe(response["Last-Modified"]),
            response=response,
        )
        if answer is not response:
            answer[STATUS_HEADER] = response[STATUS_HEADER]
            answer["Vary"] = response.get("Vary", "Accept-Encoding")
        return answer

    def private_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        """Editors and anyone with a session: fresh every time, never in a shared cache."""
        if request.method in ("GET", "HEAD") and not response.has_header("Cache-Control"):
            response["Cache-Control"] = "private, no-cache"
        response = self.gzip.process_response(request, response)
        response[STATUS_HEADER] = "bypass"
        return response
