"""Fan-out: one pending delivery row per recipient, written in committed chunks.

Each chunk takes the next receiving subscribers in id order (`Digest.recipients_through` marks
how far it got), inserts their rows with one INSERT … SELECT, numbers them into batches, and
hands those batches over once committed (tasks.py queues them). So workers start sending after the first chunk instead of
after the whole list, and a fan-out interrupted by a crash resumes where it stopped (the digest
row is locked per chunk, so two resuming workers take turns rather than doubling rows; the
unique (digest, subscriber) constraint would refuse doubles anyway).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.db.models import (
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Value,
    Window,
)
from django.db.models.functions import RowNumber
from django.utils import timezone

from pressroom.newsletter import segments
from pressroom.newsletter.models import Delivery, DeliveryBatch, Digest, DigestArticle, Subscriber
from pressroom.newsletter.sending import finish_if_done
from pressroom.publishing.models import ArticleTopic

logger = logging.getLogger(__name__)

BATCHES_PER_CHUNK = 10


def _recipients(digest: Digest) -> QuerySet[Subscriber]:
    """Who gets this digest: receiving, and either every topic or one of its articles' topics;
    for a one-off send, its segment (evaluated now, when the send goes out)."""
    if not digest.is_digest:
        return segments.segment_queryset(digest)
    article_ids = DigestArticle.objects.filter(digest=digest).values("article_id")
    topic_ids = ArticleTopic.objects.filter(article_id__in=article_ids).values("topic_id")
    chosen_topic_matches = Subscriber.topics.through.objects.filter(
        subscriber_id=OuterRef("pk"), topic_id__in=topic_ids
    )
    return Subscriber.objects.receiving().filter(Q(all_topics=True) | Exists(chosen_topic_matches))


def _insert_deliveries(digest: Digest, recipients: QuerySet[Subscriber], first_batch: int) -> int:
    """One INSERT … SELECT: no subscriber row travels through Python."""
    batch_number = ExpressionWrapper(
        first_batch
        + (Window(RowNumber(), order_by=F("pk").asc()) - 1) / settings.DIGEST_BATCH_SIZE,
        output_field=IntegerField(),
    )
    columns = {
        "digest_id": Value(digest.pk, output_field=IntegerField()),
        "subscriber_id": F("pk"),
        "batch": batch_number,
        "state": Value(Delivery.State.PENDING),
        "claim": Value(""),
        "claimed_by": Value(""),
        "message_id": Value(""),
        "error": Value(""),
        "attempts": Value(0, output_field=IntegerField()),
    }
    aliases = {f"row_{name}": expression for name, expression in columns.items()}
    select_sql, params = (
        recipients.annotate(**aliases).values_list(*aliases).query.sql_with_params()
    )
    quote = connection.ops.quote_name
    table = quote(Delivery._meta.db_table)
    names = ", ".join(quote(name) for name in columns)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({names}) {select_sql}", params)
        return cursor.rowcount


def fan_out_chunk(digest_id: int) -> tuple[list[tuple[int, int]], bool]:
    """Write the next chunk of deliveries: returns (the new (digest, batch) pairs, finished)."""
    chunk_size = settings.DIGEST_BATCH_SIZE * BATCHES_PER_CHUNK
    with transaction.atomic():
        digest = Digest.objects.select_for_update().get(pk=digest_id)
        if digest.is_fanned_out:
            return [], True
        if digest.status != Digest.Status.SENDING:
            # Checked under the row lock the cancel takes too: a send cancelled back to draft
            # gets no more rows (and its written rows are skipped by send_batch).
            return [], True
        remaining = _recipients(digest).filter(pk__gt=digest.recipients_through)
        ids = list(remaining.order_by("pk").values_list("pk", flat=True)[:chunk_size])
        pairs: list[tuple[int, int]] = []
        if ids:
            _insert_deliveries(digest, remaining.filter(pk__lte=ids[-1]), digest.next_batch)
            batches = -(-len(ids) // settings.DIGEST_BATCH_SIZE)
            pairs = [(digest.pk, digest.next_batch + n) for n in range(batches)]
            DeliveryBatch.objects.bulk_create(
                [DeliveryBatch(digest=digest, number=number) for _, number in pairs],
                ignore_conflicts=True,
            )
            digest.recipients_through = ids[-1]
            digest.next_batch += batches
        digest.is_fanned_out = len(ids) < chunk_size
        digest.fanned_out_at = timezone.now()
        digest.save(
            update_fields=["recipients_through", "next_batch", "is_fanned_out", "fanned_out_at"]
        )
        return pairs, digest.is_fanned_out


def fan_out(digest_id: int) -> Iterator[list[tuple[int, int]]]:
    """Write every remaining chunk, yielding each chunk's (digest, batch) pairs once it is
    committed, so the caller can queue them while the next chunk is written
    (`tasks.fan_out_and_queue`). Run it to the end: then a digest nobody is to receive is done."""
    finished = False
    while not finished:
        pairs, finished = fan_out_chunk(digest_id)
        if pairs:
            yield pairs
    finish_if_done(digest_id)


def begin_send(send_id: int, scheduled_for: str | None, now: datetime | None = None) -> bool:
    """The start task's claim on its send: True if the send is to go out now.

    Under the row lock cancel_send takes, so exactly one of them wins: once this has marked the
    send begun (fanned_out_at), a cancel is refused; once a cancel has won, this finds a draft.
    A task queued for another time than the send's current one (cancelled and rescheduled) does
    nothing: the task queued for the new time starts it. `scheduled_for` None is a task queued
    before the time was carried; it goes only if the send is due. `now`: the worker's clock.
    """
    now = now or timezone.now()
    with transaction.atomic():
        send = Digest.objects.select_for_update().filter(pk=send_id).first()
        if send is None or send.is_digest or send.status != Digest.Status.SENDING:
            return False
        if scheduled_for is not None:
            expected = datetime.fromisoformat(scheduled_for) if scheduled_for else None
            if expected != send.send_after:
                return False
        if send.send_after and send.send_after > now:
            return False
        if send.fanned_out_at is None and send.missing_segment_topics():
            # A chosen topic was deleted after the send was started: its readers can no longer
            # be told apart, so it is not sent to anyone until an editor looks again.
            send.stop_for_attention(
                "Not sent: a topic of its segment was deleted after it was scheduled. "
                "Check the segment and send it again."
            )
            send.save(update_fields=["status", "send_after", "started_at", "attention"])
            logger.warning("One-off send %s stopped: a segment topic was deleted", send.pk)
            return False
        if send.fanned_out_at is None:
            send.fanned_out_at = now
            send.save(update_fields=["fanned_out_at"])
    return True
