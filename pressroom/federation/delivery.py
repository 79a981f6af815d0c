"""Activities we send and their deliveries: one per (shared) inbox, posted signed by the
worker a batch at a time, retried with exponential backoff while the failure may pass."""

from __future__ import annotations

import json
import random
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from pressroom.federation import documents, signatures
from pressroom.federation.models import Activity, ActorKey, Delivery, Instance
from pressroom.lib import outbound

MAX_ERROR = 500
# Deliveries per task, and posted at once by one task: a task's own bookkeeping in the queue
# (claim, result) is shared by BATCH deliveries, and a slow server holds one thread, not the
# worker.
BATCH = 20
CONCURRENCY = 8


def record_activity(
    kind: str,
    actor: str,
    obj: Any,
    inboxes: dict[str, str],
    *,
    to: list[str],
    cc: list[str],
    article_id: int | None = None,
) -> list[int]:
    """Record `kind` by our `actor` and one delivery per inbox (dead instances skipped);
    returns the ids of the deliveries to queue."""
    record = Activity(kind=kind, actor_name=actor, article_id=article_id)
    record.document = json.dumps(
        documents.activity(kind, record.id, actor, obj, to=to, cc=cc), ensure_ascii=False
    )
    record.save()
    dead = set(
        Instance.objects.filter(domain__in=set(inboxes.values()), dead_since__isnull=False)
        .values_list("domain", flat=True)
        .iterator(chunk_size=5000)
    )
    rows = [
        Delivery(
            activity=record,
            inbox_url=inbox,
            domain=domain,
            state=Delivery.State.SKIPPED if domain in dead else Delivery.State.PENDING,
        )
        for inbox, domain in inboxes.items()
        if not signatures.is_blocked(domain)
    ]
    Delivery.objects.bulk_create(rows, batch_size=1000)
    pending = list(
        Delivery.objects.filter(activity=record, state=Delivery.State.PENDING).values_list(
            "pk", flat=True
        )
    )
    return pending


def _post(delivery: Delivery, private_key_pem: str) -> tuple[int, str]:
    """Post one delivery signed by its activity's actor: (status, "" or why it failed). No
    database here: it runs in a thread of its own."""
    activity = delivery.activity
    body = activity.document.encode()
    headers = signatures.signed_headers(
        "POST",
        delivery.inbox_url,
        body,
        key_id=documents.key_id(activity.actor_name),
        private_key_pem=private_key_pem,
    )
    try:
        response = outbound.fetch(
            delivery.inbox_url,
            method="POST",
            body=body,
            headers={**headers, "Accept": signatures.ACTIVITY_JSON},
            max_bytes=64 * 1024,
            total_timeout=settings.FEDERATION_DELIVERY_TIMEOUT,
            max_redirects=0,
        )
    except outbound.TooManyRedirectsError as failure:
        # An inbox does not move: a redirect is a refusal, not something to retry for days.
        return 300, str(failure)
    except outbound.OutboundError as failure:
        return 0, str(failure)
    return response.status, "" if response.ok else f"{delivery.domain} answered {response.status}"


