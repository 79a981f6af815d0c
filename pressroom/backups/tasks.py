"""The scheduled backup: `pressroom worker` takes one when BACKUP_SCHEDULE says so."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apscheduler.triggers.cron import CronTrigger
from crontask import cron
from django.conf import settings
from django.tasks import task
from django.utils import timezone

from pressroom.backups.archive import archives, create_backup

logger = logging.getLogger(__name__)

# Every worker runs the scheduler, so several may queue the same backup: one taken this recently
# in the same directory is the one asked for.
RECENT = timedelta(minutes=5)


@task
def take_backup() -> str:
    directory = Path(settings.BACKUP_DIR)
    existing = archives(directory)
    if existing:
        stamp = datetime.strptime(existing[-1].name, "pressroom-%Y%m%d-%H%M%SZ.tar.gz")
        if datetime.now(UTC) - stamp.replace(tzinfo=UTC) < RECENT:
            return str(existing[-1])
    path = create_backup(directory, keep=settings.BACKUP_KEEP)
    logger.info("Backup written: %s", path)
    return str(path)


if settings.BACKUP_SCHEDULE:
    cron(
        CronTrigger.from_crontab(
            settings.BACKUP_SCHEDULE, timezone=timezone.get_default_timezone()
        ),
        sentry_monitor_config=None,
    )(take_backup)
