"""Background work for partners: polling their feeds. Tasks take ids and are safe to run twice
(a second fetch of a feed finds its items known, or gets 304 Not Modified)."""

from __future__ import annotations

import logging

from apscheduler.triggers.interval import IntervalTrigger
from crontask import cron
from django.tasks import task

from pressroom.partners import services
from pressroom.partners.models import Feed

logger = logging.getLogger(__name__)


@task()
def fetch_partner_feed(feed_id: int) -> dict[str, object]:
    """Fetch one partner feed; a failure is recorded on the feed (shown in the admin)."""
    if not Feed.objects.filter(pk=feed_id).exists():
        return {"new": 0, "known": 0, "error": "the feed was removed"}  # since it was queued
    result = services.fetch_feed(feed_id)
    if result.error:
        logger.warning("Partner feed %s failed: %s", result.url, result.error)
    return {"new": result.new, "known": result.known, "error": result.error}


# Every minute, each feed whose own interval (or back-off) has passed gets a fetch of its own:
# one slow or failing feed never holds the others, and several workers share them.
@cron(IntervalTrigger(minutes=1), sentry_monitor_config=None)
@task()
def poll_partner_feeds() -> int:
    feed_ids = services.claim_due_feeds()
    for feed_id in feed_ids:
        fetch_partner_feed.enqueue(feed_id)
    return len(feed_ids)


@task()
def bring_partner_images_in(article_id: int, partner_id: int) -> int:
    """A republished piece's images into the media library (queued when it is saved)."""
    return services.bring_images_in(article_id, partner_id)
