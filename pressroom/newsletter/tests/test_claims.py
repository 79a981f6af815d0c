"""Claims of digest batches: a worker presumed dead stops, a failed batch lets go of itself."""

from __future__ import annotations

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from pressroom.newsletter import recovery, sending, tasks
from pressroom.newsletter.models import Delivery, DeliveryBatch
from pressroom.newsletter.tests.conftest import build_digest
from pressroom.workers import heartbeat

READERS = 12


@pytest.fixture
def queued_digest(make_subscriber, make_article, settings):
    settings.DIGEST_BATCH_SIZE = READERS
    make_article()
    for n in range(READERS):
        make_subscriber(f"reader{n}@example.org")
    digest, _ = build_digest()
    return digest


@pytest.mark.parametrize("connections", [1, 2])
@pytest.mark.django_db(transaction=True)
def test_a_worker_whose_batch_was_taken_over_stops_within_one_message_per_connection(
    smtp_server, queued_digest, settings, monkeypatch, connections
):
    """A live worker presumed dead (its heartbeat stalled) must not keep sending the batch."""
    settings.DIGEST_SMTP_CONNECTIONS = connections
    smtp_server.delay = 0.02
    flush = sending._Outcomes.flush
    taken: dict[str, int] = {}

    def flush_then_lose_the_claim(outcomes: sending._Outcomes) -> None:
        flush(outcomes)
        sent = Delivery.objects.filter(state="sent").count()
        if sent >= 3 and not taken:
            # What a live worker does on its heartbeat: release, then its task claims the batch.
            taken["received"] = len(smtp_server.messages)
            taken["batches"] = DeliveryBatch.objects.filter(digest=queued_digest).update(
                claim="other", claimed_by="other-worker"
            )

    monkeypatch.setattr(sending._Outcomes, "flush", flush_then_lose_the_claim)

    sending.send_batch(queued_digest.pk, 0)

    assert taken["batches"] == 1
    received = len(smtp_server.messages)
    # At most the message each connection had on the wire went out after the take-over.
    assert received <= taken["received"] + settings.DIGEST_SMTP_CONNECTIONS
    assert received < READERS
    # The rows left are the other worker's to send: not marked by the stopped one, whose
    # messages recorded before the take-over stay sent.
    rows = Delivery.objects.filter(digest=queued_digest)
    assert rows.filter(state="pending").count() == READERS - rows.filter(state="sent").count()
    assert rows.filter(state="sent").count() >= 3
    batch = DeliveryBatch.objects.get(digest=queued_digest)
    assert (batch.claim, batch.claimed_by) == ("other", "other-worker")


@pytest.mark.django_db(transaction=True)
def test_a_batch_that_loses_its_mail_server_lets_go_of_its_rows_and_is_queued_again(
    smtp_server, queued_digest, settings
):
    settings.MAILERS = {
        name: {**mailer, "OPTIONS": {**mailer["OPTIONS"], "port": 1}}  # nothing listens there
        for name, mailer in settings.MAILERS.items()
    }
    before = timezone.now()

    with pytest.raises(ConnectionRefusedError):
        tasks.send_digest_batch.call(queued_digest.pk, 0)

    rows = Delivery.objects.filter(digest=queued_digest)
    assert set(rows.values_list("state", flat=True)) == {"pending"}
    batch = DeliveryBatch.objects.get(digest=queued_digest)
    assert (batch.claim, batch.claimed_by, batch.attempts) == ("", "", 1)
    retry = DBTaskResult.objects.get(task_path__endswith="send_digest_batch")
    assert retry.args_kwargs["args"] == [queued_digest.pk, 0]
    assert retry.run_after >= before + tasks.RETRY_AFTER


@pytest.mark.django_db
def test_the_heartbeat_releases_this_workers_claims_that_no_task_is_sending(queued_digest):
    heartbeat.beat(force=True)
    me = heartbeat.current_worker_id()
    DeliveryBatch.objects.filter(digest=queued_digest, number=0).update(
        claim="abandoned", claimed_by=me, attempts=1
    )
    DeliveryBatch.objects.create(
        digest=queued_digest, number=1, claim="running", claimed_by=me, attempts=1
    )
    sending.active_claims.add("running")
    try:
        result = recovery.release_dead_claims()
    finally:
        sending.active_claims.discard("running")

    assert result.requeued_rows == READERS  # batch 0's rows, all still pending
    assert result.batches == [(queued_digest.pk, 0)]
    claims = dict(DeliveryBatch.objects.filter(digest=queued_digest).values_list("number", "claim"))
    assert claims == {0: "", 1: "running"}


