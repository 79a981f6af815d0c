"""A worker keeps its SMTP connections open from one batch to the next, and closes them once
it has nothing more to send."""

from __future__ import annotations

import time

import pytest

from pressroom.newsletter import digests, sending, smtp_pool
from pressroom.newsletter.models import Delivery
from pressroom.newsletter.tests.conftest import (
    MailSink,
    build_digest,
    smtp_mailers,
    start_smtp_server,
)
from pressroom.workers.heartbeat import HeartbeatThread, heartbeat


def wait_for(condition, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def received_by(sink: MailSink) -> list[str]:
    return sorted(message.recipients[0] for message in sink.messages)


@pytest.mark.django_db(transaction=True)
def test_the_next_batch_reuses_the_connections_until_they_carried_a_batch(
    smtp_server, make_subscriber, make_article, settings
):
    settings.DIGEST_SMTP_CONNECTIONS = 2
    settings.DIGEST_BATCH_SIZE = 4
    make_article()
    readers = [make_subscriber(f"reader{n}@example.org").email for n in range(12)]
    digest, _ = build_digest()
    assert len(digests.batch_numbers(digest)) == 3

    assert sending.send_all_batches(digest.pk) == 12

    assert received_by(smtp_server) == sorted(readers)
    # Two messages a connection a batch: the first two batches share two connections, which
    # have then carried a batch's worth (4) and end with QUIT; the third opens two more.
    assert smtp_server.sessions == 4
    assert smtp_server.quits == 2
    assert smtp_pool.idle_count() == 2


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_closes_connections_left_idle(
    smtp_server, make_subscriber, make_article, settings, monkeypatch
):
    settings.DIGEST_SMTP_CONNECTIONS = 2
    make_article()
    for n in range(2):
        make_subscriber(f"reader{n}@example.org")
    digest, _ = build_digest()
    assert sending.send_all_batches(digest.pk) == 2
    assert smtp_pool.idle_count() == 2

    heartbeat.send(sender=HeartbeatThread, worker_id="this")
    assert smtp_pool.idle_count() == 2  # the next batch may still come
    assert smtp_server.quits == 0

    monkeypatch.setattr(smtp_pool, "IDLE_SECONDS", 0.0)
    heartbeat.send(sender=HeartbeatThread, worker_id="this")
    assert smtp_pool.idle_count() == 0
    assert wait_for(lambda: smtp_server.quits == 2), "each connection ended with QUIT"


@pytest.mark.django_db(transaction=True)
def test_connections_are_kept_per_mail_server(smtp_server, make_subscriber, make_article, settings):
    """A connection to one relay never carries a batch meant for another (settings changed
    between two sends)."""
    make_article()
    make_subscriber("rosa@example.org")
    first, _ = build_digest()
    assert sending.send_all_batches(first.pk) == 1
    other = MailSink()
    controller, port = start_smtp_server(other)
    try:
        settings.MAILERS = smtp_mailers(port)
        first.delete()
        second, _ = build_digest()

        assert sending.send_all_batches(second.pk) == 1

        assert received_by(other) == ["rosa@example.org"]
        assert len(smtp_server.messages) == 1  # the first digest only
    finally:
        smtp_pool.close_idle(0)
        controller.stop()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("noticed", [True, False], ids=["closed-and-noticed", "closed-unnoticed"])
def test_connections_the_server_closed_while_idle_are_replaced_without_failing_the_batch(
    make_subscriber, make_article, settings, monkeypatch, noticed
):
    """The server hung up on idle connections (its idle timeout). Seen before use (the socket
    is readable), they are not used; unseen, each fails on its first command, which is not
    counted as the server failing (two failures in a row would fail the batch): a new
    connection sends the batch."""
    sink = MailSink()
    controller, port = start_smtp_server(sink, timeout=1.5)  # the server's idle timeout
    settings.MAILERS = smtp_mailers(port)
    settings.DIGEST_BATCH_SIZE = 2
    if not noticed:
        monkeypatch.setattr(smtp_pool, "_quiet", lambda idle: True)
    try:
        make_article()
        readers = [make_subscriber(f"reader{n}@example.org").email for n in range(4)]
        digest, _ = build_digest()
        first, second = digests.batch_numbers(digest)
        settings.DIGEST_SMTP_CONNECTIONS = 2

        assert sending.send_batch(digest.pk, first) == 2
        assert smtp_pool.idle_count() == 2
        time.sleep(2.5)  # the server closes both idle connections meanwhile
        settings.DIGEST_SMTP_CONNECTIONS = 1  # both closed ones come before a new one

        assert sending.send_batch(digest.pk, second) == 2

        assert received_by(sink) == sorted(readers)  # each exactly once
        assert sink.sessions == 3
        assert set(Delivery.objects.filter(digest=digest).values_list("state", flat=True)) == {
            "sent"
        }
    finally:
        smtp_pool.close_idle(0)
        controller.stop()
