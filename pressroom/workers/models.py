"""One row per running task-worker process, refreshed every few seconds: who is alive.

Work a process claims (digest batches) names the process's worker id; when the row stops being
refreshed the process is presumed dead and its claims are released at once, instead of after a
long lease that a slow but live worker would also have to keep renewing. Times come from the
database's clock, so machines whose clocks disagree still agree on who is alive.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models.functions import Now


def dead_after() -> timedelta:
    """How old a heartbeat may be before its worker is presumed dead (10 s by default)."""
    return timedelta(seconds=3 * settings.WORKER_HEARTBEAT_INTERVAL + 1)


class WorkerHeartbeatQuerySet(models.QuerySet["WorkerHeartbeat"]):
    def alive(self) -> WorkerHeartbeatQuerySet:
        return self.filter(seen_at__gte=Now() - dead_after())

    def dead(self) -> WorkerHeartbeatQuerySet:
        return self.filter(seen_at__lt=Now() - dead_after())


class WorkerHeartbeat(models.Model):
    worker_id = models.CharField(max_length=64, unique=True)
    hostname = models.CharField(max_length=255, blank=True)
    pid = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(db_default=Now())
    seen_at = models.DateTimeField(db_default=Now(), db_index=True)

    objects = WorkerHeartbeatQuerySet.as_manager()

    class Meta:
        ordering = ["-seen_at"]

    def __str__(self) -> str:
        return f"{self.worker_id} (pid {self.pid} on {self.hostname})"


def last_worker_heartbeat() -> datetime | None:
    """When any worker last reported alive (None: never), for `pressroom doctor` and monitoring."""
    return WorkerHeartbeat.objects.aggregate(last=models.Max("seen_at"))["last"]
