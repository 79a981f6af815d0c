"""Recovery: deliveries a dead worker held, batches whose task was lost, stopped fan-outs.

A row 'sending' with a claim older than the lease belongs to a dead worker (live workers renew
their claims as they go); it goes back to 'pending' and its batch is queued again. This runs
every DIGEST_RECOVERY_INTERVAL seconds in `pressroom worker` and once when a worker starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from pressroom.newsletter import digests
from pressroom.newsletter.models import Delivery, Digest
from pressroom.newsletter.sending import finish_if_done


@dataclass
class Recovery:
    requeued_rows: int = 0
    given_up_rows: int = 0
    batches: list[tuple[int, int]] | None = None
    unfinished_fan_outs: list[int] | None = None  # digests whose fan-out stopped midway


def recover_deliveries() -> Recovery:
    """Put rows whose worker died back in the queue; returns the (digest, batch) pairs to queue.

    A row 'sending' with a claim older than the lease belongs to a dead worker (live workers
    renew their claims every PROGRESS_EVERY messages). Rows that have failed this way
    DIGEST_MAX_ATTEMPTS times are marked failed instead, so one poisonous address cannot loop.
    Pending rows of a digest with no activity for a lease (their task was lost) are queued too.
    """
    now = timezone.now()
    lease_start = now - timedelta(seconds=settings.DIGEST_CLAIM_LEASE)
    stale = Delivery.objects.filter(state=Delivery.State.SENDING, claimed_at__lt=lease_start)
    result = Recovery(batches=[])
    with transaction.atomic():
        result.given_up_rows = stale.filter(attempts__gte=settings.DIGEST_MAX_ATTEMPTS).update(
            state=Delivery.State.FAILED, error="Gave up: the worker sending it stopped repeatedly."
        )
        batches = set(stale.values_list("digest_id", "batch").distinct().order_by())
        result.requeued_rows = stale.update(state=Delivery.State.PENDING, claim="", claimed_at=None)
    result.unfinished_fan_outs = []
    for digest in Digest.objects.filter(status=Digest.Status.SENDING):
        if not digest.is_fanned_out and (digest.fanned_out_at or digest.created_at) < lease_start:
            result.unfinished_fan_outs.append(digest.pk)
        if digest.send_after and digest.send_after > now:
            continue
        last_claim = digest.deliveries.aggregate(last=Max("claimed_at"))["last"]
        moments = [last_claim, digest.send_after, digest.created_at, digest.fanned_out_at]
        if max(filter(None, moments)) < lease_start:
            batches.update((digest.pk, batch) for batch in digests.batch_numbers(digest))
        finish_if_done(digest.pk)
    result.batches = sorted(batches)
    return result
