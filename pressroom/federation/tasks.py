"""Background work of federation: activities for changed articles, and their deliveries.
Tasks take ids and are safe to run twice."""

from __future__ import annotations

from apscheduler.triggers.interval import IntervalTrigger
from crontask import cron
from django.db import transaction
from django.tasks import task
from django.utils import timezone

from pressroom.federation import articles, delivery
from pressroom.publishing.models import Article


def queue_deliveries(delivery_ids: list[int]) -> None:
    """One task per delivery.BATCH deliveries, queued once the transaction that recorded them
    commits."""

    def enqueue() -> None:
        for start in range(0, len(delivery_ids), delivery.BATCH):
            deliver_activities.enqueue(delivery_ids[start : start + delivery.BATCH])

    if delivery_ids:
        transaction.on_commit(enqueue)


@task()
def federate_articles(article_ids: list[int]) -> int:
    """Create, Update or Delete for each article; a scheduled one is looked at again when its
    time comes (it becomes public without a save). Returns how many deliveries were queued."""
    queued = 0
    now = timezone.now()
    scheduled = dict(
        Article.objects.filter(
            pk__in=article_ids, status=Article.Status.SCHEDULED, published_at__gt=now
        ).values_list("pk", "published_at")
    )
    for article_id in article_ids:
        if article_id in scheduled:
            federate_articles.using(run_after=scheduled[article_id]).enqueue([article_id])
        with transaction.atomic():
            ids = articles.federate_article(article_id)
            queue_deliveries(ids)
        queued += len(ids)
    return queued


@task()
def deliver_activities(delivery_ids: list[int]) -> int:
    """Post a batch of deliveries; each one that failed for now is queued again on its own,
    for when its backoff ends. Returns how many need no other try."""
    retries = delivery.deliver(delivery_ids)
    for delivery_id, retry_at in retries:
        deliver_activities.using(run_after=retry_at).enqueue([delivery_id])
    return len(delivery_ids) - len(retries)


@cron(IntervalTrigger(hours=6), sentry_monitor_config=None)
@task()
def prune_activities() -> int:
    """Forget old activities and their deliveries (delivery.prune_activities)."""
    return delivery.prune_activities(timezone.now())
