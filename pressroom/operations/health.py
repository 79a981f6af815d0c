"""Is this process able to serve? Used by /readyz and by `pressroom doctor`."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.cache import cache
from django.core.cache.backends.redis import RedisCache
from django.db import connection
from django.utils.module_loading import import_string


def check_database() -> None:
    """Raises (an OperationalError, usually) unless a query answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def has_shared_cache() -> bool:
    """Redis, or a backend built on Django's (pressroom.lib.cache.ResilientRedisCache)."""
    backend = import_string(settings.CACHES["default"]["BACKEND"])
    return isinstance(backend, type) and issubclass(backend, RedisCache)


def check_cache() -> None:
    """A write and a read through the cache; raises if the cache server does not answer."""
    key = f"readyz:{secrets.token_hex(4)}"
    cache.set(key, "1", timeout=10)
    if cache.get(key) != "1":
        raise RuntimeError("a value written to the cache did not come back")
    cache.delete(key)


def readiness() -> dict[str, str]:
    """Each dependency's state: "ok" or "unavailable". The cache counts only when it is shared
    (Redis): the in-process cache cannot be down while the process answers."""
    checks = {"database": check_database}
    if has_shared_cache():
        checks["cache"] = check_cache
    states = {}
    for name, check in checks.items():
        try:
            check()
        except Exception:
            states[name] = "unavailable"
        else:
            states[name] = "ok"
    return states
