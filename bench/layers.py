"""The WSGI application `pressroom serve` runs, with cache layers switched off for a benchmark.

`BENCH_LAYERS_OFF` (comma-separated names from LAYERS) says which. bench/pages.py serves this
module with granian exactly as `pressroom serve` serves `pressroom.wsgi:application`, so a row
measured here differs from the default one by the switched-off layers only. Not used by the
application; switching layers off is a benchmark's business, not a setting.
"""

from __future__ import annotations

import os
from collections.abc import Callable

LAYERS = {
    "wsgi-front": "the WSGI front: stored pages answered before Django builds a request",
    "page-memory": "each process's own copy of the hottest stored pages (no unpickling)",
    "teasers": "each teaser's markup kept per process",
    "owners": "the topic or author of an archive page kept per process",
    "fragments": "{% fragment %}: header, footer, signup form, <head> links kept per process",
    "navigation": "the header's featured topics kept per process",
    "banner": "the campaign banner's figures and markup kept per process",
    "records": "the authors and topics an article page shows, by id, kept per process",
    "related": "each topic's newest teasers (an article page's related articles) kept per process",
}


def switched_off() -> set[str]:
    names = {name for name in os.environ.get("BENCH_LAYERS_OFF", "").split(",") if name}
    unknown = names - LAYERS.keys()
    if unknown:
        raise SystemExit(f"bench layers: unknown layer(s) {', '.join(sorted(unknown))}")
    return names


# The memos of parts of pages: (module, attribute) of each ContentMemo.
MEMOS = {
    "teasers": ("pressroom.publishing.templatetags.publishing", "_teaser_markup"),
    "owners": ("pressroom.publishing.listings", "_owners"),
    "fragments": ("pressroom.front.templatetags.front", "_fragments"),
    "navigation": ("pressroom.publishing.listings", "_featured"),
    "banner": ("pressroom.fundraising.banner", "_banners"),
    "records": ("pressroom.publishing.article_page", "_records"),
    "related": ("pressroom.publishing.article_page", "_topic_newest"),
}
_kept_entries: dict[str, int] = {}


def keep(name: str, on: bool) -> None:
    """Switch one memo off (it then works every value out afresh: what the page costs without
    it) or back on."""
    import importlib

    module, attribute = MEMOS[name]
    memo = getattr(importlib.import_module(module), attribute)
    _kept_entries.setdefault(name, memo.max_entries)
    memo.max_entries = _kept_entries[name] if on else 0


def build() -> Callable:
    off = switched_off()
    from pressroom import wsgi
    from pressroom.lib.pagecache import middleware, pages

    if "page-memory" in off:

        def remember(key: str, page: object) -> None:
            return None

        pages.remember = middleware.remember = remember  # type: ignore[assignment]
        pages.recall = lambda key: None  # type: ignore[assignment]
    for name in MEMOS.keys() & off:
        keep(name, False)
    if "wsgi-front" in off:
        return wsgi.django_application
    return wsgi.application


# Only where granian loads it: bench/profile.py imports this module for keep().
application = build() if os.environ.get("BENCH_LAYERS_OFF") else None