def deliver(delivery_ids: list[int]) -> list[tuple[int, datetime]]:
    """Post pending deliveries (a few at once), each signed by its activity's actor; skip
    those to dead instances. A failure that may pass (no answer, a timeout, 429, 5xx) is tried
    again later with exponential backoff for up to FEDERATION_RETRY_HOURS, then the instance is
    marked dead; a refusal for good (another 4xx) is not retried. Returns the deliveries to try
    again and when. Safe to run twice: only pending deliveries are posted."""
    deliveries = list(
        Delivery.objects.select_related("activity").filter(
            pk__in=delivery_ids, state=Delivery.State.PENDING
        )
    )
    if not deliveries:
        return []
    domains = {delivery.domain for delivery in deliveries}
    Instance.objects.bulk_create(
        [Instance(domain=domain) for domain in domains], ignore_conflicts=True
    )
    dead = set(
        Instance.objects.filter(domain__in=domains, dead_since__isnull=False).values_list(
            "domain", flat=True
        )
    )
    Delivery.objects.filter(
        pk__in=[delivery.pk for delivery in deliveries if delivery.domain in dead]
    ).update(state=Delivery.State.SKIPPED)
    live = [delivery for delivery in deliveries if delivery.domain not in dead]
    keys = {
        name: ActorKey.for_actor(name).private_key_pem
        for name in {delivery.activity.actor_name for delivery in live}
    }
    with ThreadPoolExecutor(
        max_workers=max(1, min(CONCURRENCY, len(live))), thread_name_prefix="deliver"
    ) as pool:
        results = list(
            pool.map(lambda delivery: _post(delivery, keys[delivery.activity.actor_name]), live)
        )
    now = timezone.now()
    delivered = [delivery for delivery, (_, error) in zip(live, results, strict=True) if not error]
    Delivery.objects.filter(pk__in=[delivery.pk for delivery in delivered]).update(
        state=Delivery.State.DELIVERED, delivered_at=now, attempts=F("attempts") + 1
    )
    Instance.objects.filter(domain__in={delivery.domain for delivery in delivered}).update(
        last_delivered_at=now, failing_since=None, last_error=""
    )
    retries = []
    for delivery, (status, error) in zip(live, results, strict=True):
        if error:
            retry_at = _failed(delivery, status, error, now)
            if retry_at is not None:
                retries.append((delivery.pk, retry_at))
    return retries


def _failed(delivery: Delivery, status: int, error: str, now: datetime) -> datetime | None:
    """Record a failed attempt; when to try again (None: not again)."""
    delivery.attempts += 1
    delivery.first_failure_at = delivery.first_failure_at or now
    delivery.last_error = error[:MAX_ERROR]
    instance = Instance.objects.filter(domain=delivery.domain)
    instance.filter(failing_since__isnull=True).update(failing_since=now)
    instance.update(last_error=error[:MAX_ERROR])
    permanent = 300 <= status < 500 and status not in (408, 429)
    window = timedelta(hours=settings.FEDERATION_RETRY_HOURS)
    if permanent or delivery.gives_up(now, window):
        delivery.state = Delivery.State.FAILED
        delivery.next_attempt_at = None
        if not permanent:
            # Dead only when nothing reached it since this delivery began failing: one
            # delivery given up on does not kill a server that takes the others.
            instance.filter(
                Q(last_delivered_at__isnull=True)
                | Q(last_delivered_at__lt=delivery.first_failure_at)
            ).update(dead_since=now)
    else:
        # A little jitter, so that the retries of one outage do not all come back at once.
        delay = delivery.retry_delay(settings.FEDERATION_RETRY_SECONDS)
        delivery.next_attempt_at = now + delay * random.uniform(1.0, 1.1)
    # Only while still pending: a Delete recorded meanwhile may have cancelled it.
    still_pending = Delivery.objects.filter(pk=delivery.pk, state=Delivery.State.PENDING).update(
        attempts=delivery.attempts,
        first_failure_at=delivery.first_failure_at,
        last_error=delivery.last_error,
        state=delivery.state,
        next_attempt_at=delivery.next_attempt_at,
    )
    return delivery.next_attempt_at if still_pending else None


def prune_activities(now: datetime) -> int:
    """Forget the activities sent (and their deliveries) longer ago than the retry window and a
    day, none of whose deliveries is still pending: the log would otherwise grow with every
    article and every follow. How many activities were forgotten."""
    cutoff = now - timedelta(hours=settings.FEDERATION_RETRY_HOURS + 24)
    forgotten = 0
    while True:
        old = list(
            Activity.objects.filter(created_at__lt=cutoff)
            .exclude(deliveries__state=Delivery.State.PENDING)
            .values_list("pk", flat=True)[:1000]
        )
        if not old:
            return forgotten
        Delivery.objects.filter(activity_id__in=old).delete()
        forgotten += Activity.objects.filter(pk__in=old).delete()[0]
