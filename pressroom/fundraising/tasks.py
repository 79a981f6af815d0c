"""Background work for fundraising: receipts. Tasks take ids and are safe to run twice."""

from __future__ import annotations

import logging
from datetime import timedelta

from apscheduler.triggers.interval import IntervalTrigger
from crontask import cron
from django.db import transaction
from django.tasks import task
from django.utils import timezone

from pressroom.fundraising.models import Donation
from pressroom.fundraising.receipts import send_portal_link, send_receipt

logger = logging.getLogger(__name__)


@task()
def send_donation_receipt(donation_id: int) -> bool:
    """Email the donor a receipt for one donation; False when there was nothing to send."""
    with transaction.atomic():
        return send_receipt(donation_id)


@task()
def send_donor_portal_link(donor_id: int) -> bool:
    """Email a donor a fresh link to their gifts (asked for on /donate/manage/)."""
    return send_portal_link(donor_id)


# A receipt not sent this long after its gift had its task fail (SMTP down) or lost; retry it
# every sweep for a week, then leave it to staff (the admin shows which receipts never went).
RECEIPT_RETRY_AFTER = timedelta(minutes=10)
RECEIPT_RETRY_FOR = timedelta(days=7)


@cron(IntervalTrigger(minutes=15), sentry_monitor_config=None)
@task()
def resend_missing_receipts() -> int:
    now = timezone.now()
    donation_ids = list(
        Donation.objects.awaiting_receipt(
            older_than=now - RECEIPT_RETRY_AFTER, newer_than=now - RECEIPT_RETRY_FOR
        ).values_list("pk", flat=True)[:1000]
    )
    for donation_id in donation_ids:
        send_donation_receipt.enqueue(donation_id)
    if donation_ids:
        logger.warning("Re-queued %s donation receipts that were not sent", len(donation_ids))
    return len(donation_ids)
