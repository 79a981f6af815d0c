"""Insight's periodic work: moving the site's counts into the database (every minute), and
rolling old daily counts up (every night)."""

from __future__ import annotations

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from crontask import cron
from django.tasks import task

from pressroom.insight import services
from pressroom.lib import counting


@cron(IntervalTrigger(seconds=counting.FLUSH_SECONDS), sentry_monitor_config=None)
@task
def flush_counts() -> dict[str, int]:
    """Move every count waiting in the cache (page views, a send's visits) into the database."""
    return counting.flush_counts()


@cron(CronTrigger(hour=4, minute=10), sentry_monitor_config=None)
@task
def roll_up_page_views() -> int:
    """Daily counts older than INSIGHT_RAW_RETENTION_DAYS become monthly totals per page."""
    return services.roll_up_page_views()
