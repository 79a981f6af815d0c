"""Page views, counted without tracking anyone (docs/analytics.md).

Two ways in, one counting layer (pressroom.lib.counting), chosen by INSIGHT_COUNTING:

- "server" (the default): the WSGI front notes every GET of a public page, whether Django or
  the page cache answers it (`count_request`, a request hook; pages that do not exist are
  dropped by the worker);
- "beacon": behind the nginx recipe, whose micro-cache answers most requests without Python,
  each public page asks for `/_count` once loaded (a tiny first-party script, or an image for
  readers without JavaScript), and the front answers it with 204 before the page cache or
  Django (`answer_beacon`). The front then counts no page itself.
- "off": nothing is counted (a send's tagged visits still are).

Per view the process adds to its totals: day, path, kind of page, the referring site's domain,
campaign and source. A visitor is "new" for a page and day when a keyed hash of (address, user
agent, host, path) with a secret salt of the day has not been seen: the salt lives in the cache
only, for the day, and is never written beside the counts; the hashes live in the cache until
the day ends. Requests with `DNT: 1` or `Sec-GPC: 1` are counted as views, never as visitors
(no hash is made from them). A send's visit (`ref=email-<id>`) is counted here too, on a public
page served, once per (send, day, digest): a DNT/GPC click counts as the campaign's view only. Bots (lib.counting.is_machine) are not counted.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from hashlib import blake2b as Blake2b
from time import time as wall_clock
from urllib.parse import parse_qsl, urlsplit

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.core.signals import setting_changed
from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet
from django.dispatch import receiver
from django.http.request import split_domain_port, validate_host
from django.urls import Resolver404, resolve
from django.utils import timezone

from pressroom.insight.models import CAMPAIGN_MAX, DOMAIN_MAX, PATH_MAX, Kind, PageView
from pressroom.lib import counting
from pressroom.lib.attribution import CAMPAIGN_ENVIRON
from pressroom.lib.ratelimit import is_trusted_proxy_address
from pressroom.newsletter import visits
from pressroom.publishing.models import Article, Author, Page, Topic

BEACON_PATH = "/_count"
BEACON_QUERY_MAX = 2_000
PAGE_QUERY_MAX = 1_000
REFERER_MAX = 1_000
# The views readers read: their URL names and the kind they are reported as.
PUBLIC_VIEWS = {
    "publishing:home": Kind.HOME,
    "publishing:article-detail": Kind.ARTICLE,
    "publishing:topic-detail": Kind.TOPIC,
    "publishing:author-detail": Kind.AUTHOR,
    "pages:page-detail": Kind.PAGE,
    "search:search": Kind.SEARCH,
}
HOST_NAME = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}[a-z0-9]")
CAMPAIGN_VALUE = re.compile(rf"[a-z0-9][a-z0-9._-]{{0,{CAMPAIGN_MAX - 1}}}")
SEEN_HERE_MAX = 100_000
# Different referrer domains, campaigns and sources kept per day (each): made-up values past
# these become OTHER, so a flood of random ones adds no row per request.
VALUES_PER_DAY_MAX = 500
OTHER = "(other)"
CAPPED_FIELDS = ("referrer", "campaign", "source")

NO_CONTENT = ("204 No Content", [("Cache-Control", "no-store"), ("Content-Length", "0")], b"")


def _bad(message: str) -> tuple[str, list[tuple[str, str]], bytes]:
    body = message.encode()
    headers = [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Cache-Control", "no-store"),
        ("Content-Length", str(len(body))),
    ]
    return "400 Bad Request", headers, body


def _refused(message: str) -> tuple[str, list[tuple[str, str]], bytes]:
    _status, headers, body = _bad(message)
    return "403 Forbidden", headers, body


def own_origin(environ: dict) -> bool:
    """The request's Origin is this site (the host it asked, or one of ours)."""
    origin = environ.get("HTTP_ORIGIN", "")
    try:
        host = (urlsplit(origin).hostname or "").lower().removeprefix("www.")
    except ValueError:
        return False
    return bool(host) and host in own_hosts(environ.get("HTTP_HOST", "")[:200])


