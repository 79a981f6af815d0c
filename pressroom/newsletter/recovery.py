"""Recovery: batches a dead worker held, batches whose task was lost, stopped fan-outs.

A batch being sent belongs to the worker process named in its `claimed_by`
(`DeliveryBatch`). When that worker's heartbeat stops (`pressroom.workers`), the claim is
cleared and the batch queued again: every live worker checks this on each of its heartbeats (a
few seconds), so a dead worker's batch is taken over within about 15 s. The slower checks (lost
tasks, stopped fan-outs, rows the release before DeliveryBatch claimed one by one) run every
DIGEST_RECOVERY_INTERVAL seconds in `pressroom worker` and once when a worker starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Max, Q
from django.utils import timezone

from pressroom.newsletter import digests
from pressroom.newsletter.models import Delivery, DeliveryBatch, Digest
from pressroom.newsletter.sending import finish_if_done, held_claims, release
from pressroom.workers.heartbeat import current_worker_id
from pressroom.workers.models import WorkerHeartbeat

# A digest with pending rows and no claim, fan-out or start for this long has lost its batch
# tasks (a process died between committing and queueing them): they are queued again, which is
# harmless if they were only slow, since a batch is held by one worker at a time.
STALLED_AFTER = timedelta(minutes=5)


@dataclass
class Recovery:
    requeued_rows: int = 0
    given_up_rows: int = 0
    batches: list[tuple[int, int]] | None = None
    unfinished_fan_outs: list[int] | None = None  # digests whose fan-out stopped midway


def release_dead_claims() -> Recovery:
    """Let go of batches held by dead workers (and this worker's own abandoned claims).

    A batch taken DIGEST_MAX_ATTEMPTS times has its rows still pending marked failed instead, so
    one poisonous address cannot loop. Returns the (digest, batch) pairs to queue again.
    """
    alive = WorkerHeartbeat.objects.alive().values("worker_id")
    # `~Q(claim="")` as in the partial index `delivery_batch_held`, which SQLite then uses.
    claimed = DeliveryBatch.objects.filter(~Q(claim=""))
    abandoned = claimed.filter(~Q(claimed_by__in=alive))
    if current_worker_id() in {row["worker_id"] for row in alive}:
        # Claims of this process that no task of it is sending (the task stopped on an error).
        # This runs in the heartbeat's thread while tasks claim batches. A task lists its claim
        # before writing it, so the batches are read first and the list after: a claim seen in
        # the batches and missing from the list was not being made (reading the list first
        # released a claim written in between, and sent its messages on the wire twice).
        mine = claimed.filter(claimed_by=current_worker_id())
        stale = set(mine.values_list("claim", flat=True)) - set(held_claims())
        if stale:
            abandoned |= mine.filter(claim__in=stale)
    released = release(abandoned)
    for digest_id in released.finished_digests:
        finish_if_done(digest_id)  # its last batches may have been given up just now
    return Recovery(
        requeued_rows=released.pending_rows,
        given_up_rows=released.given_up_rows,
        batches=released.batches,
    )


def _release_rows_claimed_one_by_one() -> list[tuple[int, int]]:
    """Rows the release before DeliveryBatch claimed ('sending') for a worker now dead: back to
    pending. Read per sending digest through `delivery_digest_state`; none after an upgrade."""
    alive = WorkerHeartbeat.objects.alive().values("worker_id")
    rows = Delivery.objects.filter(
        digest__in=Digest.objects.filter(status=Digest.Status.SENDING),
        state=Delivery.State.SENDING,
    ).filter(~Q(claimed_by__in=alive))
    batches = set(rows.values_list("digest_id", "batch").distinct().order_by())
    if batches:
        rows.update(state=Delivery.State.PENDING, claim="", claimed_by="")
        # A batch let go while these rows were someone else's counted none of them pending.
        for digest_id, number in batches:
            DeliveryBatch.objects.filter(digest_id=digest_id, number=number).update(
                finished_at=None
            )
    return sorted(batches)


def _finish_batches_sent_elsewhere(digest: Digest, now: datetime) -> None:
    """Batches with no row left to send that nobody holds: the release before DeliveryBatch
    sent them (it claimed rows, not batches), or their rows were skipped. Finished, so that the
    digest can be (`finish_if_done` waits for every batch)."""
    left = digest.deliveries.filter(
        state__in=[Delivery.State.PENDING, Delivery.State.SENDING]
    ).values("batch")
    digest.batches.filter(claim="", finished_at__isnull=True).exclude(number__in=left).update(
        finished_at=now
    )


def recover_deliveries() -> Recovery:
    """Release dead workers' rows, and find digests whose batch tasks or fan-out were lost."""
    result = release_dead_claims()
    now = timezone.now()
    stalled_since = now - STALLED_AFTER
    batches = set(result.batches or [])
    batches.update(_release_rows_claimed_one_by_one())
    result.unfinished_fan_outs = []
    for digest in Digest.objects.filter(status=Digest.Status.SENDING):
        # A scheduled one-off send fans out at its send time (its segment is taken then).
        fan_out_moments = [digest.fanned_out_at or digest.created_at, digest.send_after]
        if not digest.is_fanned_out and max(filter(None, fan_out_moments)) < stalled_since:
            result.unfinished_fan_outs.append(digest.pk)
        if digest.send_after and digest.send_after > now:
            continue
        last_claim = digest.batches.aggregate(last=Max("claimed_at"))["last"]
        moments = [last_claim, digest.send_after, digest.created_at, digest.fanned_out_at]
        if max(filter(None, moments)) < stalled_since:
            batches.update((digest.pk, batch) for batch in digests.batch_numbers(digest))
            _finish_batches_sent_elsewhere(digest, now)
        finish_if_done(digest.pk)
    result.batches = sorted(batches)
    return result
