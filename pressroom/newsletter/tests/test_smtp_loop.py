"""The sending loop over several SMTP connections: skips, pacing, and a server that misbehaves."""

from __future__ import annotations

import time

import pytest

from pressroom.newsletter import sending
from pressroom.newsletter.models import Delivery
from pressroom.newsletter.tests.conftest import build_digest
from pressroom.publishing import services as publishing
from pressroom.publishing.models import Topic


@pytest.mark.django_db(transaction=True)
def test_readers_whose_topics_have_nothing_today_are_skipped_and_get_no_connection(
    smtp_server, make_subscriber, make_article, settings
):
    settings.DIGEST_SMTP_CONNECTIONS = 3
    make_article()  # in the default topic, Peru
    chile = publishing.save_topic(Topic(name="Chile"))
    readers = [make_subscriber(f"reader{n}@example.org") for n in range(4)]
    digest, _ = build_digest()
    # After the rows were written, two readers chose Chile only, which has nothing today.
    for reader in readers[:2]:
        reader.all_topics = False
        reader.save()
        reader.topics.set([chile])

    assert sending.send_all_batches(digest.pk) == 2

    states = dict(Delivery.objects.filter(digest=digest).values_list("subscriber__email", "state"))
    assert states == {
        "reader0@example.org": "skipped",
        "reader1@example.org": "skipped",
        "reader2@example.org": "sent",
        "reader3@example.org": "sent",
    }
    assert sorted(m.recipients[0] for m in smtp_server.messages) == [
        "reader2@example.org",
        "reader3@example.org",
    ]


@pytest.mark.django_db(transaction=True)
def test_a_batch_with_nobody_to_mail_is_recorded_without_a_mail_server(
    smtp_server, make_subscriber, make_article, settings
):
    make_article()
    chile = publishing.save_topic(Topic(name="Chile"))
    reader = make_subscriber()
    digest, _ = build_digest()
    reader.all_topics = False
    reader.save()
    reader.topics.set([chile])
    settings.MAILERS = {
        name: {**mailer, "OPTIONS": {**mailer["OPTIONS"], "port": 1}}  # nothing listens there
        for name, mailer in settings.MAILERS.items()
    }

    assert sending.send_all_batches(digest.pk) == 0

    assert list(Delivery.objects.filter(digest=digest).values_list("state", flat=True)) == [
        "skipped"
    ]
    digest.refresh_from_db()
    assert digest.status == "sent"


@pytest.mark.django_db(transaction=True)
def test_the_send_rate_holds_across_connections_and_everyone_gets_one_copy(
    smtp_server, make_subscriber, make_article, settings
):
    settings.DIGEST_SMTP_CONNECTIONS = 3
    settings.DIGEST_SEND_RATE = 20  # messages a second for the worker: one every 50 ms
    make_article()
    for n in range(7):
        make_subscriber(f"reader{n}@example.org")
    digest, _ = build_digest()

    started = time.monotonic()
    assert sending.send_all_batches(digest.pk) == 7
    elapsed = time.monotonic() - started

    # Seven messages at 20 a second: six waits of 50 ms at least, over all three connections.
    assert elapsed >= 6 * 0.05
    assert sorted(m.recipients[0] for m in smtp_server.messages) == [
        f"reader{n}@example.org" for n in range(7)
    ]
    assert set(Delivery.objects.filter(digest=digest).values_list("state", flat=True)) == {"sent"}