@lru_cache(maxsize=8192)
def page_kind(path: str) -> str | None:
    """The kind of public page at `path`, or None (not a reader's page). Cached per path: a
    resolve() is ~20 µs, the front's whole budget for a cached page is ~300 µs."""
    if not path.startswith("/") or len(path) > PATH_MAX:
        return None
    try:
        match = resolve(path)
    except (Resolver404, ValueError):
        return None
    return PUBLIC_VIEWS.get(match.view_name)


@lru_cache(maxsize=64)
def own_hosts(request_host: str) -> frozenset[str]:
    hosts = {request_host.split(":", 1)[0].lower().removeprefix("www.")}
    site = urlsplit(settings.SITE_URL).hostname
    if site:
        hosts.add(site.lower().removeprefix("www."))
    hosts.update(
        host.lower().lstrip(".").removeprefix("www.")
        for host in settings.ALLOWED_HOSTS
        if host != "*"
    )
    return frozenset(hosts)


@lru_cache(maxsize=4096)
def referrer_domain(value: str, request_host: str = "") -> str:
    """The referring site's host name (lower-case, without www.), or "" for none, our own site,
    an address (IP literals name no site), or anything that is not an http(s) address."""
    if not value or len(value) > REFERER_MAX:
        return ""
    try:
        parts = urlsplit(value.strip())
        host = (parts.hostname or "").rstrip(".")
    except ValueError:
        return ""
    if parts.scheme not in ("http", "https") or not host:
        return ""
    try:
        host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return ""
    host = host.removeprefix("www.")
    if len(host) > DOMAIN_MAX or not HOST_NAME.fullmatch(host):
        return ""
    if host in own_hosts(request_host):
        return ""
    return host


def campaign_of(query: str) -> tuple[str, str]:
    """(utm_campaign, utm_source) of a query string: lower-case, bounded, "" when malformed."""
    if "utm_" not in query:
        return "", ""
    found = {"utm_campaign": "", "utm_source": ""}
    try:
        pairs = parse_qsl(query[:PAGE_QUERY_MAX], max_num_fields=20)
    except ValueError:
        return "", ""
    for name, value in pairs:
        value = value.strip().lower()
        if name in found and not found[name] and CAMPAIGN_VALUE.fullmatch(value):
            # A send's tag is ours to give (ref=email-<id>, checked against the sends): one
            # typed into utm_campaign would pass for a send in the Campaigns report, and one
            # merely shaped like it ("email-x") for a send that does not exist.
            found[name] = "" if value.startswith("email-") else value
    return found["utm_campaign"], found["utm_source"]


# The day's salt, as this process knows it; and the hashes it has seen today (in memory only).
_salt: tuple[date, bytes] | None = None
_keyed: dict[date, tuple[bytes, Blake2b]] = {}
_seen_here: set[bytes] = set()
_seen_day: date | None = None
_seen_lock = threading.Lock()


def _seconds_left(day: date) -> int:
    end = timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))
    return max(60, int((end - timezone.now()).total_seconds()) + 60)


def daily_salt(day: date) -> bytes:
    """A random secret for the day, in the cache only, gone when the day ends: yesterday's
    hashes cannot be made again, nor linked to today's."""
    global _salt
    if _salt is not None and _salt[0] == day:
        return _salt[1]
    key = f"insight:salt:{day.isoformat()}"
    cache.add(key, secrets.token_bytes(32), timeout=_seconds_left(day))
    salt = cache.get(key)
    if not isinstance(salt, bytes):  # the cache is down or forgot it: this process's own
        salt = secrets.token_bytes(32)
    cache.delete(f"insight:salt:{(day - timedelta(days=1)).isoformat()}")
    _salt = (day, salt)
    return salt


def forget_salt() -> None:
    """Tests: the next view reads the day's salt again."""
    global _salt, _seen_day
    _salt = None
    _keyed.clear()
    _seen_day = None
    _seen_here.clear()


def visitor_hasher(agent: str, host: str, scope: str, day: date) -> Blake2b:
    """The day's keyed hash, already fed what one group of views shares (browser, host, and the
    page or send): `visitor_digest_from` adds the reader's address. The same reader and page give
    the same digest all day, and nothing once the day's salt is gone."""
    hasher = _keyed_hasher(day).copy()
    hasher.update(f"{agent}\n{host}\n{scope}\n".encode(errors="replace"))
    return hasher


def visitor_digest_from(hasher: Blake2b, address: str) -> bytes:
    reader = hasher.copy()
    reader.update(address.encode(errors="replace"))
    return reader.digest()


