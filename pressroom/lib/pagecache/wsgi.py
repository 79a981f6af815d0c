"""The WSGI front of the page cache: a stored page goes out before Django builds a request.

A hit through the middleware still costs an HttpRequest, an HttpResponse and the handler's
signals; here it costs one stat() (or a poll), one cache read and a header list, which is what
brings a cached page close to a static file. Misses and everything private pass through to
Django untouched; the lookup travels along in the environ so the middleware does not repeat it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from http import HTTPStatus

from pressroom.lib.pagecache.middleware import LOOKUP_ENVIRON_KEY
from pressroom.lib.pagecache.pages import is_public_request, look_up

logger = logging.getLogger(__name__)

STATUS_LINES = {status.value: f"{status.value} {status.phrase}" for status in HTTPStatus}


class PageCacheApplication:
    def __init__(self, application: Callable) -> None:
        self.application = application

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if is_public_request(environ):
            try:
                found = look_up(environ)
            except Exception:  # a cache outage slows pages down; it must not break them
                logger.warning("page cache: lookup failed; serving fresh", exc_info=True)
            else:
                if found.page is None:
                    environ[LOOKUP_ENVIRON_KEY] = found
                else:
                    status, headers, body = found.page.answer(environ, "hit")
                    start_response(STATUS_LINES[status], headers)
                    return [b"" if environ.get("REQUEST_METHOD") == "HEAD" else body]
        return self.application(environ, start_response)
