"""Donation receipts, refund and cancellation confirmations, year-end statements, and the signed
donor-portal links they carry.

Each sender claims its row (select_for_update) and marks it sent in the caller's transaction:
a failed send rolls the mark back so a retry sends it, and a task run twice sends once.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils import timezone

from pressroom.fundraising.models import (
    Donation,
    DonationRefund,
    Donor,
    RecurringDonation,
    YearEndStatement,
)
from pressroom.fundraising.money import format_amount
from pressroom.fundraising.providers import provider_label
from pressroom.lib.email import render_email, send_email
from pressroom.site.current import current_site

logger = logging.getLogger(__name__)

PORTAL_SALT = "pressroom.fundraising.donor-portal"
# Each receipt carries a fresh link; a monthly donor always has one younger than this.
PORTAL_LINK_MAX_AGE = timedelta(days=90)
RECEIPT_TEMPLATE = "fundraising/emails/receipt"
PORTAL_LINK_TEMPLATE = "fundraising/emails/portal_link"
REFUND_TEMPLATE = "fundraising/emails/refund"
CANCELLATION_TEMPLATE = "fundraising/emails/cancellation"
STATEMENT_TEMPLATE = "fundraising/emails/year_end_statement"


def money(amount: Decimal, currency: str) -> str:
    """Amounts as receipts write them: '$50.00', '€12.00', '¥2,500'."""
    return format_amount(amount, currency, exact=True)


def receipt_details() -> dict[str, str]:
    """The outlet's tax wording, printed on every receipt and statement (site settings; read
    afresh: the worker sends these, and a treasurer's edit must show on the next one)."""
    site = current_site()
    return {
        "legal_name": site.legal_name,
        "tax_id": site.tax_id,
        "deductibility_statement": site.deductibility_statement,
        "fiscal_sponsor": site.fiscal_sponsor,
    }


def portal_token(donor: Donor) -> str:
    return signing.dumps({"donor": donor.pk, "email": donor.email}, salt=PORTAL_SALT, compress=True)


def donor_from_token(token: str) -> Donor | None:
    """The donor a portal link was made for, or None if it is forged, mangled or too old."""
    try:
        data = signing.loads(token, salt=PORTAL_SALT, max_age=PORTAL_LINK_MAX_AGE)
    except signing.BadSignature:
        return None
    # The email check retires links if a donor record is ever reassigned to another address.
    return Donor.objects.filter(pk=data.get("donor"), email=data.get("email")).first()


def portal_url(donor: Donor) -> str:
    return settings.SITE_URL + reverse("fundraising:portal", kwargs={"token": portal_token(donor)})


def send_receipt(donation_id: int, *, again: bool = False) -> bool:
    """Send one donation's receipt unless it went already (`again`: staff asked for a copy).
    Call inside a transaction: the claim on the row is rolled back if sending fails, so a
    retry sends it. A gift refunded in full gets no receipt (its refund confirmation says
    what happened): a refund that arrives before its payment never yields a "Thank you"."""
    donation = (
        Donation.objects.select_for_update(of=("self",))
        .select_related("donor", "campaign", "recurring_donation")
        .filter(pk=donation_id)
        .first()
    )
    if donation is None or not donation.donor.can_receive_email:
        return False
    if not again and (donation.receipt_sent_at is not None or not donation.receipt_requested):
        return False
    if donation.status == Donation.Status.REFUNDED:
        logger.info("No receipt for donation %s: it was refunded in full", donation_id)
        return False
    context = {
        "donation": donation,
        "donor": donation.donor,
        "amount": money(donation.net_amount, donation.currency),
        "paid": money(donation.amount, donation.currency),
        "refunded": money(donation.refunded_amount, donation.currency)
        if donation.refunded_amount
        else "",
        "currency": donation.currency,
        "is_monthly": donation.recurring_donation_id is not None,
        "method": provider_label(donation.provider),
        "campaign": donation.campaign,
        "portal_url": portal_url(donation.donor),
        "is_copy": again and donation.receipt_sent_at is not None,
        **receipt_details(),
    }
    send_email(donation.donor.email, RECEIPT_TEMPLATE, context)
    donation.receipt_sent_at = timezone.now()
    donation.save(update_fields=["receipt_sent_at"])
    return True


def send_refund_confirmation(refund_id: int) -> bool:
    """Tell the donor their money is on its way back. Call inside a transaction."""
    refund = (
        DonationRefund.objects.select_for_update(of=("self",))
        .select_related("donation__donor", "donation__campaign")
        .filter(pk=refund_id)
        .first()
    )
    if refund is None or refund.confirmation_sent_at is not None:
        return False
    donation = refund.donation
    if not donation.donor.can_receive_email:
        return False
    context = {
        "donation": donation,
        "donor": donation.donor,
        "refund": refund,
        "amount": money(refund.amount, donation.currency),
        "paid": money(donation.amount, donation.currency),
        "remaining": money(donation.net_amount, donation.currency),
        "fully_refunded": donation.status == Donation.Status.REFUNDED,
        "method": provider_label(donation.provider),
        "portal_url": portal_url(donation.donor),
        **receipt_details(),
    }
    send_email(donation.donor.email, REFUND_TEMPLATE, context)
    refund.confirmation_sent_at = timezone.now()
    refund.save(update_fields=["confirmation_sent_at"])
    return True


