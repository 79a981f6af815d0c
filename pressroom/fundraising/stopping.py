"""Cancelling at the processor the monthly gifts stopped in Pressroom.

A stop is recorded at once (services.stop_recurring_donation); this asks the processor to cancel
the subscription and, when it cannot (down, not configured, gone), schedules another try with a
growing wait, until the processor confirms or staff confirm the stop by hand. The worker's tasks
call it; it imports no task, so tasks and services stay free of cycles.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from pressroom.fundraising.models import RecurringDonation
from pressroom.fundraising.providers import ProviderError, get_provider

logger = logging.getLogger(__name__)

# A stop the processor has not confirmed is tried again after 1, 2, 4 ... minutes, then every
# STOP_RETRY_LONGEST until it answers (or staff confirm it by hand).
STOP_RETRY_FIRST = timedelta(minutes=1)
STOP_RETRY_LONGEST = timedelta(hours=6)
# While one worker asks the processor, no other worker takes the same stop.
STOP_CLAIM = timedelta(minutes=2)


def stop_retry_delay(attempts: int) -> timedelta:
    return min(STOP_RETRY_FIRST * 2 ** min(max(attempts - 1, 0), 20), STOP_RETRY_LONGEST)


def cancel_recurring_at_processor(recurring_id: int) -> bool:
    """Ask the processor to cancel a stop recorded here; True once it confirmed. Safe to run
    twice or in two workers at once: only the one that claims the stop asks (and no database
    lock is held while the processor answers)."""
    now = timezone.now()
    claimed = (
        RecurringDonation.objects.stops_due(now)
        .filter(pk=recurring_id)
        .update(stop_next_attempt_at=now + STOP_CLAIM)
    )
    if not claimed:
        return False
    recurring = RecurringDonation.objects.get(pk=recurring_id)
    try:
        # Not counted toward the processor's health (services.processor_watch): that measures
        # what readers meet at checkout, and a stop retried for days would alert staff again
        # and again.
        get_provider(recurring.provider).cancel_recurring(recurring.provider_reference)
    except ProviderError as error:
        logger.warning("Stop of monthly gift %s not confirmed yet: %s", recurring_id, error)
        with transaction.atomic():
            recurring = RecurringDonation.objects.select_for_update().get(pk=recurring_id)
            if recurring.is_cancelling_at_processor:
                recurring.stop_attempts += 1
                recurring.stop_last_error = str(error)[:500]
                recurring.stop_next_attempt_at = timezone.now() + stop_retry_delay(
                    recurring.stop_attempts
                )
                recurring.save(
                    update_fields=["stop_attempts", "stop_last_error", "stop_next_attempt_at"]
                )
        return False
    with transaction.atomic():
        recurring = RecurringDonation.objects.select_for_update().get(pk=recurring_id)
        if recurring.status == RecurringDonation.Status.LAPSED and recurring.stop_next_attempt_at:
            # Lapsed it stays (the donor did not stop it); the processor charges no more.
            recurring.stop_attempts += 1
            recurring.stop_last_error = ""
            recurring.stop_confirmed_at = timezone.now()
            recurring.stop_next_attempt_at = None
            recurring.save(
                update_fields=[
                    "stop_confirmed_at",
                    "stop_next_attempt_at",
                    "stop_attempts",
                    "stop_last_error",
                ]
            )
        elif recurring.is_stopping:
            recurring.stop_attempts += 1
            recurring.stop_last_error = ""
            recurring.confirm_stop()
            recurring.save(
                update_fields=[
                    "status",
                    "stop_confirmed_at",
                    "stop_next_attempt_at",
                    "stop_attempts",
                    "stop_last_error",
                ]
            )
    return True
