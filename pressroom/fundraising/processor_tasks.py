"""Background calls to the payment processors that end in the services: settling an approved
checkout, cancelling a moved gift's old subscription (retried while its processor is away).

They live apart from tasks.py because they call the services, which queue the tasks of
tasks.py; the services reach these through signals (signals.py), connected in ready(). Tasks
take ids and are safe to run twice.
"""

from __future__ import annotations

import logging
from typing import Any

from apscheduler.triggers.interval import IntervalTrigger
from crontask import cron
from django.dispatch import receiver
from django.tasks import task

from pressroom.fundraising import services
from pressroom.fundraising.models import RecurringDonation
from pressroom.fundraising.providers import PaymentDeclined
from pressroom.fundraising.signals import checkout_to_settle, gift_moved

logger = logging.getLogger(__name__)


@task()
def settle_approved_checkout(provider_name: str, reference: str) -> int:
    """Complete a checkout the donor approved (PayPal's capture); how many facts it gave."""
    try:
        return len(services.settle_checkout(provider_name, reference))
    except PaymentDeclined as declined:
        # Nothing was paid and nothing to retry: the donor is told on the thanks page.
        logger.info("Approved checkout %s not paid: %s", reference, declined)
        return 0


@task()
def cancel_moved_recurring(recurring_id: int) -> bool:
    """Cancel a moved gift's old subscription at its processor. While that processor is
    unreachable this fails, and retry_moved_cancellations queues it again."""
    return services.cancel_moved_gift_at_processor(recurring_id)


@cron(IntervalTrigger(minutes=30), sentry_monitor_config=None)
@task()
def retry_moved_cancellations() -> int:
    """Queue again the cancellation of every moved gift its old processor has not confirmed."""
    pending = list(
        RecurringDonation.objects.filter(
            status=RecurringDonation.Status.MOVED, move_cancelled_at__isnull=True
        ).values_list("pk", flat=True)
    )
    for recurring_id in pending:
        cancel_moved_recurring.enqueue(recurring_id)
    return len(pending)


@receiver(checkout_to_settle)
def _queue_settlement(*, provider_name: str, reference: str, **kwargs: Any) -> None:
    settle_approved_checkout.enqueue(provider_name, reference)


@receiver(gift_moved)
def _queue_old_cancellation(*, recurring_id: int, **kwargs: Any) -> None:
    cancel_moved_recurring.enqueue(recurring_id)
