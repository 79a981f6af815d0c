"""The WSGI front (what `pressroom serve` runs): stored pages go out before Django builds a
request, with the same headers, validators and privacy rules as through the middleware."""

from __future__ import annotations

import io
from wsgiref.util import setup_testing_defaults

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from pressroom.wsgi import application

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _keep_the_test_transaction():
    """The real handler closes database connections after each request; inside a test's
    transaction that would end it, so do what Django's test client does."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def serve(path: str, method: str = "GET", **headers: str) -> tuple[str, dict[str, str], bytes]:
    path, _, query = path.partition("?")
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "HTTP_HOST": "testserver",
        "wsgi.input": io.BytesIO(b""),
        **{f"HTTP_{name.upper()}": value for name, value in headers.items()},
    }
    setup_testing_defaults(environ)
    answer: dict = {}

    def start_response(status: str, response_headers: list, exc_info=None) -> None:
        answer["status"], answer["headers"] = status, dict(response_headers)

    chunks = application(environ, start_response)
    body = b"".join(chunks)
    if hasattr(chunks, "close"):
        chunks.close()
    return answer["status"], answer["headers"], body


def test_a_stored_page_is_served_by_the_wsgi_front_with_every_header(make_article):
    make_article(title="Miners march on Lima")
    status, stored_headers, stored_body = serve("/topics/peru/")
    assert status == "200 OK"
    assert stored_headers["X-Page-Cache"] == "miss"

    status, headers, body = serve("/topics/peru/")
    assert status == "200 OK"
    assert headers["X-Page-Cache"] == "hit"
    assert body == stored_body
    assert "Miners march on Lima" in body.decode()
    for name in ("Content-Type", "ETag", "Cache-Control", "Vary", "X-Content-Type-Options"):
        assert headers[name] == stored_headers[name], name
    assert headers["Content-Length"] == str(len(body))


def test_the_wsgi_front_answers_304_and_head(make_article):
    make_article()
    _, headers, body = serve("/topics/peru/", accept_encoding="br")
    assert headers["Content-Encoding"] == "br"

    status, not_modified, empty = serve(
        "/topics/peru/", accept_encoding="br", if_none_match=headers["ETag"]
    )
    assert status == "304 Not Modified"
    assert empty == b""
    assert not_modified["ETag"] == headers["ETag"]
    assert not_modified["X-Page-Cache"] == "hit"

    status, head_headers, head_body = serve("/topics/peru/", method="HEAD", accept_encoding="br")
    assert status == "200 OK"
    assert head_body == b""
    assert head_headers["Content-Length"] == str(len(body))


def test_the_wsgi_front_leaves_sessions_to_django(make_article, settings):
    make_article()
    serve("/topics/peru/")
    _, headers, _ = serve("/topics/peru/", cookie=f"{settings.SESSION_COOKIE_NAME}=abc")
    assert headers["X-Page-Cache"] == "bypass"


def test_the_counting_wrapper_counts_pages_the_wsgi_front_answers_alone(make_article):
    """With metrics on, pressroom.wsgi wraps the page cache's WSGI front in CountResponses: a
    stored page answered without Django, a miss, a 404 and a webhook's failure are each counted,
    and /metrics' exposition carries the counters."""
    from prometheus_client import REGISTRY

    from pressroom.lib import metrics

    def count(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(f"{name}_total", labels) or 0.0

    counting = metrics.CountResponses(application)
    before = {
        "ok": count("pressroom_http_responses", status="200"),
        "missing": count("pressroom_http_responses", status="404"),
        "hit": count("pressroom_page_cache_requests", result="hit"),
        "miss": count("pressroom_page_cache_requests", result="miss"),
        "webhook": count("pressroom_webhook_responses", status="405"),
    }
    make_article()
    for path in ["/", "/", "/no-such-page/", "/fundraising/stripe/webhook/"]:
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "HTTP_HOST": "testserver"}
        environ["wsgi.input"] = io.BytesIO(b"")
        setup_testing_defaults(environ)
        chunks = counting(environ, lambda status, headers, exc_info=None: None)
        b"".join(chunks)
        if hasattr(chunks, "close"):
            chunks.close()
    assert count("pressroom_http_responses", status="200") == before["ok"] + 2
    assert count("pressroom_http_responses", status="404") == before["missing"] + 1
    assert count("pressroom_page_cache_requests", result="miss") == before["miss"] + 1
    assert count("pressroom_page_cache_requests", result="hit") == before["hit"] + 1
    assert count("pressroom_webhook_responses", status="405") == before["webhook"] + 1
    text = metrics.exposition().decode()
    assert 'pressroom_http_responses_total{status="404"}' in text
