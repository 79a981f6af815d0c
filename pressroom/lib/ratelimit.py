"""Abuse limits that hold across processes: count attempts per key in a sliding window.

Counts live where every web process sees them: in the shared cache when CACHE_URL is Redis,
otherwise in the database through the store an app registers (`register_store`; the accounts
app registers its small counter table). A per-process counter is never used for a limit: with
several workers each would allow the whole limit again.

Keys are hashed, so the counters hold no address or account name. `client_address` reads the
visitor's address the way the configured reverse proxy passes it (TRUSTED_PROXY_HEADER, from
TRUSTED_PROXY_ADDRESSES only) and counts IPv6 visitors by their /64.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import math
import time
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest


class CounterStore(Protocol):
    def hit(self, key: str, window_start: int, expires_at: int) -> int:
        """Add one to the counter of (key, window); return the new count."""
        ...

    def count(self, key: str, window_start: int) -> int:
        """The counter of (key, window) without changing it (0 when absent)."""
        ...

    def clear(self, key: str) -> None:
        """Forget every window of this key."""
        ...


class CacheCounterStore:
    """Counters in Django's cache; shared by every process only when the cache is (Redis)."""

    def _name(self, key: str, window_start: int) -> str:
        return f"ratelimit:{key}:{window_start}"

    def hit(self, key: str, window_start: int, expires_at: int) -> int:
        name = self._name(key, window_start)
        timeout = max(1, expires_at - int(time.time()))
        cache.add(name, 0, timeout=timeout)
        try:
            return cache.incr(name)
        except ValueError:  # expired between add and incr
            cache.set(name, 1, timeout=timeout)
            return 1

    def count(self, key: str, window_start: int) -> int:
        return int(cache.get(self._name(key, window_start)) or 0)

    def clear(self, key: str) -> None:
        # Limits use at most the current and the previous window.
        now = int(time.time())
        for window in {60, 300, 900, 3600, 86400}:
            start = now - now % window
            cache.delete_many([self._name(key, start), self._name(key, start - window)])


_database_store: CounterStore | None = None


def register_store(store: CounterStore) -> None:
    """Called once by the app that keeps counters in the database (its AppConfig.ready())."""
    global _database_store
    _database_store = store


def _cache_is_shared() -> bool:
    return "redis" in settings.CACHES["default"]["BACKEND"].lower()


def current_store() -> CounterStore:
    if _cache_is_shared() or _database_store is None:
        return CacheCounterStore()
    return _database_store


@dataclass(frozen=True)
class Limit:
    """At most `attempts` per `window` seconds for each key (an address, an account, ...)."""

    name: str
    attempts: int
    window: int

    def _key(self, parts: tuple[str, ...]) -> str:
        joined = "\x1f".join(part.lower() for part in parts)
        digest = hashlib.sha256(f"{settings.SECRET_KEY}\x1f{joined}".encode()).hexdigest()
        return f"{self.name}:{digest[:40]}"

    def _window_start(self, now: float) -> int:
        return int(now) - int(now) % self.window

    @property
    def enabled(self) -> bool:
        return self.attempts > 0 and self.window > 0

    def _counts(self, key: str, now: float) -> tuple[int, int, float]:
        """(this window's count, the previous window's count, the share of this window gone)."""
        start = self._window_start(now)
        store = current_store()
        return (
            store.count(key, start),
            store.count(key, start - self.window),
            (now - start) / self.window,
        )

    def hit(self, *parts: str) -> bool:
        """Count one attempt; True while the key is within its limit (this attempt included).

        A sliding-window estimate: this window's count plus the previous window's, weighted by
        how much of it the last `window` seconds still cover (rounded down, so a single earlier
        attempt does not hold a limit of 1 for a second window). A plain fixed window would let
        twice the limit through around a boundary (all at the end of one window, all again at
        the start of the next); this lets at most one more."""
        if not self.enabled:
            return True
        now = time.time()
        start = self._window_start(now)
        key = self._key(parts)
        # Kept for two windows: the next window still weighs this one.
        count = current_store().hit(key, start, start + 2 * self.window)
        previous = current_store().count(key, start - self.window)
        elapsed = (now - start) / self.window
        return count + _weighted(previous, elapsed) <= self.attempts

    def is_exceeded(self, *parts: str) -> bool:
        """Whether the key has used up its attempts, without counting one."""
        if not self.enabled:
            return False
        count, previous, elapsed = self._counts(self._key(parts), time.time())
        return count + 1 + _weighted(previous, elapsed) > self.attempts

    def clear(self, *parts: str) -> None:
        current_store().clear(self._key(parts))

    def retry_after(self, *parts: str) -> int:
        """Seconds until the key's next attempt is allowed again (for a Retry-After header).

        Without a key: until the end of the next window, which is always enough."""
        now = time.time()
        start = self._window_start(now)
        if not parts or not self.enabled:
            return max(1, start + 2 * self.window - int(now))
        count, previous, elapsed = self._counts(self._key(parts), now)
        if count + 1 <= self.attempts:
            # This window has room: wait until the previous window weighs little enough.
            room = self.attempts - count - 1
            share = 1.0 if previous == 0 else max(elapsed, 1 - (room + 1) / previous)
            if _weighted(previous, elapsed) <= room:
                share = elapsed
            wait = (share - elapsed) * self.window
        else:
            # Wait into the next window, until this window's count weighs little enough.
            share = max(0.0, 1 - self.attempts / count)
            wait = (1 - elapsed) * self.window + share * self.window
        return max(1, math.ceil(wait))


