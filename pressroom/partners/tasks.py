"""Background work for partners: polling their feeds. Tasks take ids and are safe to run twice
(a second fetch of a feed finds its items known, or gets 304 Not Modified)."""

from __future__ import annotations

import logging

from apscheduler.triggers.interval import IntervalTrigger
from crontask import cron
from django.tasks import task

from pressroom.partners import images, polling
from pressroom.partners.models import Feed

logger = logging.getLogger(__name__)


@task()
def fetch_partner_feed(feed_id: int) -> dict[str, object]:
    """Fetch one partner feed; a failure is recorded on the feed (shown in the admin)."""
    if not Feed.objects.filter(pk=feed_id).exists():
        return {"new": 0, "known": 0, "error": "the feed was removed"}  # since it was queued
    result = polling.fetch_feed(feed_id)
    if result.error:
        logger.warning("Partner feed %s failed: %s", result.url, result.error)
    return {"new": result.new, "known": result.known, "error": result.error}


# Feeds fetched by one task, one after the other: a task's own cost (claiming it, recording its
# state) was twice the cost of a fetch answered 304. A slow feed holds the others of its task
# at most the outbound helper's time limit; several workers share the tasks.
FEEDS_PER_TASK = 10


@task()
def fetch_partner_feeds(feed_ids: list[int]) -> dict[str, object]:
    """Fetch these partner feeds in turn; each failure is recorded on its feed, and the next
    feed is fetched all the same. Feeds removed since they were queued are skipped."""
    present = set(Feed.objects.filter(pk__in=feed_ids).values_list("pk", flat=True))
    results = polling.fetch_feeds(feed_id for feed_id in feed_ids if feed_id in present)
    for result in results:
        if result.error:
            logger.warning("Partner feed %s failed: %s", result.url, result.error)
    return {
        "new": sum(result.new for result in results),
        "known": sum(result.known for result in results),
        "failed": [result.url for result in results if result.error],
    }


# Every minute, the feeds whose own interval (or back-off) has passed are fetched, a few to a
# task: one slow or failing feed never holds the others for long, and several workers share them.
@cron(IntervalTrigger(minutes=1), sentry_monitor_config=None)
@task()
def poll_partner_feeds() -> int:
    feed_ids = polling.claim_due_feeds()
    for start in range(0, len(feed_ids), FEEDS_PER_TASK):
        fetch_partner_feeds.enqueue(feed_ids[start : start + FEEDS_PER_TASK])
    return len(feed_ids)


@task()
def bring_partner_images_in(article_id: int, partner_id: int) -> int:
    """A republished piece's images into the media library (queued when it is saved)."""
    return images.bring_images_in(article_id, partner_id)