def visitor_digest(address: str, agent: str, host: str, scope: str, day: date) -> bytes:
    """A keyed hash of who asked for which page (or came from which send), with the day's salt."""
    return visitor_digest_from(visitor_hasher(agent, host, scope, day), address)


def _keyed_hasher(day: date) -> Blake2b:
    """BLAKE2b keyed with the day's salt, to copy (keying it costs more than a copy)."""
    salt = daily_salt(day)
    keyed = _keyed.get(day)
    if keyed is None or keyed[0] != salt:
        if len(_keyed) > 2:
            _keyed.clear()
        keyed = _keyed[day] = (salt, hashlib.blake2b(key=salt, digest_size=16))
    return keyed[1]


def counts_visitors(dnt: str, gpc: str) -> bool:
    """Do Not Track and Global Privacy Control: the view counts, the reader is never hashed."""
    return (not dnt or dnt.strip() != "1") and (not gpc or gpc.strip() != "1")


# INSIGHT_COUNTING and the proxy's header, read once (the request path cannot afford a settings
# look-up per view); tests that change them are heard through `setting_changed`.
_mode: str | None = None
_proxy_key: str | None = None


def counting_mode() -> str:
    global _mode
    if _mode is None:
        _mode = settings.INSIGHT_COUNTING
    return _mode


def proxy_key() -> str:
    global _proxy_key
    if _proxy_key is None:
        header = settings.TRUSTED_PROXY_HEADER
        _proxy_key = "HTTP_" + header.upper().replace("-", "_") if header else "-"
    return _proxy_key


@receiver(setting_changed)
def _forget_settings(setting: str, **kwargs: object) -> None:
    global _mode, _proxy_key
    if setting in ("INSIGHT_COUNTING", "TRUSTED_PROXY_HEADER"):
        _mode = _proxy_key = None


def note_view(environ: dict, path: str, referrer: str, query: str, campaign: str) -> None:
    """The request path's whole work for a view: its raw fields, noted (lib.counting.note);
    `read_views` parses, filters and hashes them a few seconds later. The page's fields come
    first (`PAGE_FIELDS`): the reader handles each page once, then each reader on it."""
    get = environ.get
    if get("HTTP_SEC_PURPOSE") or get("HTTP_PURPOSE") or get("HTTP_X_MOZ"):
        return  # a prefetch or prerender: the reader may never see the page
    counting.note_if_served(
        environ,
        "page",
        (
            path,
            get("HTTP_USER_AGENT", "")[: counting.USER_AGENT_MAX],
            referrer[:REFERER_MAX],
            query[:PAGE_QUERY_MAX] if "utm_" in query else "",
            campaign,
            get("HTTP_HOST", "")[:200],
            # The minute of the view (its day is decided by when it happened, not by when the
            # note is read); identical notes of one minute are still counted once.
            int(wall_clock()) // 60,
            get("HTTP_DNT", ""),
            get("HTTP_SEC_GPC", ""),
            get("REMOTE_ADDR", ""),
            get(_proxy_key or proxy_key(), ""),
        ),
    )


# A page note's first fields: (path, agent, referrer, query, tag, host, minute); the reader's
# own follow (dnt, gpc, remote address, forwarded-for).
PAGE_FIELDS = 7


def reader_address(remote: str, forwarded: str, trusted: tuple[str, ...], count: int) -> str:
    """The reader's address as the rate limits see it (lib.ratelimit), read cheaply: the
    trusted proxy's entry of its header (`count` from the right), or REMOTE_ADDR. Only ever
    hashed."""
    if forwarded and is_trusted_proxy_address(remote, trusted):
        entries = forwarded.split(",")
        if len(entries) >= count:
            return entries[-count].strip()
    return remote


@lru_cache(maxsize=64)
def day_of_minute(minute: int) -> date:
    """The local day a view's minute (since the epoch) falls on."""
    return timezone.localdate(datetime.fromtimestamp(minute * 60, tz=UTC))


@lru_cache(maxsize=256)
def host_is_served(host: str) -> bool:
    """The Host header names a host of ALLOWED_HOSTS (a made-up one is never hashed)."""
    name, _port = split_domain_port(host)
    return bool(name) and validate_host(name, settings.ALLOWED_HOSTS)