@pytest.mark.django_db
def test_a_claim_being_made_while_the_heartbeat_looks_is_not_released(queued_digest, monkeypatch):
    """The heartbeat's thread reads this process's claimed batches, then the list of claims its
    tasks hold. A task lists a claim before writing it: a claim written after the batches were
    read is not among them, so it cannot be taken for abandoned (as it was when the list came
    first)."""
    heartbeat.beat(force=True)
    me = heartbeat.current_worker_id()
    real_held_claims = recovery.held_claims

    def a_task_claims_meanwhile() -> list[str]:
        listed = real_held_claims()
        # A task of this process lists its claim and writes it right now.
        sending.active_claims.add("new")
        DeliveryBatch.objects.filter(digest=queued_digest, number=0).update(
            claim="new", claimed_by=me, attempts=1
        )
        return listed

    monkeypatch.setattr(recovery, "held_claims", a_task_claims_meanwhile)
    try:
        result = recovery.release_dead_claims()
    finally:
        sending.active_claims.discard("new")

    assert result.batches == []
    assert DeliveryBatch.objects.get(digest=queued_digest, number=0).claim == "new"


@pytest.mark.django_db
def test_a_batch_queued_twice_is_sent_by_one_worker_only(smtp_server, queued_digest):
    """The second task for a batch another worker holds sends nothing and leaves it alone."""
    DeliveryBatch.objects.filter(digest=queued_digest, number=0).update(
        claim="elsewhere", claimed_by="other-worker"
    )

    assert sending.send_batch(queued_digest.pk, 0) == 0

    assert smtp_server.messages == []
    assert DeliveryBatch.objects.get(digest=queued_digest, number=0).claim == "elsewhere"
    assert set(Delivery.objects.filter(digest=queued_digest).values_list("state", flat=True)) == {
        "pending"
    }


@pytest.mark.django_db
def test_a_batch_fanned_out_by_the_previous_release_gets_its_row_when_claimed(
    smtp_server, queued_digest
):
    """Fanned out during an upgrade by code that wrote no DeliveryBatch rows: sent all the same."""
    DeliveryBatch.objects.filter(digest=queued_digest).delete()

    assert sending.send_batch(queued_digest.pk, 0) == READERS

    assert len(smtp_server.messages) == READERS
    batch = DeliveryBatch.objects.get(digest=queued_digest, number=0)
    assert (batch.claim, batch.attempts) == ("", 1)


@pytest.mark.django_db(transaction=True)
def test_a_reader_erased_mid_send_does_not_stop_the_batch(smtp_server, queued_digest, monkeypatch):
    """A row of the batch deleted by another process (an erasure in the admin) while its message
    is on the wire: the record comes up one short, the worker still holds the batch, and it
    goes on to the end."""
    flush = sending._Outcomes.flush
    erased: list[int] = []

    def flush_after_an_erasure(outcomes: sending._Outcomes) -> None:
        if outcomes.sent and not erased:
            erased.append(outcomes.sent[0])
            Delivery.objects.filter(id=outcomes.sent[0]).delete()
        flush(outcomes)

    monkeypatch.setattr(sending._Outcomes, "flush", flush_after_an_erasure)

    assert sending.send_batch(queued_digest.pk, 0) == READERS

    assert len(smtp_server.messages) == READERS
    rows = Delivery.objects.filter(digest=queued_digest)
    assert set(rows.values_list("state", flat=True)) == {"sent"}
    assert rows.count() == READERS - 1
    queued_digest.refresh_from_db()
    assert queued_digest.status == "sent"


@pytest.mark.django_db(transaction=True)
def test_a_batch_that_stops_while_still_held_lets_go_and_is_queued_again(
    smtp_server, queued_digest, monkeypatch, settings
):
    """The safety net: whatever stops a batch while this worker still holds it, with rows left,
    the batch is let go unfinished and its task queues it again (no five-minute stall check)."""
    flush = sending._Outcomes.flush

    def flush_then_stop(outcomes: sending._Outcomes) -> None:
        flush(outcomes)
        if outcomes.recorded >= 3:
            outcomes.stop("stopped for the test")

    monkeypatch.setattr(sending._Outcomes, "flush", flush_then_stop)

    with pytest.raises(sending.BatchInterrupted, match="to send"):
        tasks.send_digest_batch.call(queued_digest.pk, 0)

    batch = DeliveryBatch.objects.get(digest=queued_digest, number=0)
    assert (batch.claim, batch.finished_at) == ("", None)
    assert Delivery.objects.filter(digest=queued_digest, state="pending").exists()
    retry = DBTaskResult.objects.get(task_path__endswith="send_digest_batch")
    assert retry.args_kwargs["args"] == [queued_digest.pk, 0]

    # The retry sends the rest, once each, and the send finishes.
    monkeypatch.setattr(sending._Outcomes, "flush", flush)
    sending.send_batch(queued_digest.pk, 0)
    assert set(Delivery.objects.filter(digest=queued_digest).values_list("state", flat=True)) == {
        "sent"
    }
    received = [recipient for message in smtp_server.messages for recipient in message.recipients]
    assert set(received) == {f"reader{n}@example.org" for n in range(READERS)}
    # Again only what was on the wire when it stopped: a message per connection at most.
    assert len(received) <= READERS + settings.DIGEST_SMTP_CONNECTIONS
    queued_digest.refresh_from_db()
    assert queued_digest.status == "sent"
    assert DeliveryBatch.objects.get(digest=queued_digest, number=0).finished_at is not None
