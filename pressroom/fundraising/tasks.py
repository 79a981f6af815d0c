"""Background work for fundraising: receipts, confirmations and year-end statements. Tasks take
ids and are safe to run twice."""

from __future__ import annotations

import logging
from datetime import timedelta

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from crontask import cron
from django.db import transaction
from django.tasks import task
from django.utils import timezone

from pressroom.fundraising.models import Donation, RecurringDonation
from pressroom.fundraising.receipts import (
    donors_with_gifts_in,
    send_amount_change_email,
    send_cancellation_confirmation,
    send_card_update_email,
    send_lapse_email,
    send_move_invitation_email,
    send_portal_link,
    send_processor_down_email,
    send_receipt,
    send_refund_confirmation,
    send_staff_failure_email,
    send_statement,
    send_tribute_email,
)
from pressroom.fundraising.stopping import cancel_recurring_at_processor

logger = logging.getLogger(__name__)


@task()
def send_donation_receipt(donation_id: int, again: bool = False) -> bool:
    """Email the donor a receipt for one donation; False when there was nothing to send.
    `again`: a copy staff asked for from the admin."""
    with transaction.atomic():
        return send_receipt(donation_id, again=again)


@task()
def send_donation_refund_confirmation(refund_id: int) -> bool:
    with transaction.atomic():
        return send_refund_confirmation(refund_id)


@task()
def send_recurring_cancellation_confirmation(recurring_id: int) -> bool:
    with transaction.atomic():
        return send_cancellation_confirmation(recurring_id)


@task()
def send_recurring_amount_change_confirmation(recurring_id: int) -> bool:
    with transaction.atomic():
        return send_amount_change_email(recurring_id)


@task()
def send_tribute_notification(tribute_id: int) -> bool:
    """The card to the person a donor named when giving in honour or memory of someone."""
    with transaction.atomic():
        return send_tribute_email(tribute_id)


@task()
def stop_recurring_at_processor(recurring_id: int) -> bool:
    """Cancel at the processor a monthly gift stopped here; a failure is retried later by
    retry_recurring_stops, with a growing wait."""
    return cancel_recurring_at_processor(recurring_id)


@cron(IntervalTrigger(minutes=1), sentry_monitor_config=None)
@task()
def retry_recurring_stops() -> int:
    """Queue another try of every stop the processor has not confirmed and whose wait is over."""
    recurring_ids = list(
        RecurringDonation.objects.stops_due()
        .order_by("stop_next_attempt_at")
        .values_list("pk", flat=True)[:500]
    )
    for recurring_id in recurring_ids:
        stop_recurring_at_processor.enqueue(recurring_id)
    return len(recurring_ids)


@task()
def send_card_update_request(failure_id: int) -> bool:
    """Ask a donor whose monthly payment failed to update their card."""
    with transaction.atomic():
        return send_card_update_email(failure_id)


@task()
def send_payment_failure_staff_notice(failure_id: int) -> bool:
    with transaction.atomic():
        return send_staff_failure_email(failure_id)


@task()
def send_lapse_notice(recurring_id: int) -> bool:
    with transaction.atomic():
        return send_lapse_email(recurring_id)


@task()
def send_processor_down_notice(health_id: int) -> bool:
    """Tell staff the payment processor stopped answering (once per outage)."""
    return send_processor_down_email(health_id)


@task()
def send_year_end_statement(donor_id: int, year: int) -> bool:
    with transaction.atomic():
        return send_statement(donor_id, year)


# Mid-January: late December cheques are entered and December's refunds are in by then. Every
# donor gets one statement per year (YearEndStatement), however often this runs.
@cron(CronTrigger(month=1, day=15, hour=9, minute=0), sentry_monitor_config=None)
@task()
def send_year_end_statements(year: int | None = None) -> int:
    """Queue the statement of last year (or `year`) for every donor who gave in it."""
    year = year or timezone.localdate().year - 1
    donor_ids = donors_with_gifts_in(year)
    for donor_id in donor_ids:
        send_year_end_statement.enqueue(donor_id, year)
    logger.info("Queued %s year-end statements for %s", len(donor_ids), year)
    return len(donor_ids)


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


@task()
def send_move_invitation(recurring_id: int, to_provider: str) -> bool:
    """Email a monthly donor the signed link that restarts their gift at another processor."""
    with transaction.atomic():
        return send_move_invitation_email(recurring_id, to_provider)