def read_views(notes: Counter[tuple]) -> None:
    """The "page" reader: each distinct noted request, as views (and a visitor's digest, for
    the worker to check against the other processes') in this process's totals. Notes are
    taken a page at a time (`PAGE_FIELDS`): the page's checks and the start of its hash once,
    then per reader only an address hashed and looked up."""
    global _seen_day
    today = timezone.localdate()
    trusted = tuple(settings.TRUSTED_PROXY_ADDRESSES)
    proxies = max(1, settings.TRUSTED_PROXY_COUNT)
    per_process = counting.cache_is_per_process()
    with _seen_lock:
        if _seen_day != today or len(_seen_here) >= SEEN_HERE_MAX:
            _seen_here.clear()
            _seen_day = today
    seen = _seen_here
    pages: dict[tuple, _PageViews] = {}
    for note, views in notes.items():
        page = note[:PAGE_FIELDS]
        group = pages.get(page)
        if group is None:
            group = pages[page] = _PageViews.of(page)
        if group is NOT_COUNTED:  # not a reader's page, a bot, or a host not served here
            continue
        group.views += views
        dnt, gpc, remote, forwarded = note[PAGE_FIELDS:]
        if (dnt or gpc) and not counts_visitors(dnt, gpc):
            continue
        address = reader_address(remote, forwarded, trusted, proxies) if forwarded else remote
        if group.send_hasher is not None:  # a send's visit: once per reader, send and day
            send_digest = visitor_digest_from(group.send_hasher, address)
            if send_digest not in seen:
                seen.add(send_digest)
                group.send_digests.append(send_digest)
        digest = visitor_digest_from(group.hasher, address)
        if digest not in seen:
            seen.add(digest)
            group.digests.append(digest)
    totals: dict[tuple, int] = {}
    for group in pages.values():
        if group is not NOT_COUNTED:
            group.add_to(totals, per_process)
    counting.count_many(totals)


class _PageViews:
    """One page's views in a batch of notes (one path, browser, referrer, campaign, host and
    minute): what is counted, and the new visitors' digests."""

    __slots__ = ("digests", "fields", "hasher", "send_digests", "send_hasher", "views")

    def __init__(self, fields: tuple, hasher: Blake2b, send_hasher: Blake2b | None) -> None:
        self.fields = fields
        self.hasher = hasher
        self.send_hasher = send_hasher
        self.views = 0
        self.digests: list[bytes] = []
        self.send_digests: list[bytes] = []

    @classmethod
    def of(cls, page: tuple) -> _PageViews:
        path, agent, referrer, query, tag, host, minute = page
        kind = page_kind(path)
        if kind is None or counting.agent_is_machine(agent) or not host_is_served(host):
            return NOT_COUNTED
        day = day_of_minute(minute)
        utm_campaign, source = campaign_of(query) if query else ("", "")
        send = started_campaign(tag) if tag else ""
        fields = (
            day,
            path,
            kind,
            referrer_domain(referrer, host) if referrer else "",
            send or utm_campaign,
            source,
        )
        send_hasher = visitor_hasher(agent, host, send, day) if send else None
        return cls(fields, visitor_hasher(agent, host, path, day), send_hasher)

    def add_to(self, totals: dict[tuple, int], per_process: bool) -> None:
        """This page's views and visitors, as the sinks' keys: with a cache of the process's
        own its set of digests was the whole check, so visitors are counted here; with a shared
        cache each digest goes to the worker, which asks whether another process saw it."""
        fields = self.fields
        key = ("view", *fields, "views")
        totals[key] = totals.get(key, 0) + self.views
        if self.digests:
            if per_process:
                key = ("view", *fields, "visitors")
                totals[key] = totals.get(key, 0) + len(self.digests)
            else:
                for digest in self.digests:
                    totals[("visitor", *fields, digest)] = 1
        if self.send_digests:
            day, send_id = fields[0], int(fields[4].removeprefix("email-"))
            if per_process:
                key = ("send", send_id, day)
                totals[key] = totals.get(key, 0) + len(self.send_digests)
            else:
                for digest in self.send_digests:
                    totals[("sendvisitor", send_id, day, digest)] = 1


NOT_COUNTED = _PageViews((), hashlib.blake2b(), None)


