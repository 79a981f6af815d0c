"""Requests through the production WSGI application (`pressroom.wsgi.application`: the counting
front, the page cache's front, Django), as `pressroom serve` hands them over."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from wsgiref.util import setup_testing_defaults

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from pressroom.insight import counting as insight_counting
from pressroom.lib import counting
from pressroom.newsletter import visits
from pressroom.wsgi import application

BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"


@pytest.fixture
def keep_test_transaction(monkeypatch) -> Iterator[None]:
    """The WSGI handler closes the connection after each request; the test's transaction must
    stay open (its rows are what the application reads). The web process's own once-a-minute
    move (a per-process cache) is held off: the tests move the counts when they mean to."""
    monkeypatch.setattr(counting, "_last_flush", time.monotonic())
    monkeypatch.setattr(counting, "FLUSH_SECONDS", 10**6)
    insight_counting.forget_salt()
    visits.forget_started_sends()
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def serve(
    path: str, method: str = "GET", address: str = "203.0.113.7", **headers: str
) -> tuple[str, dict, bytes]:
    path, _, query = path.partition("?")
    headers.setdefault("user_agent", BROWSER)
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "HTTP_HOST": "testserver",
        "REMOTE_ADDR": address,
        "wsgi.input": io.BytesIO(b""),
        **{f"HTTP_{name.upper()}": value for name, value in headers.items()},
    }
    setup_testing_defaults(environ)
    answer: dict = {}

    def start_response(status, response_headers, exc_info=None):
        answer["status"], answer["headers"] = status, dict(response_headers)

    chunks = application(environ, start_response)
    body = b"".join(chunks)
    if hasattr(chunks, "close"):
        chunks.close()
    return answer["status"], answer["headers"], body
