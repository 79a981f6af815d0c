"""Background work for fundraising: receipts. Tasks take ids and are safe to run twice."""

from __future__ import annotations

import logging

from django.db import transaction
from django.tasks import task

logger = logging.getLogger(__name__)


@task()
def send_donation_receipt(donation_id: int) -> bool:
    """Email the donor a receipt for one donation; False when there was nothing to send."""
    from pressroom.fundraising.receipts import send_receipt

    with transaction.atomic():
        return send_receipt(donation_id)


@task()
def send_donor_portal_link(donor_id: int) -> bool:
    """Email a donor a fresh link to their gifts (asked for on /donate/manage/)."""
    from pressroom.fundraising.receipts import send_portal_link

    return send_portal_link(donor_id)