def _weighted(previous: int, elapsed: float) -> int:
    """The previous window's count, weighted by the share of it the last window still covers."""
    return math.floor(previous * (1 - elapsed))


def _parse_address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address, IPv4-mapped IPv6 (::ffff:1.2.3.4) unwrapped; None when it is not one."""
    try:
        address = ipaddress.ip_address(value.strip()[:64])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@functools.cache
def _networks(
    entries: tuple[str, ...],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def _is_trusted_proxy(address: ipaddress.IPv4Address | ipaddress.IPv6Address | None) -> bool:
    if address is None:
        return False
    return any(
        address.version == network.version and address in network
        for network in _networks(tuple(settings.TRUSTED_PROXY_ADDRESSES))
    )


@functools.lru_cache(maxsize=256)
def is_trusted_proxy_address(value: str, trusted: tuple[str, ...]) -> bool:
    """Is `value` (a REMOTE_ADDR) one of `trusted` (settings.TRUSTED_PROXY_ADDRESSES)? Cached:
    the page-view counter asks once per distinct address, a few thousand times a second."""
    return _is_trusted_proxy(_parse_address(value))


def address_key(address: ipaddress.IPv4Address | ipaddress.IPv6Address | None) -> str:
    """What the limits count for an address: an IPv4 address, or an IPv6 address's /64.

    One IPv6 subscriber is routinely given a whole /64 (2**64 addresses), so counting the exact
    address would let one person rotate through as many limits as they like."""
    if address is None:
        return ""
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def client_address(request: HttpRequest) -> str:
    """The visitor's address as the limits count it (address_key): REMOTE_ADDR, or what the
    trusted reverse proxy says it was.

    TRUSTED_PROXY_HEADER names the header the proxy sets (X-Forwarded-For or X-Real-IP); it is
    believed only when the request comes from one of TRUSTED_PROXY_ADDRESSES, so a visitor
    reaching the app directly cannot name any address they like. With X-Forwarded-For,
    TRUSTED_PROXY_COUNT is how many proxies append to it, so the address is that many entries
    from the right: entries further left were sent by the visitor and could be anything. An
    entry that is not an IP address is ignored (REMOTE_ADDR counts instead).
    """
    return address_from_meta(request.META)


def address_from_meta(meta: dict) -> str:
    """client_address() from a request's META or a WSGI environ (the WSGI front has no request)."""
    header = settings.TRUSTED_PROXY_HEADER
    remote = _parse_address(meta.get("REMOTE_ADDR", ""))
    if not header or not _is_trusted_proxy(remote):
        return address_key(remote)
    value = meta.get("HTTP_" + header.upper().replace("-", "_"), "")
    entries = [entry.strip() for entry in value.split(",") if entry.strip()]
    count = max(1, settings.TRUSTED_PROXY_COUNT)
    if len(entries) < count:
        return address_key(remote)  # not through the proxy chain we were told about
    forwarded = _parse_address(entries[-count])
    return address_key(forwarded if forwarded is not None else remote)
