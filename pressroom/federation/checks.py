"""Deployment check of federation (`pressroom check --deploy`): an inbox refuses a signature
already seen, and the signatures seen are kept in the cache; a cache of one process (locmem) or
none (dummy) lets a replay through to another process, or through at all."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Tags, Warning, register

PER_PROCESS_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)


@register(Tags.security, deploy=True)
def check_replay_cache(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    backend = settings.CACHES["default"]["BACKEND"]
    if backend not in PER_PROCESS_CACHES:
        return []
    return [
        Warning(
            f"The cache ({backend.rsplit('.', 1)[-1]}) is not shared between processes: a "
            "signed request replayed to another server process is accepted again.",
            hint="Set CACHE_URL=redis://... (docs/scaling.md), one cache for every process.",
            id="federation.W001",
        )
    ]
