"""Background tasks of the Daily Digest, their schedule (registered by `pressroom worker`), and
the two steps that queue them: fanning a digest out and building-and-queueing today's digest.

The top of the newsletter's digest machinery: it uses digests, fanout, sending and recovery,
and none of them uses it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from functools import partial

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from crontask import cron
from django.conf import settings
from django.db import transaction
from django.tasks import task
from django.utils import timezone

from pressroom.newsletter import digests, fanout, recovery, sending, signup_emails
from pressroom.newsletter.models import Digest

logger = logging.getLogger(__name__)


# A batch that stopped on an error (the mail server went away) is tried again after this long;
# each try counts towards DIGEST_MAX_ATTEMPTS for the rows it claimed.
RETRY_AFTER = timedelta(minutes=1)


@task
def send_signup_email(subscriber_id: int, topic_ids: list[int] | None) -> bool:
    """A signup's confirmation (or "already subscribed") email, sent outside the request."""
    return signup_emails.deliver_signup_email(subscriber_id, topic_ids)


@task
def send_digest_batch(digest_id: int, batch: int) -> int:
    try:
        return sending.send_batch(digest_id, batch)
    except Exception:
        # Its unsent rows are pending again (send_batch released them); queue it for later.
        queue_batches([(digest_id, batch)], timezone.now() + RETRY_AFTER)
        raise


def queue_batches(pairs: list[tuple[int, int]], run_after: datetime | None = None) -> None:
    queued = send_digest_batch.using(run_after=run_after) if run_after else send_digest_batch
    for digest_id, batch in pairs:
        queued.enqueue(digest_id, batch)


def fan_out_and_queue(digest_id: int) -> None:
    """Write every remaining delivery row, queueing each chunk's batches as soon as it is
    committed (for the digest's send time, if it has one)."""
    run_after = Digest.objects.values_list("send_after", flat=True).get(pk=digest_id)
    for pairs in fanout.fan_out(digest_id):
        transaction.on_commit(partial(queue_batches, pairs, run_after))


def build_and_queue_digest(
    now: datetime | None = None, *, send_now: bool = True
) -> tuple[Digest | None, bool]:
    """Build today's digest and queue its batches: now, or at DIGEST_SEND_AT if that is later.

    Returns (digest, created). Running it again (another machine's scheduler, a restart after a
    crash) only finishes an interrupted fan-out, so one digest goes out once.
    """
    now = now or timezone.now()
    send_at = digests.scheduled_send_time(digests.digest_date(now))
    digest, created = digests.create_digest(
        now, send_after=send_at if not send_now and send_at > now else None
    )
    if digest is not None:
        fan_out_and_queue(digest.pk)
        digest.refresh_from_db()
    return digest, created


@cron(
    CronTrigger(
        hour=settings.DIGEST_SEND_AT[0],
        minute=settings.DIGEST_SEND_AT[1],
        timezone=settings.DIGEST_TIMEZONE,
    ),
    sentry_monitor_config=None,
)
@task
def send_daily_digest() -> int | None:
    """Build today's digest (once, however many schedulers fire) and queue its batches.

    With DIGEST_WAIT_FOR_NOTE_UNTIL set and no editor's note yet, it does nothing: saving the
    note builds it (services.save_edition), and the cutoff's own schedule entry builds it then.
    """
    if digests.digest_waits_for_note():
        logger.info("Today's digest waits for the editor's note")
        return None
    digest, created = build_and_queue_digest()
    if digest is None:
        return None
    if created:
        logger.info("Digest %s queued for %s", digest.date, digest.deliveries.count())
    return digest.pk


if settings.DIGEST_WAIT_FOR_NOTE_UNTIL is not None:
    # The end of the wait for the editor's note: the digest goes now, with or without one.
    cron(
        CronTrigger(
            hour=settings.DIGEST_WAIT_FOR_NOTE_UNTIL[0],
            minute=settings.DIGEST_WAIT_FOR_NOTE_UNTIL[1],
            timezone=settings.DIGEST_TIMEZONE,
        ),
        sentry_monitor_config=None,
    )(send_daily_digest)


@task
def start_one_off_send(send_id: int, scheduled_for: str | None = None) -> int:
    """A one-off send's start, at its time: write its delivery rows (its segment, taken now) and
    queue their batches. Idempotent: a second run only resumes an unfinished fan-out.

    `scheduled_for` is the send time the task was queued for (ISO 8601, "" for "now"): a task
    left from a schedule that was cancelled or moved does nothing (fanout.begin_send)."""
    if not fanout.begin_send(send_id, scheduled_for):
        return 0  # cancelled, moved, deleted, or its segment needs the editor's attention
    fan_out_and_queue(send_id)
    return Digest.objects.get(pk=send_id).deliveries.count()


@cron(IntervalTrigger(seconds=settings.DIGEST_RECOVERY_INTERVAL), sentry_monitor_config=None)
@task
def recover_deliveries() -> dict[str, int]:
    """Re-queue deliveries whose worker died, batches whose task was lost, stopped fan-outs."""
    result = recovery.recover_deliveries()
    queue_batches(result.batches or [])
    for digest_id in result.unfinished_fan_outs or []:
        fan_out_and_queue(digest_id)
    if result.requeued_rows or result.given_up_rows or result.batches:
        logger.warning(
            "Digest recovery: %s rows back to pending, %s given up, %s batches queued",
            result.requeued_rows,
            result.given_up_rows,
            len(result.batches or []),
        )
    return {"requeued": result.requeued_rows, "given_up": result.given_up_rows}
