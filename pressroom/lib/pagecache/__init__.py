"""The anonymous page cache: public pages rendered once, served from the cache, compressed once.

The contract a public page relies on is at the top of docs/scaling.md. In short: everything a
public page shows is kept under one content generation (generation.py), which moves on when an
app announces a change (`forget_cached_pages`, after commit), when a moment an app registered
passes (`register_next_publication`), and at least every PAGE_CACHE_SECONDS.

- generation.py: the content generation, where it lives, and the hooks apps register into.
- memo.py: parts of pages each process keeps under it (teasers, fragments, the banner).
- pages.py: which requests may share a page, page keys, compression, validators (304).
- middleware.py: stores shareable responses (first in MIDDLEWARE): pages, and permanent
  redirects and 410s marked shareable (mark_shareable); compresses the rest.
- wsgi.py: serves stored pages before Django builds a request (pressroom/wsgi.py wraps it).
"""

from pressroom.lib.pagecache.generation import (
    GENERATION_KEY,
    FileGeneration,
    SharedCacheGeneration,
    current_generation,
    forget_cached_pages,
    register_next_publication,
)
from pressroom.lib.pagecache.memo import ContentMemo
from pressroom.lib.pagecache.middleware import PageCacheMiddleware, mark_shareable
from pressroom.lib.pagecache.pages import preferred_encoding
from pressroom.lib.pagecache.wsgi import PageCacheApplication

__all__ = [
    "GENERATION_KEY",
    "ContentMemo",
    "FileGeneration",
    "PageCacheApplication",
    "PageCacheMiddleware",
    "SharedCacheGeneration",
    "current_generation",
    "forget_cached_pages",
    "mark_shareable",
    "preferred_encoding",
    "register_next_publication",
]
