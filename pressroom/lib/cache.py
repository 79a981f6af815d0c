"""Redis as the cache, and the database behind it while Redis is away.

With Redis down, Django's RedisCache raises on every call, and every request that touches the
cache answers 500 (the digest signup's rate limit, the donor portal's throttle) while the log
gets a traceback per request. This backend turns an unreachable Redis into cache misses instead:
reads miss (pages are rendered from the database), writes are dropped, and the counters that
throttle forms (`add`, `incr`) live in this process meanwhile. It logs one line per minute per
process while Redis stays away, and asks Redis again after RETRY_SECONDS, so an outage costs
no request a connection timeout each.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

UNREACHABLE = (RedisConnectionError, RedisTimeoutError, ConnectionError, TimeoutError)
RETRY_SECONDS = 2.0
LOG_EVERY_SECONDS = 60.0


@dataclass
class Outage:
    """What one process knows of one Redis server's outage. Django makes a cache backend per
    thread, so this lives beside them: every thread skips Redis together and one line is logged
    a minute per process, not per thread."""

    down_until: float = 0.0
    logged_at: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


_outages: dict[str, Outage] = {}
_outages_lock = threading.Lock()


class ResilientRedisCache(RedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        options = dict(params.get("OPTIONS") or {})
        # Without these, a Redis host that does not answer holds each request until the
        # operating system gives up on the connection (minutes).
        options.setdefault("socket_connect_timeout", 1.0)
        options.setdefault("socket_timeout", 1.0)
        super().__init__(server, {**params, "OPTIONS": options})
        self._counters = LocMemCache("pressroom-redis-outage", {"OPTIONS": {"MAX_ENTRIES": 10000}})
        with _outages_lock:
            self._outage = _outages.setdefault(str(server), Outage())

    @property
    def available(self) -> bool:
        return time.monotonic() >= self._outage.down_until

    def _unreachable(self, error: BaseException) -> None:
        now = time.monotonic()
        outage = self._outage
        with outage.lock:
            outage.down_until = now + RETRY_SECONDS
            if now - outage.logged_at >= LOG_EVERY_SECONDS or not outage.logged_at:
                outage.logged_at = now
                logger.warning(
                    "cache: Redis is unreachable (%s); serving from the database meanwhile",
                    error,
                )

    def _call(self, method: Callable[..., Any], outage: Callable[[], Any], *args, **kwargs):
        if not self.available:
            return outage()
        try:
            return method(*args, **kwargs)
        except UNREACHABLE as error:
            self._unreachable(error)
            return outage()

    def get(self, key, default=None, version=None):
        return self._call(super().get, lambda: default, key, default, version)

    def get_many(self, keys, version=None):
        return self._call(super().get_many, dict, keys, version)

    def has_key(self, key, version=None):
        return self._call(super().has_key, lambda: False, key, version)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call(super().set, lambda: None, key, value, timeout, version)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call(super().set_many, lambda: list(data), data, timeout, version)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call(super().touch, lambda: False, key, timeout, version)

    def delete(self, key, version=None):
        return self._call(super().delete, lambda: False, key, version)

    def delete_many(self, keys, version=None):
        return self._call(super().delete_many, lambda: None, keys, version)

    def clear(self):
        return self._call(super().clear, lambda: False)

    # Throttles and rate limits (`add` once, then `incr`) keep counting in this process.
    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._call(
            super().add,
            lambda: self._counters.add(key, value, self._outage_timeout(timeout), version),
            key,
            value,
            timeout,
            version,
        )

    def incr(self, key, delta=1, version=None):
        return self._call(
            super().incr, lambda: self._counters.incr(key, delta, version), key, delta, version
        )

    def decr(self, key, delta=1, version=None):
        return self._call(
            super().decr, lambda: self._counters.decr(key, delta, version), key, delta, version
        )

    def _outage_timeout(self, timeout: Any) -> Any:
        return self.default_timeout if timeout is DEFAULT_TIMEOUT else timeout
