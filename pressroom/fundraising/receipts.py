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

from pressroom.fundraising.giving import ways_to_give
from pressroom.fundraising.models import (
    Donation,
    DonationRefund,
    Donor,
    PaymentFailure,
    ProcessorHealth,
    RecurringDonation,
    Tribute,
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
CARD_UPDATE_TEMPLATE = "fundraising/emails/payment_failed"
STAFF_FAILURE_TEMPLATE = "fundraising/emails/payment_failed_staff"
LAPSE_TEMPLATE = "fundraising/emails/lapsed"
PROCESSOR_DOWN_TEMPLATE = "fundraising/emails/processor_down"
AMOUNT_CHANGE_TEMPLATE = "fundraising/emails/amount_changed"
TRIBUTE_TEMPLATE = "fundraising/emails/tribute"
MOVE_TEMPLATE = "fundraising/emails/move_invitation"
MOVE_SALT = "pressroom.fundraising.move-monthly-gift"
# Long enough for a donor back from holidays; the old gift keeps running meanwhile.
MOVE_LINK_MAX_AGE = timedelta(days=30)
# A second invitation within this time is the same task run twice: not sent again.
MOVE_INVITATION_INTERVAL = timedelta(days=1)
CARD_SALT = "pressroom.fundraising.card-update"
# A card-update link outlives the processor's retries (Stripe's default schedule spans weeks).
CARD_LINK_MAX_AGE = timedelta(days=45)


def money(amount: Decimal, currency: str) -> str:
    """Amounts as receipts write them: '$50.00', '€12.00', '¥2,500'."""
    return format_amount(amount, currency, exact=True)


def receipt_details() -> dict[str, Any]:
    """The outlet's tax wording, printed on every receipt and statement (site settings; read
    afresh: the worker sends these, and a treasurer's edit must show on the next one)."""
    site = current_site()
    return {
        # Online giving paused on purpose: receipts say how to give meanwhile.
        "giving_paused": site.online_giving_paused,
        "ways": ways_to_give(),
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
        # "Stop at any time" only while there is something to stop.
        "recurring_active": donation.recurring_donation is not None
        and donation.recurring_donation.is_active,
        "period": donation.recurring_donation.period_word if donation.recurring_donation else "",
        "covered_fee": money(donation.covered_fee, donation.currency)
        if donation.covered_fee
        else "",
        "tribute": Tribute.objects.filter(donation=donation).first(),
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
    if recurring is None or recurring.status not in {
        RecurringDonation.Status.CANCELLED,
        RecurringDonation.Status.STOP_REQUESTED,
    }:
        return False
    if recurring.cancellation_confirmed_at:
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


def send_amount_change_email(recurring_id: int) -> bool:
    """Confirm the new amount of a monthly gift, once per change. Call inside a transaction."""
    recurring = (
        RecurringDonation.objects.select_for_update(of=("self",))
        .select_related("donor", "campaign")
        .filter(pk=recurring_id)
        .first()
    )
    if recurring is None or recurring.amount_changed_at is None:
        return False
    confirmed = recurring.amount_change_confirmed_at
    if confirmed is not None and confirmed >= recurring.amount_changed_at:
        return False
    if not recurring.donor.can_receive_email:
        return False
    context = {
        "recurring": recurring,
        "donor": recurring.donor,
        "amount": money(recurring.amount, recurring.currency),
        "period": recurring.period_word,
        "campaign": recurring.campaign,
        "portal_url": portal_url(recurring.donor),
        **receipt_details(),
    }
    send_email(recurring.donor.email, AMOUNT_CHANGE_TEMPLATE, context)
    recurring.amount_change_confirmed_at = timezone.now()
    recurring.save(update_fields=["amount_change_confirmed_at"])
    return True


def send_tribute_email(tribute_id: int) -> bool:
    """Tell the person the donor named that a gift was made in honour or memory of someone:
    once; the donor's name only if they did not give anonymously, the amount only if they
    allowed it. Call inside a transaction."""
    tribute = (
        Tribute.objects.select_for_update(of=("self",))
        .select_related("donation__donor")
        .filter(pk=tribute_id)
        .first()
    )
    if tribute is None or tribute.notified_at is not None or not tribute.notify_email:
        return False
    donation = tribute.donation
    if donation.status == Donation.Status.REFUNDED:
        return False
    context = {
        "tribute": tribute,
        "from_name": "" if donation.is_anonymous else donation.donor.name,
        "amount": money(donation.amount - donation.covered_fee, donation.currency)
        if tribute.show_amount
        else "",
    }
    send_email(tribute.notify_email, TRIBUTE_TEMPLATE, context)
    tribute.notified_at = timezone.now()
    tribute.save(update_fields=["notified_at"])
    return True


# --- Failed monthly payments -------------------------------------------------------------------


def card_update_token(recurring: RecurringDonation) -> str:
    return signing.dumps(
        {"recurring": recurring.pk, "email": recurring.donor.email}, salt=CARD_SALT, compress=True
    )


def recurring_from_card_token(token: str) -> RecurringDonation | None:
    """The monthly gift a card-update link was made for, or None if forged or too old."""
    try:
        data = signing.loads(token, salt=CARD_SALT, max_age=CARD_LINK_MAX_AGE)
    except signing.BadSignature:
        return None
    return (
        RecurringDonation.objects.select_related("donor")
        .filter(pk=data.get("recurring"), donor__email=data.get("email"))
        .first()
    )


def card_update_url(recurring: RecurringDonation) -> str:
    return settings.SITE_URL + reverse(
        "fundraising:update-card", kwargs={"token": card_update_token(recurring)}
    )


def _claim_failure(failure_id: int) -> PaymentFailure | None:
    return (
        PaymentFailure.objects.select_for_update(of=("self",))
        .select_related("recurring_donation__donor", "recurring_donation__campaign")
        .filter(pk=failure_id)
        .first()
    )


def send_card_update_email(failure_id: int) -> bool:
    """Ask the donor to update the card of a monthly gift whose payment failed, once per
    failed payment; not when a retry paid it or the gift has stopped meanwhile. Call inside a
    transaction."""
    failure = _claim_failure(failure_id)
    if failure is None or failure.donor_notified_at or failure.recovered_at:
        return False
    recurring = failure.recurring_donation
    if not recurring.is_active or not recurring.donor.can_receive_email:
        return False
    context = {
        "failure": failure,
        "recurring": recurring,
        "donor": recurring.donor,
        "amount": money(failure.amount, failure.currency),
        "action_required": failure.kind == PaymentFailure.Kind.ACTION_REQUIRED,
        "campaign": recurring.campaign,
        "card_url": card_update_url(recurring),
        "portal_url": portal_url(recurring.donor),
    }
    send_email(recurring.donor.email, CARD_UPDATE_TEMPLATE, context)
    failure.donor_notified_at = timezone.now()
    failure.save(update_fields=["donor_notified_at"])
    return True


def staff_addresses() -> list[str]:
    return list(settings.FUNDRAISING_STAFF_EMAILS or settings.ADMINS)


def send_staff_failure_email(failure_id: int) -> bool:
    """Tell staff (FUNDRAISING_STAFF_EMAILS) a monthly payment failed, once per payment."""
    failure = _claim_failure(failure_id)
    recipients = staff_addresses()
    if failure is None or failure.staff_notified_at or not recipients:
        return False
    recurring = failure.recurring_donation
    context = {
        "failure": failure,
        "recurring": recurring,
        "donor": recurring.donor,
        "amount": money(failure.amount, failure.currency),
        "action_required": failure.kind == PaymentFailure.Kind.ACTION_REQUIRED,
        "monthly_amount": money(recurring.amount, recurring.currency),
        "failed_count": recurring.payment_failures.count(),
        "admin_url": settings.SITE_URL
        + reverse("admin:fundraising_recurringdonation_change", args=[recurring.pk]),
    }
    send_email(recipients, STAFF_FAILURE_TEMPLATE, context)
    failure.staff_notified_at = timezone.now()
    failure.save(update_fields=["staff_notified_at"])
    return True


def send_processor_down_email(health_id: int) -> bool:
    """Tell staff the processor failed several calls in a row (queued once per outage)."""
    health = ProcessorHealth.objects.filter(pk=health_id).first()
    recipients = staff_addresses()
    if health is None or not recipients:
        return False
    context = {
        "health": health,
        "processor": provider_label(health.provider),
        "threshold": settings.FUNDRAISING_PROCESSOR_FAILURES,
        "admin_url": settings.SITE_URL + reverse("admin:fundraising_donation_add"),
    }
    send_email(recipients, PROCESSOR_DOWN_TEMPLATE, context)
    return True


def send_lapse_email(recurring_id: int) -> bool:
    """The last email of a monthly gift the processor stopped after failed payments: no more
    charges, and an invitation back. Once per gift. Call inside a transaction."""
    recurring = (
        RecurringDonation.objects.select_for_update(of=("self",))
        .select_related("donor", "campaign")
        .filter(pk=recurring_id)
        .first()
    )
    if recurring is None or recurring.status != RecurringDonation.Status.LAPSED:
        return False
    if recurring.lapse_notice_sent_at or not recurring.donor.can_receive_email:
        return False
    donate_path = (
        recurring.campaign.get_absolute_url()
        if recurring.campaign and recurring.campaign.is_active
        else reverse("fundraising:donate")
    )
    context = {
        "recurring": recurring,
        "donor": recurring.donor,
        "amount": money(recurring.amount, recurring.currency),
        "campaign": recurring.campaign,
        "donate_url": settings.SITE_URL + donate_path,
        "portal_url": portal_url(recurring.donor),
    }
    send_email(recurring.donor.email, LAPSE_TEMPLATE, context)
    recurring.lapse_notice_sent_at = timezone.now()
    recurring.save(update_fields=["lapse_notice_sent_at"])
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


def move_token(recurring: RecurringDonation, to_provider: str) -> str:
    return signing.dumps(
        {"recurring": recurring.pk, "email": recurring.donor.email, "to": to_provider},
        salt=MOVE_SALT,
        compress=True,
    )


def move_from_token(token: str) -> tuple[RecurringDonation, str] | None:
    """The monthly gift and the processor a move link was made for; None if it is forged,
    mangled or older than MOVE_LINK_MAX_AGE."""
    try:
        data = signing.loads(token, salt=MOVE_SALT, max_age=MOVE_LINK_MAX_AGE)
    except signing.BadSignature:
        return None
    recurring = (
        RecurringDonation.objects.select_related("donor", "campaign")
        .filter(pk=data.get("recurring"), donor__email=data.get("email"))
        .first()
    )
    to_provider = data.get("to")
    if recurring is None or not isinstance(to_provider, str):
        return None
    return recurring, to_provider


def move_url(recurring: RecurringDonation, to_provider: str) -> str:
    return settings.SITE_URL + reverse(
        "fundraising:move", kwargs={"token": move_token(recurring, to_provider)}
    )


def send_move_invitation_email(recurring_id: int, to_provider: str) -> bool:
    """Invite a monthly donor to restart their gift at `to_provider`; once a day at most (a
    task run twice sends once). Call inside a transaction."""
    recurring = (
        RecurringDonation.objects.select_for_update(of=("self",))
        .select_related("donor", "campaign")
        .filter(pk=recurring_id)
        .first()
    )
    if recurring is None or not recurring.is_active or not recurring.donor.can_receive_email:
        return False
    now = timezone.now()
    if recurring.move_invited_at and recurring.move_invited_at > now - MOVE_INVITATION_INTERVAL:
        return False
    context = {
        "recurring": recurring,
        "donor": recurring.donor,
        "amount": money(recurring.amount, recurring.currency),
        "campaign": recurring.campaign,
        "old_processor": provider_label(recurring.provider),
        "new_processor": provider_label(to_provider),
        "move_url": move_url(recurring, to_provider),
        "expires_days": MOVE_LINK_MAX_AGE.days,
        "portal_url": portal_url(recurring.donor),
    }
    send_email(recurring.donor.email, MOVE_TEMPLATE, context)
    recurring.move_invited_at = now
    recurring.save(update_fields=["move_invited_at"])
    return True
