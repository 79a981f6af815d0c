"""The /metrics figures read from the database at each scrape.

They are the same whichever process or machine answers, so unlike the per-instance request
counters (pressroom.lib.metrics) they need no aggregation; with several instances scraped,
take the `max` of these series rather than their sum.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Count
from django.tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from pressroom.fundraising.models import WebhookEvent
from pressroom.newsletter.models import Delivery


def counts_by(queryset, field: str) -> dict[str, int]:
    return {
        row[field]: row["number"]
        for row in queryset.order_by().values(field).annotate(number=Count("pk"))
    }


class DatabaseCollector(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily]:
        queue = GaugeMetricFamily(
            "pressroom_task_queue_depth",
            "Tasks due and waiting for a worker, by queue",
            labels=["queue"],
        )
        for name, number in counts_by(DBTaskResult.objects.ready(), "queue_name").items():
            queue.add_metric([name], number)
        yield queue

        tasks = GaugeMetricFamily(
            "pressroom_tasks", "Task records in the database queue, by status", labels=["status"]
        )
        by_status = counts_by(DBTaskResult.objects.all(), "status")
        for status in TaskResultStatus.values:
            tasks.add_metric([status.lower()], by_status.get(status, 0))
        yield tasks

        deliveries = GaugeMetricFamily(
            "pressroom_digest_deliveries",
            "Digest deliveries (one per recipient per digest), by state",
            labels=["state"],
        )
        by_state = counts_by(Delivery.objects.all(), "state")
        for state in Delivery.State.values:
            deliveries.add_metric([state], by_state.get(state, 0))
        yield deliveries

        webhooks = GaugeMetricFamily(
            "pressroom_webhook_events",
            "Verified payment webhook events stored, by provider and status "
            "(waiting: refers to a payment not yet known)",
            labels=["provider", "status"],
        )
        rows = WebhookEvent.objects.order_by().values("provider", "status")
        for row in rows.annotate(number=Count("pk")):
            webhooks.add_metric([row["provider"], row["status"]], row["number"])
        yield webhooks
