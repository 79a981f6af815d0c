"""Donation receipts and the signed donor-portal links they carry."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils import timezone

from pressroom.fundraising.models import Donation, Donor
from pressroom.fundraising.money import format_amount
from pressroom.fundraising.providers import provider_label
from pressroom.lib.email import send_email

PORTAL_SALT = "pressroom.fundraising.donor-portal"
# Each receipt carries a fresh link; a monthly donor always has one younger than this.
PORTAL_LINK_MAX_AGE = timedelta(days=90)
RECEIPT_TEMPLATE = "fundraising/emails/receipt"
PORTAL_LINK_TEMPLATE = "fundraising/emails/portal_link"


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


def send_receipt(donation_id: int) -> bool:
    """Send one donation's receipt unless it went already. Call inside a transaction: the claim
    on the row is rolled back if sending fails, so a retry sends it."""
    donation = (
        Donation.objects.select_for_update(of=("self",))
        .select_related("donor", "campaign", "recurring_donation")
        .filter(pk=donation_id)
        .first()
    )
    if donation is None or donation.receipt_sent_at is not None:
        return False
    if not donation.receipt_requested or not donation.donor.can_receive_email:
        return False
    context = {
        "donation": donation,
        "donor": donation.donor,
        "amount": format_amount(donation.amount, donation.currency),
        "currency": donation.currency,
        "is_monthly": donation.recurring_donation_id is not None,
        "method": provider_label(donation.provider),
        "campaign": donation.campaign,
        "portal_url": portal_url(donation.donor),
    }
    send_email(donation.donor.email, RECEIPT_TEMPLATE, context)
    donation.receipt_sent_at = timezone.now()
    donation.save(update_fields=["receipt_sent_at"])
    return True


def send_portal_link(donor_id: int) -> bool:
    donor = Donor.objects.filter(pk=donor_id).first()
    if donor is None:
        return False
    send_email(donor.email, PORTAL_LINK_TEMPLATE, {"donor": donor, "portal_url": portal_url(donor)})
    return True
