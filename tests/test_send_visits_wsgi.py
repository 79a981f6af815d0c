"""Visits through a send's tagged links (?ref=email-N), as production serves them: through
`pressroom.wsgi.application` (the visit counter, then the page cache's front, then Django), so
pages the page cache answers are counted too."""

from __future__ import annotations

import io
import time
from datetime import timedelta
from wsgiref.util import setup_testing_defaults

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.utils import timezone

from pressroom.insight import counting as insight_counting
from pressroom.insight import tasks
from pressroom.lib import counting
from pressroom.newsletter import visits
from pressroom.newsletter.models import Digest, OneOffEmail, SendVisit
from pressroom.newsletter.tests.conftest import run_worker
from pressroom.wsgi import application

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _keep_the_test_transaction(monkeypatch):
    """The WSGI handler closes the connection after each request; the test's transaction must
    stay open (its rows are what the application reads). The web process's own once-a-minute
    move of its counters (per-process cache backends) is held off: the worker moves them here."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    visits.forget_started_sends()
    insight_counting.forget_salt()  # readers seen by earlier tests are forgotten (a new day)
    monkeypatch.setattr(counting, "_last_flush", time.monotonic())
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)
    visits.forget_started_sends()


BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"


def serve(
    path: str, method: str = "GET", address: str = "203.0.113.7", **headers: str
) -> tuple[str, dict, bytes]:
    path, _, query = path.partition("?")
    headers.setdefault("user_agent", BROWSER)
    environ = {
        "REMOTE_ADDR": address,
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "HTTP_HOST": "testserver",
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


def one_off(**fields) -> OneOffEmail:
    now = timezone.now()
    values = {
        "kind": Digest.Kind.APPEAL,
        "subject": "Appeal",
        "body": "<p>Give.</p>",
        "status": Digest.Status.SENT,
        "date": now.date(),
        "covers_from": now,
        "covers_until": now,
        "started_at": now - timedelta(hours=1),
        **fields,
    }
    return OneOffEmail.objects.create(**values)


def stored_visits(send: Digest) -> int:
    return sum(SendVisit.objects.filter(send=send).values_list("visits", flat=True))


def test_five_readers_clicking_the_same_link_are_five_visits_cached_or_not(make_article):
    article = make_article(title="Miners march on Lima")
    send = one_off()
    url = f"{article.get_absolute_url()}?ref=email-{send.pk}"
    caches = []
    for reader in range(5):
        status, headers, _body = serve(url, address=f"198.51.100.{reader + 1}")
        assert status.startswith("200")
        caches.append(headers.get("X-Page-Cache"))
    assert caches == ["miss", "hit", "hit", "hit", "hit"]
    assert SendVisit.objects.count() == 0  # nothing written while readers click
    assert visits.flush_visits() == 5
    assert stored_visits(send) == 5
    assert visits.flush_visits() == 0  # moved once: a second run adds nothing
    assert stored_visits(send) == 5
    serve(url, address="198.51.100.1")  # the first reader again, the same day: no new visit
    visits.flush_visits()
    assert stored_visits(send) == 5


def test_a_tagged_click_is_served_the_untagged_page_from_the_page_cache(make_article):
    article = make_article(title="Miners march on Lima")
    send = one_off()
    _status, headers, plain = serve(article.get_absolute_url())
    assert headers["X-Page-Cache"] == "miss"
    _status, headers, tagged = serve(f"{article.get_absolute_url()}?ref=email-{send.pk}")
    assert headers["X-Page-Cache"] == "hit"
    assert tagged == plain
    assert f"email-{send.pk}".encode() not in plain
    # Made-up tags are no cache misses either (a flood of them renders nothing).
    _status, headers, _body = serve(f"{article.get_absolute_url()}?ref=email-987654321")
    assert headers["X-Page-Cache"] == "hit"
    # Other query parameters are kept as they were sent.
    _status, headers, _body = serve(f"{article.get_absolute_url()}?ref=email-{send.pk}&page=2")
    assert headers["X-Page-Cache"] == "miss"


def test_machines_head_requests_unstarted_and_made_up_sends_are_not_counted(make_article):
    article = make_article(title="Miners march on Lima")
    send = one_off()
    draft = one_off(status=Digest.Status.DRAFT, started_at=None)
    scheduled = one_off(
        status=Digest.Status.SENDING, started_at=timezone.now() + timedelta(hours=2)
    )
    path = article.get_absolute_url()
    serve(f"{path}?ref=email-{send.pk}")  # a reader: counted
    serve(f"{path}?ref=email-{send.pk}", method="HEAD")  # a link scanner's HEAD
    serve(f"{path}?ref=email-{send.pk}", user_agent="", address="198.51.100.20")  # no browser
    for agent in (
        "Mozilla/5.0 (compatible; Googlebot/2.1)",
        "Slackbot-LinkExpanding 1.0",
        "Mozilla/5.0 (compatible; SomeCrawler)",
        "Mozilla/5.0 Spider",
        "Mail Link Preview",
    ):
        serve(f"{path}?ref=email-{send.pk}", user_agent=agent)
    serve(f"{path}?ref=email-{draft.pk}")
    serve(f"{path}?ref=email-{scheduled.pk}")
    serve(f"{path}?ref=email-999999")
    serve(f"{path}?ref=email-1" + "0" * 30)
    status, _headers, _body = serve(f"/digest/?ref=email-{send.pk}", method="POST")
    assert not status.startswith("5")
    visits.flush_visits()
    assert list(SendVisit.objects.values_list("send_id", "visits")) == [(send.pk, 1)]


@pytest.mark.django_db(transaction=True)  # the worker opens and closes connections
def test_the_worker_moves_the_counts_to_the_database(make_article):
    article = make_article(title="Miners march on Lima")
    send = one_off()
    for reader in range(3):
        serve(f"{article.get_absolute_url()}?ref=email-{send.pk}", address=f"198.51.100.{reader}")
    tasks.flush_counts.enqueue()
    run_worker()  # the real task worker, in batch mode
    assert stored_visits(send) == 3
    # One more reader, counted next time.
    serve(f"{article.get_absolute_url()}?ref=email-{send.pk}", address="198.51.100.9")
    tasks.flush_counts.enqueue()
    run_worker()
    visit = SendVisit.objects.get(send=send)
    assert visit.visits == 4
    assert visit.day == timezone.localdate()


def test_the_tag_is_read_from_the_raw_query_string():
    assert visits.send_tag("ref=email-12") == (12, "")
    assert visits.send_tag("a=%20b&ref=email-12&c=d") == (12, "a=%20b&c=d")
    assert visits.send_tag("ref=partner&x=1") == (None, "ref=partner&x=1")
    assert visits.send_tag("ref=email-0") == (None, "ref=email-0")
    assert visits.send_tag("ref=email-" + "9" * 40) == (None, "ref=email-" + "9" * 40)


def test_with_a_per_process_cache_the_web_process_moves_its_counts_once_a_minute(
    make_article, monkeypatch
):
    """With locmem (each process its own cache) the worker cannot read the web process's
    counters: the web process's counting thread moves them itself (never a reader's request),
    at most once a minute."""
    article = make_article(title="Miners march on Lima")
    send = one_off()
    url = f"{article.get_absolute_url()}?ref=email-{send.pk}"
    serve(url, address="198.51.100.1")
    counting.hand_on()  # the counting thread, within the minute: nothing written
    assert stored_visits(send) == 0
    serve(url, address="198.51.100.2")
    assert stored_visits(send) == 0  # the request writes nothing
    monkeypatch.setattr(counting, "_last_flush", time.monotonic() - counting.FLUSH_SECONDS - 1)
    counting.hand_on()
    assert stored_visits(send) == 2
    serve(url, address="198.51.100.3")
    counting.hand_on()
    assert stored_visits(send) == 2  # the next move is a minute later