def store_visitors(totals: dict[tuple, int]) -> None:
    """The sink of the "visitor" digests (a shared cache: Redis): a digest the cache has not
    seen today (in any process) is one visitor of its row; the digests stay in the cache until
    the day ends, never in the database. (With a cache of each process's own, the process's set
    of digests is the whole check: `read_views` counts visitors itself, and no digest crowds its
    stored pages out of that small cache.)"""
    views: dict[tuple, int] = {}
    real = existing_paths({(key[1], key[2]) for key in totals})  # no key for made-up pages
    for (day, path, kind, referrer, campaign, source, digest), _count in totals.items():
        if path in real and first_seen(day, path, digest):
            key = (day, path, kind, referrer, campaign, source, "visitors")
            views[key] = views.get(key, 0) + 1
    if views:
        store_views(views)


def first_seen(day: date, scope: str, digest: bytes | str) -> bool:
    """Whether the shared cache had not seen this digest for (day, scope) yet. With Redis, one
    HyperLogLog per day and page (or send): at most ~12 KB each however many readers (PFADD
    says whether the digest was new; very rarely wrong on a big page, which undercounts by a
    hair); never a key per reader, which a flood would turn into evicted pages."""
    key = f"insight:seen:{day.isoformat()}:{hashlib.blake2b(scope.encode(), digest_size=12).hexdigest()}"
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        full_key = backend.make_and_validate_key(key)
        client = backend._cache.get_client(full_key, write=True)
        pipeline = client.pipeline()
        pipeline.pfadd(full_key, digest)
        pipeline.expire(full_key, _seconds_left(day))
        added, _expiry = pipeline.execute()
        return bool(added)
    # (A batch written before digests were bytes holds them as hex text.)
    text = digest.hex() if isinstance(digest, bytes) else digest
    return cache.add(f"{key}:{text}", 1, timeout=_seconds_left(day))


def store_send_visitors(totals: dict[tuple, int]) -> None:
    """The sink of a send's visitors' digests (a shared cache): a digest not seen today in any
    process is one visit of the send."""
    found: dict[tuple, int] = {}
    for (send_id, day, digest), _count in totals.items():
        if first_seen(day, f"email-{send_id}", digest):
            found[(send_id, day)] = found.get((send_id, day), 0) + 1
    if found:
        visits.store_visits(found)


def started_campaign(tag: str) -> str:
    """A send's tag (`email-<id>`) if that send has started, else "" (made-up tags)."""
    if not tag:
        return ""
    send_id, _rest = visits.send_tag(f"ref={tag}")
    return tag if send_id is not None and send_id in visits.started_send_ids() else ""


def count_request(environ: dict) -> tuple[str, list[tuple[str, str]], bytes] | None:
    """The front's request hook: answers a beacon, or ("server" counting) notes a GET. No status
    is waited for: a note whose address is no public page is dropped when it is read, and one
    whose page does not exist (a 404, a draft, a made-up slug) when the worker stores it."""
    get = environ.get
    path = get("PATH_INFO", "")
    if path == BEACON_PATH:
        return answer_beacon(environ)
    if (_mode or counting_mode()) == "server" and get("REQUEST_METHOD") == "GET":
        note_view(
            environ,
            path,
            get("HTTP_REFERER", ""),
            get("QUERY_STRING", ""),
            get(CAMPAIGN_ENVIRON, ""),
        )
    return None


def answer_beacon(environ: dict) -> tuple[str, list[tuple[str, str]], bytes] | None:
    """The front's request hook for `/_count?p=<path>&r=<document.referrer>&q=<page query>`:
    answered here, before the page cache and Django, with 204 (or 400 for a malformed one)."""
    method = environ.get("REQUEST_METHOD")
    if method not in ("GET", "POST"):
        return _bad("A beacon is a GET or a POST.")
    # Another site's page asking for our beacon (an image, a fetch) counts nothing: browsers
    # say so in Sec-Fetch-Site, and a POST (sendBeacon) always carries its page's Origin.
    if environ.get("HTTP_SEC_FETCH_SITE") == "cross-site" or (
        method == "POST" and not own_origin(environ)
    ):
        return _refused("This beacon comes from another site.")
    query = environ.get("QUERY_STRING", "")
    if len(query) > BEACON_QUERY_MAX:
        return _bad("This beacon is too long.")
    try:
        params = dict(parse_qsl(query, max_num_fields=10))
    except ValueError:
        return _bad("This beacon is malformed.")
    path = params.get("p", "")
    kind = page_kind(path)
    if kind is None:
        return _bad("This beacon names no public page.")
    if counting_mode() != "beacon":
        return NO_CONTENT  # the front counts pages itself: counting this too would double it
    page_query = params.get("q", "")[:PAGE_QUERY_MAX]
    campaign = ""
    send_id, _rest = visits.send_tag(page_query)
    if send_id is not None and send_id in visits.started_send_ids():
        campaign = f"email-{send_id}"  # its visit is counted with the view (read_views)
    note_view(environ, path, params.get("r", ""), page_query, campaign)
    return NO_CONTENT


