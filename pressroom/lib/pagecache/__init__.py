"""The anonymous page cache: public pages rendered once, served from the cache, compressed once.

- generation.py: the content generation every stored page is filed under; content_changed
  bumps it, so a publish, correction, unpublish or delete is visible on the next request.
- pages.py: which requests may share a page, page keys, compression, validators (304).
- middleware.py: stores shareable responses (first in MIDDLEWARE); compresses the rest.
- wsgi.py: serves stored pages before Django builds a request (pressroom/wsgi.py wraps it).

Entries also expire after PAGE_CACHE_SECONDS without any change (campaign figures may be that
stale) and when the next scheduled article becomes public. docs/performance.md has figures.
"""

from pressroom.lib.pagecache.generation import (
    GENERATION_KEY,
    FileGeneration,
    SharedCacheGeneration,
    bump_generation,
    content_memo,
    current_generation,
)
from pressroom.lib.pagecache.middleware import PageCacheMiddleware
from pressroom.lib.pagecache.pages import preferred_encoding
from pressroom.lib.pagecache.wsgi import PageCacheApplication

__all__ = [
    "GENERATION_KEY",
    "FileGeneration",
    "PageCacheApplication",
    "PageCacheMiddleware",
    "SharedCacheGeneration",
    "bump_generation",
    "content_memo",
    "current_generation",
    "preferred_encoding",
]