def send_cancellation_confirmation(recurring_id: int) -> bool:
    """Tell the donor their monthly gift has stopped. Call inside a transaction."""
    recurring = (
        RecurringDonation.objects.select_for_update(of=("self",))
        .select_related("donor", "campaign")
        .filter(pk=recurring_id)
        .first()
    )
    if recurring is None or recurring.is_active or recurring.cancellation_confirmed_at:
        return False
    if not recurring.donor.can_receive_email:
        return False
    context = {
        "recurring": recurring,
        "donor": recurring.donor,
        "amount": money(recurring.amount, recurring.currency),
        "campaign": recurring.campaign,
        "portal_url": portal_url(recurring.donor),
        **receipt_details(),
    }
    send_email(recurring.donor.email, CANCELLATION_TEMPLATE, context)
    recurring.cancellation_confirmed_at = timezone.now()
    recurring.save(update_fields=["cancellation_confirmed_at"])
    return True


# --- Year-end statements ----------------------------------------------------------------------------


@dataclass(frozen=True)
class StatementTotal:
    currency: str
    given: str
    refunded: str
    net: str


@dataclass(frozen=True)
class Statement:
    donor: Donor
    year: int
    donations: list[Donation]
    totals: list[StatementTotal]

    @property
    def is_empty(self) -> bool:
        return not self.donations


def _year_bounds(year: int) -> tuple[datetime, datetime]:
    zone = timezone.get_current_timezone()
    return datetime(year, 1, 1, tzinfo=zone), datetime(year + 1, 1, 1, tzinfo=zone)


def donors_with_gifts_in(year: int) -> list[int]:
    start, end = _year_bounds(year)
    return list(
        Donation.objects.counted()
        .filter(received_at__gte=start, received_at__lt=end)
        .values_list("donor_id", flat=True)
        .distinct()
        .order_by("donor_id")
    )


def statement_for(donor: Donor, year: int) -> Statement:
    """Every gift the donor made in the year (the site's time zone), and per currency what they
    gave, what was refunded (whenever) and the net: the figure a tax return asks for."""
    start, end = _year_bounds(year)
    donations = list(
        donor.donations.filter(received_at__gte=start, received_at__lt=end)
        .select_related("campaign")
        .order_by("received_at", "id")
    )
    sums: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for donation in donations:
        sums[donation.currency][0] += donation.amount
        sums[donation.currency][1] += donation.refunded_amount
    totals = [
        StatementTotal(
            currency,
            money(given, currency),
            money(refunded, currency),
            money(given - refunded, currency),
        )
        for currency, (given, refunded) in sorted(sums.items())
    ]
    return Statement(donor, year, donations, totals)


def statement_context(statement: Statement) -> dict[str, Any]:
    return {
        "donor": statement.donor,
        "year": statement.year,
        "rows": [
            {
                "donation": donation,
                "amount": money(donation.amount, donation.currency),
                "refunded": money(donation.refunded_amount, donation.currency)
                if donation.refunded_amount
                else "",
                "net": money(donation.net_amount, donation.currency),
                "method": provider_label(donation.provider),
            }
            for donation in statement.donations
        ],
        "totals": statement.totals,
        "portal_url": portal_url(statement.donor),
        **receipt_details(),
    }


def statement_text(statement: Statement) -> str:
    """The statement as the donor downloads it from the portal: the email's plain text."""
    subject, text, _ = render_email(STATEMENT_TEMPLATE, statement_context(statement))
    return f"{subject}\n\n{text}"


def send_statement(donor_id: int, year: int) -> bool:
    """Email a donor's statement of a year, once. Call inside a transaction: the record that
    it went is rolled back if sending fails."""
    donor = Donor.objects.filter(pk=donor_id).first()
    if donor is None or not donor.can_receive_email:
        return False
    _, created = YearEndStatement.objects.select_for_update().get_or_create(donor=donor, year=year)
    if not created:
        return False
    statement = statement_for(donor, year)
    if statement.is_empty:
        return False
    send_email(donor.email, STATEMENT_TEMPLATE, statement_context(statement))
    return True


def send_portal_link(donor_id: int) -> bool:
    donor = Donor.objects.filter(pk=donor_id).first()
    if donor is None:
        return False
    send_email(donor.email, PORTAL_LINK_TEMPLATE, {"donor": donor, "portal_url": portal_url(donor)})
    return True