def existing_paths(paths: Iterable[tuple[str, str]]) -> set[str]:
    """Of (path, kind) pairs, the paths of pages that exist (made-up beacons are dropped here,
    in the worker, not on the request)."""
    slugs: dict[str, dict[str, str]] = {}
    found: set[str] = set()
    for path, kind in paths:
        if kind in (Kind.HOME, Kind.SEARCH):
            found.add(path)
            continue
        try:
            kwargs = resolve(path).kwargs
        except (Resolver404, ValueError):
            continue
        slugs.setdefault(kind, {})[str(kwargs.get("slug") or kwargs.get("path") or "")] = path
    lookups: dict[str, Callable[[list[str]], QuerySet]] = {
        Kind.ARTICLE: lambda names: Article.objects.published().filter(slug__in=names),
        Kind.TOPIC: lambda names: Topic.objects.filter(slug__in=names),
        Kind.AUTHOR: lambda names: Author.objects.filter(slug__in=names),
    }
    for kind, by_slug in slugs.items():
        if kind == Kind.PAGE:
            known = Page.objects.published().filter(path__in=list(by_slug))
            names = list(known.values_list("path", flat=True))
        elif kind in lookups:
            names = list(lookups[kind](list(by_slug)).values_list("slug", flat=True))
        else:
            continue
        found.update(by_slug[name] for name in names if name in by_slug)
    return found


def capped_values(rows: dict[tuple, dict[str, int]]) -> dict[tuple, dict[str, int]]:
    """The rows, with referrer, campaign and source values past the day's first
    VALUES_PER_DAY_MAX (each) counted as OTHER. A send's tag (checked against the started
    sends) is never capped."""
    kept: dict[tuple[date, str], set[str]] = {}
    for day in {key[0] for key in rows}:
        for field in CAPPED_FIELDS:
            known = PageView.objects.filter(day=day).exclude(**{field: ""})
            kept[(day, field)] = set(known.values_list(field, flat=True).distinct())
    result: dict[tuple, dict[str, int]] = {}
    for (day, path, *values), amounts in rows.items():
        for index, field in enumerate(CAPPED_FIELDS):
            value, seen = values[index], kept[(day, field)]
            if not value or value in seen or (field == "campaign" and value.startswith("email-")):
                continue
            if len(seen) < VALUES_PER_DAY_MAX:
                seen.add(value)
            else:
                values[index] = OTHER
        row = result.setdefault((day, path, *values), {"views": 0, "visitors": 0})
        for measure, amount in amounts.items():
            row[measure] += amount
    return result


def store_views(totals: dict[tuple, int]) -> None:
    """The sink of the "view" counts: add each row's views and visitors to its PageView."""
    rows: dict[tuple, dict[str, int]] = {}
    kinds: dict[str, str] = {}
    for (day, path, kind, referrer, campaign, source, measure), amount in totals.items():
        row = rows.setdefault((day, path, referrer, campaign, source), {"views": 0, "visitors": 0})
        row[measure] += amount
        kinds[path] = kind
    real = existing_paths(kinds.items())
    rows = capped_values({key: amounts for key, amounts in rows.items() if key[1] in real})
    for (day, path, referrer, campaign, source), amounts in rows.items():
        unique = {
            "day": day,
            "path": path,
            "referrer": referrer,
            "campaign": campaign,
            "source": source,
        }
        added = {name: F(name) + amount for name, amount in amounts.items()}
        if PageView.objects.filter(**unique).update(**added):
            continue
        try:
            with transaction.atomic():
                PageView.objects.create(**unique, kind=kinds[path], **amounts)
        except IntegrityError:  # another worker created it a moment ago
            PageView.objects.filter(**unique).update(**added)
