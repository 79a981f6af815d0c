"""The page-cache middleware: stores what is safe to share, serves it, compresses everything.

It sits first in MIDDLEWARE, so a stored page carries every header the stack adds (security
headers included) and a hit skips the whole stack. It replaces GZipMiddleware: responses it
does not share still go through GZipMiddleware (with its BREACH padding) exactly as before.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable
from typing import TypeGuard

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.middleware.gzip import GZipMiddleware
from django.utils import timezone
from django.utils.cache import patch_vary_headers

from pressroom.lib.logfilters import warn_about_failure
from pressroom.lib.pagecache.generation import (
    current_generation,
    generation_to_render,
    serving,
)
from pressroom.lib.pagecache.pages import (
    PUBLIC_CACHE_CONTROL,
    STATUS_HEADER,
    Config,
    Lookup,
    StoredPage,
    compress,
    is_public_request,
    look_up,
    page_key,
    remember,
    seconds_until_next_moment,
)

logger = logging.getLogger(__name__)

LOOKUP_ENVIRON_KEY = "pressroom.pagecache.lookup"
UNSHAREABLE_CACHE_CONTROL = ("private", "no-store", "no-cache")
# Vary values a cookie-less anonymous request cannot make differ between readers.
HARMLESS_VARY = {"accept-encoding", "cookie"}
NOT_STORED_HEADERS = {
    "content-length",
    "content-encoding",
    "etag",
    "last-modified",
    "set-cookie",
    STATUS_HEADER.lower(),
}
MIN_COMPRESS_BYTES = 200
# Besides pages (200), answers that are the same for every reader and do not change until the
# content does: a permanent redirect and "gone", stored when the responder marks them public
# (mark_shareable), as the old-address fallback does. Filed, found and dropped with the
# content generation like pages.
PERMANENT_STATUSES = (301, 410)
# Answers to addresses with a query string (/?p=12, /?s=peru, /?utm_source=x, ?before=...) are
# stored at most this many per PAGE_CACHE_SECONDS: anyone can make up queries, and each stored
# answer is a cache entry that would push out a page readers ask for.
MAX_STORED_QUERY_ANSWERS = 10_000
QUERY_ANSWERS_KEY = "page-query-answers"


class PageCacheMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        self.gzip = GZipMiddleware(get_response)

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        meta = request.META
        if request.path_info.startswith(settings.STATIC_URL):
            return self.get_response(request)  # WhiteNoise: hashed files, already compressed
        if not is_public_request(meta):
            # Outside generation.serving(), nothing kept is used: editors see a change before
            # anything announces it.
            response = self.get_response(request)
            return self.private_response(request, response)

        found = meta.pop(LOOKUP_ENVIRON_KEY, None) or self.look_up(meta)
        if found.page is not None:
            return as_http_response(*found.page.answer(meta, "hit"))

        if found.generation:
            found = self.before_render(found, meta)
        with serving(found.generation):
            response = self.get_response(request)
        if not is_shareable(response, request):
            return self.gzip.process_response(request, response)

        page = make_page(response, found.encoding, float(Config.current().seconds))
        if found.key:
            try:
                if within_query_answer_budget(meta):
                    page = self.store(found, page, response)
            except Exception:  # a cache outage slows pages down; it must not break them
                warn_about_failure(logger, "page cache: could not store %s", request.path)
        return as_http_response(*page.answer(meta, "miss" if found.key else "off"))

    @staticmethod
    def before_render(found: Lookup, meta: dict) -> Lookup:
        """If a scheduled moment has passed under the generation looked up, the render (and the
        page it stores) belongs to the next one."""
        try:
            generation = generation_to_render(found.generation)
        except Exception:  # a cache outage slows pages down; it must not break them
            warn_about_failure(logger, "page cache: could not check scheduled moments")
            return found
        if generation == found.generation:
            return found
        return Lookup(page_key(meta, generation, found.encoding), generation, found.encoding, None)

    @staticmethod
    def store(found: Lookup, page: StoredPage, response: HttpResponse) -> StoredPage:
        lifetime = float(Config.current().seconds)
        until_moment = seconds_until_next_moment(found.generation)
        if until_moment is not None and until_moment < lifetime:
            lifetime = until_moment
            page = make_page(response, found.encoding, lifetime)
        if lifetime > 0:
            cache.set(found.key, page.for_cache(), timeout=math.ceil(lifetime))
            remember(found.key, page)
        return page

    @staticmethod
    def look_up(meta: dict) -> Lookup:
        try:
            return look_up(meta)
        except Exception:
            warn_about_failure(logger, "page cache: lookup failed; serving fresh")
            # Nothing stored or found, but the parts of the page are still kept (under the last
            # generation seen, if the shared cache is what failed).
            try:
                generation = current_generation() if Config.current().seconds > 0 else ""
            except Exception:
                generation = ""
            return Lookup("", generation, "", None)

    def private_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        """Editors and anyone with a session: fresh every time, never kept by a shared cache."""
        if request.method in ("GET", "HEAD") and not response.has_header("Cache-Control"):
            response["Cache-Control"] = "private, no-cache"
        response = self.gzip.process_response(request, response)
        response[STATUS_HEADER] = "bypass"
        return response


def mark_shareable(response: HttpResponseBase) -> HttpResponseBase:
    """Mark a permanent answer (301, 410) as the same for every reader, so that the page cache
    stores it like a page: public Cache-Control (pages get it when stored)."""
    response["Cache-Control"] = PUBLIC_CACHE_CONTROL
    return response


def within_query_answer_budget(meta: dict) -> bool:
    """Whether an answer may be stored: always without a query string (a path answers 200,
    301 or 410 only when it names something), else while fewer than MAX_STORED_QUERY_ANSWERS
    were stored in this PAGE_CACHE_SECONDS window (counted in the shared cache, across
    processes and generations; what they store lives no longer than a window, so at most twice
    that many are kept at any time)."""
    if not meta.get("QUERY_STRING"):
        return True
    seconds = max(1, Config.current().seconds)
    key = f"{QUERY_ANSWERS_KEY}:{int(time.time()) // seconds}"
    cache.add(key, 0, timeout=seconds)
    try:
        return cache.incr(key) <= MAX_STORED_QUERY_ANSWERS
    except ValueError:  # evicted between add and incr: count again from here
        return False


def is_shareable(response: HttpResponseBase, request: HttpRequest) -> TypeGuard[HttpResponse]:
    """Nothing in the response is personal: a 200 (or a 301 or 410 marked public) with no
    cookie, no private/no-store/no-cache, no CSRF token rendered, and no Vary that would make
    readers' pages differ."""
    if response.status_code != 200 and not (
        response.status_code in PERMANENT_STATUSES
        and "public" in response.get("Cache-Control", "").lower()
    ):
        return False
    if response.streaming or response.cookies:
        return False
    if response.has_header("Content-Encoding") or request.META.get("CSRF_COOKIE_NEEDS_UPDATE"):
        return False
    cache_control = response.get("Cache-Control", "").lower()
    if any(word in cache_control for word in UNSHAREABLE_CACHE_CONTROL):
        return False
    vary = {value.strip().lower() for value in response.get("Vary", "").split(",") if value}
    return vary <= HARMLESS_VARY


def make_page(response: HttpResponse, encoding: str, lifetime: float) -> StoredPage:
    """The page as stored: compressed once for `encoding`, with a weak ETag of its content."""
    body = response.content
    etag = response.get("ETag") or ('W/"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"')
    if len(body) < MIN_COMPRESS_BYTES:
        encoding = ""
    patch_vary_headers(response, ("Accept-Encoding",))
    if not response.has_header("Cache-Control"):
        response["Cache-Control"] = PUBLIC_CACHE_CONTROL
    headers = tuple(
        (name, value) for name, value in response.items() if name.lower() not in NOT_STORED_HEADERS
    )
    return StoredPage(
        status_code=response.status_code,
        headers=headers,
        body=compress(body, encoding),
        encoding=encoding,
        etag=etag,
        last_modified=int(time.time()),
        fresh_until=timezone.now().timestamp() + lifetime,
    )


def as_http_response(status: int, headers: list[tuple[str, str]], body: bytes) -> HttpResponse:
    response = HttpResponse(body, status=status)
    for name, value in headers:
        response[name] = value
    return response
