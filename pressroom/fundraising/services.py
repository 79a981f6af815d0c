"""Writes to fundraising records. Views, the admin, commands and tasks call these.

Webhook events are stored raw and processed in the same transaction, keyed by (provider, event
id): a replayed or concurrently delivered event finds its row and changes nothing. Donations are
keyed by (provider, provider reference), so two different events about one payment (Stripe sends
both checkout.session.completed and invoice.paid for a first monthly payment) make one donation.
A refund that arrives before the payment it refunds waits as a stored event and is applied the
moment the payment is recorded.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
from collections.abc import Iterator, Mapping
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from pressroom.fundraising import banner
from pressroom.fundraising.models import (
    Campaign,
    Donation,
    DonationStateError,
    Donor,
    Frequency,
    RecurringDonation,
    WebhookEvent,
)
from pressroom.fundraising.money import MAXIMUM_AMOUNT
from pressroom.fundraising.providers import (
    CheckoutRequest,
    CheckoutSession,
    EventRejected,
    Fact,
    PaymentLinked,
    PaymentReceived,
    PaymentRefunded,
    ProviderBusy,
    RecurringEnded,
    RecurringStarted,
    VerifiedEvent,
    get_provider,
    online_provider,
)
from pressroom.fundraising.tasks import send_donation_receipt, send_donor_portal_link
from pressroom.lib.ratelimit import Limit
from pressroom.site.current import current_site

logger = logging.getLogger(__name__)


def forget_campaign_figures() -> None:
    """Drop the cached banner figures once the transaction commits, so pages show new totals."""
    transaction.on_commit(banner.forget_campaign_figures)


# --- Donors -----------------------------------------------------------------------------------


def find_or_create_donor(email: str, name: str = "", *, reference: str = "") -> Donor:
    email = email.strip().lower() or f"{reference or 'unknown'}@{Donor.NO_EMAIL_DOMAIN}".lower()
    name = name.strip()[: Donor._meta.get_field("name").max_length]
    donor, created = Donor.objects.get_or_create(email=email, defaults={"name": name})
    if not created and name and not donor.name:
        donor.name = name
        donor.save(update_fields=["name"])
    return donor


# --- Checkout -----------------------------------------------------------------------------------


def start_checkout(
    *,
    campaign: Campaign | None,
    amount: Decimal,
    currency: str,
    frequency: str,
    email: str,
    name: str,
    site_url: str,
) -> CheckoutSession:
    """Open a hosted checkout at the online processor; the webhook records the gift later."""
    description = f"{'Monthly donation' if frequency == Frequency.MONTHLY else 'Donation'} to {current_site().organisation_name}"
    if campaign:
        description += f" — {campaign.title}"
    request = CheckoutRequest(
        amount=amount,
        currency=currency,
        frequency=frequency,
        email=email,
        name=name,
        description=description[:250],
        campaign_slug=campaign.slug if campaign else "",
        success_url=site_url + reverse("fundraising:thanks") + "?session_id={CHECKOUT_SESSION_ID}",
        cancel_url=site_url + reverse("fundraising:cancelled"),
    )
    with processor_slot():
        return online_provider().create_checkout(request)


@functools.cache
def _processor_slots() -> threading.BoundedSemaphore:
    return threading.BoundedSemaphore(max(1, settings.WEB_THREADS // 2))


@contextlib.contextmanager
def processor_slot() -> Iterator[None]:
    """Hold one of this process's slots for a call to the payment processor.

    A web process has WEB_THREADS threads; a processor that answers slowly must never hold them
    all, or every page of the site waits behind it. At most half of them wait on the processor;
    a donation beyond that is told at once to try again (ProviderBusy), nothing charged.
    """
    slots = _processor_slots()
    if not slots.acquire(timeout=0.5):
        raise ProviderBusy("Too many checkouts are waiting on the payment processor.")
    try:
        yield
    finally:
        slots.release()


# --- Webhooks -----------------------------------------------------------------------------------


def receive_webhook(provider_name: str, body: bytes, headers: Mapping[str, str]) -> WebhookEvent:
    """Verify, store and process one webhook delivery. Raises WebhookVerificationError."""
    provider = get_provider(provider_name)
    event = provider.verify_webhook(body, headers)
    return process_event(provider_name, event)


@transaction.atomic
def process_event(provider_name: str, event: VerifiedEvent) -> WebhookEvent:
    """Store the event and apply its facts, or store it as rejected and apply nothing.

    A signed event whose contents cannot be a real payment is answered with success and kept
    with status "rejected": the processor would retry an error for days and the contents would
    not change, while staff can read the stored payload and the reason."""
    try:
        facts = get_provider(provider_name).interpret_event(event)
        for fact in facts:
            check_fact(fact)
    except EventRejected as error:
        logger.warning("Webhook event %s %s rejected: %s", provider_name, event.event_id, error)
        return _store_event(
            provider_name,
            event,
            WebhookEvent.Status.REJECTED,
            problem=str(error),
            keep_payload=error.keep_payload,
        )
    stored = _store_event(provider_name, event, WebhookEvent.Status.PROCESSED)
    if stored.processed_at is not None:
        return stored  # a replay: it was handled when it first came
    stored.status = WebhookEvent.Status.PROCESSED if facts else WebhookEvent.Status.IGNORED
    for fact in facts:
        if not apply_fact(provider_name, fact):
            stored.status = WebhookEvent.Status.WAITING
            stored.waiting_for = _waiting_reference(fact)
    stored.processed_at = timezone.now()
    stored.save(update_fields=["status", "waiting_for", "processed_at"])
    return stored


def _store_event(
    provider_name: str,
    event: VerifiedEvent,
    status: str,
    *,
    problem: str = "",
    keep_payload: bool = True,
) -> WebhookEvent:
    """The stored event: new (processed_at unset, unless rejected), or the one already there."""
    payload = event.payload
    if not keep_payload:
        # Its identity and envelope are enough to find it at the processor.
        payload = {key: value for key, value in payload.items() if key != "data"}
    try:
        with transaction.atomic():
            # On PostgreSQL a concurrent delivery of the same event waits here on the unique
            # index until the first commits, then fails and is treated as a replay.
            return WebhookEvent.objects.create(
                provider=provider_name,
                event_id=event.event_id,
                event_type=event.event_type,
                payload=payload,
                status=status,
                problem=problem,
                processed_at=timezone.now() if problem else None,
            )
    except IntegrityError:
        logger.info("Webhook event %s %s already received", provider_name, event.event_id)
        return WebhookEvent.objects.get(provider=provider_name, event_id=event.event_id)


def check_fact(fact: Fact) -> None:
    """Bounds every processor's facts must keep: EventRejected otherwise, before any write."""
    amounts = [getattr(fact, name) for name in ("amount", "total_refunded") if hasattr(fact, name)]
    for amount in amounts:
        if amount < 0 or amount >= MAXIMUM_AMOUNT:
            raise EventRejected(f"The amount {amount} is outside 0 to {MAXIMUM_AMOUNT}.")
    if isinstance(fact, PaymentReceived | RecurringStarted) and fact.amount == 0:
        raise EventRejected("A payment of nothing.")
    currency = getattr(fact, "currency", None)
    if currency is not None and not (
        len(currency) == 3 and currency.isascii() and currency.isalpha()
    ):
        raise EventRejected(f"The currency {currency[:20]!r} is not an ISO 4217 code.")
    references = [
        getattr(fact, name, "")
        for name in ("reference", "payment_reference", "recurring_reference")
    ] + list(getattr(fact, "references", []))
    if any(len(reference) > 255 for reference in references):
        raise EventRejected("A reference is longer than 255 characters.")
    email = getattr(fact, "email", "")
    if len(email) > 254 or (email and "@" not in email):
        raise EventRejected(f"The customer email {email[:40]!r} is not an address.")
    if len(getattr(fact, "campaign_slug", "")) > 100:
        raise EventRejected("The campaign is longer than a campaign slug can be.")


def _waiting_reference(fact: Fact) -> str:
    """The payment reference an event that arrived too early waits for."""
    if isinstance(fact, PaymentRefunded):
        return fact.references[0] if fact.references else ""
    return fact.reference


def apply_fact(provider_name: str, fact: Fact) -> bool:
    """Apply one processor-neutral fact; False when it refers to a payment not recorded yet."""
    match fact:
        case PaymentReceived():
            record_online_payment(provider_name, fact)
        case RecurringStarted():
            record_recurring_start(provider_name, fact)
        case PaymentRefunded():
            return record_refund(provider_name, fact)
        case PaymentLinked():
            return record_payment_link(provider_name, fact)
        case RecurringEnded():
            record_recurring_end(provider_name, fact)
    return True


def _campaign_for(slug: str) -> Campaign | None:
    return Campaign.objects.filter(slug=slug).first() if slug else None


def _get_or_create_recurring(provider_name: str, reference: str, **defaults) -> RecurringDonation:
    try:
        with transaction.atomic():
            recurring, _ = RecurringDonation.objects.select_for_update().get_or_create(
                provider=provider_name, provider_reference=reference, defaults=defaults
            )
    except IntegrityError:
        recurring = RecurringDonation.objects.select_for_update().get(
            provider=provider_name, provider_reference=reference
        )
    return recurring


def record_recurring_start(provider_name: str, fact: RecurringStarted) -> RecurringDonation:
    donor = find_or_create_donor(fact.email, fact.name, reference=fact.reference)
    campaign = _campaign_for(fact.campaign_slug)
    recurring = _get_or_create_recurring(
        provider_name,
        fact.reference,
        donor=donor,
        campaign=campaign,
        amount=fact.amount,
        currency=fact.currency,
    )
    if campaign and recurring.campaign_id is None:
        # Its first invoice may have arrived first, without the campaign: fill it in everywhere.
        recurring.campaign = campaign
        recurring.save(update_fields=["campaign"])
        recurring.donations.filter(campaign__isnull=True).update(campaign=campaign)
        forget_campaign_figures()
    return recurring


def record_recurring_end(provider_name: str, fact: RecurringEnded) -> None:
    recurring = (
        RecurringDonation.objects.select_for_update()
        .filter(provider=provider_name, provider_reference=fact.reference)
        .first()
    )
    if recurring is None:
        logger.info("Subscription %s ended but was never recorded here", fact.reference)
        return
    if recurring.is_active:
        recurring.cancel(at=fact.ended_at)
        recurring.save(update_fields=["status", "cancelled_at"])


def record_online_payment(provider_name: str, fact: PaymentReceived) -> Donation:
    existing = Donation.objects.filter(
        provider=provider_name, provider_reference=fact.reference
    ).first()
    if existing:
        if fact.payment_reference and not existing.provider_payment_reference:
            existing.provider_payment_reference = fact.payment_reference
            existing.save(update_fields=["provider_payment_reference"])
            _apply_waiting_events(existing)
        return existing
    donor = find_or_create_donor(
        fact.email, fact.name, reference=fact.recurring_reference or fact.reference
    )
    campaign = _campaign_for(fact.campaign_slug)
    recurring = None
    if fact.recurring_reference:
        recurring = _get_or_create_recurring(
            provider_name,
            fact.recurring_reference,
            donor=donor,
            campaign=campaign,
            amount=fact.amount,
            currency=fact.currency,
        )
        campaign = campaign or recurring.campaign
    donation = Donation(
        donor=donor,
        campaign=campaign,
        amount=fact.amount,
        currency=fact.currency,
        frequency=Frequency.MONTHLY if recurring else Frequency.ONCE,
        recurring_donation=recurring,
        provider=provider_name,
        provider_reference=fact.reference,
        provider_payment_reference=fact.payment_reference,
        received_at=fact.received_at or timezone.now(),
    )
    try:
        with transaction.atomic():
            donation.save()
    except IntegrityError:
        # Another event about the same payment got here first (in another transaction).
        return Donation.objects.get(provider=provider_name, provider_reference=fact.reference)
    _after_new_donation(donation)
    return donation


def _apply_waiting_events(donation: Donation) -> None:
    """Apply the stored events that arrived before this payment (refunds, payment links)."""
    references = [
        r for r in (donation.provider_reference, donation.provider_payment_reference) if r
    ]
    waiting = WebhookEvent.objects.select_for_update().filter(
        provider=donation.provider,
        status=WebhookEvent.Status.WAITING,
        waiting_for__in=references,
    )
    provider = get_provider(donation.provider)
    for stored in waiting.order_by("received_at", "id"):
        stored.status = WebhookEvent.Status.PROCESSED
        stored.waiting_for = ""
        stored.processed_at = timezone.now()
        stored.save(update_fields=["status", "waiting_for", "processed_at"])
        event = VerifiedEvent(stored.event_id, stored.event_type, stored.payload)
        for fact in provider.interpret_event(event):
            if isinstance(fact, PaymentRefunded | PaymentLinked):
                apply_fact(donation.provider, fact)


def record_payment_link(provider_name: str, fact: PaymentLinked) -> bool:
    donation = (
        Donation.objects.select_for_update()
        .filter(provider=provider_name, provider_reference=fact.reference)
        .first()
    )
    if donation is None:
        return False
    if donation.provider_payment_reference != fact.payment_reference:
        donation.provider_payment_reference = fact.payment_reference
        donation.save(update_fields=["provider_payment_reference"])
        _apply_waiting_events(donation)  # a refund may be waiting for the payment intent
    return True


def _after_new_donation(donation: Donation) -> None:
    _apply_waiting_events(donation)
    forget_campaign_figures()
    transaction.on_commit(lambda: send_donation_receipt.enqueue(donation.pk))


def record_refund(provider_name: str, fact: PaymentRefunded) -> bool:
    donation = (
        Donation.objects.select_for_update()
        .matching_payment(provider_name, fact.references)
        .first()
    )
    if donation is None:
        return False
    if fact.total_refunded > donation.refunded_amount:
        try:
            donation.record_refund(min(fact.total_refunded, donation.amount))
        except DonationStateError:
            logger.warning("Refund %s does not fit donation %s", fact, donation.pk)
            return True
        donation.save(update_fields=["refunded_amount", "status"])
        forget_campaign_figures()
    return True


# --- Offline donations and staff actions ----------------------------------------------------------


@transaction.atomic
def record_offline_donation(
    *,
    email: str,
    name: str,
    amount: Decimal,
    currency: str,
    method: str,
    reference: str,
    campaign: Campaign | None,
    received_at: datetime | None = None,
    note: str = "",
    send_receipt: bool = True,
) -> Donation:
    """A cheque, transfer or gift through another processor, entered by staff."""
    donation = Donation(
        donor=find_or_create_donor(email, name),
        campaign=campaign,
        amount=amount,
        currency=currency.upper(),
        provider=method,
        provider_reference=reference,
        received_at=received_at or timezone.now(),
        note=note,
        receipt_requested=send_receipt,
    )
    donation.save()
    forget_campaign_figures()
    if send_receipt:
        transaction.on_commit(lambda: send_donation_receipt.enqueue(donation.pk))
    return donation


@transaction.atomic
def refund_donation(donation_id: int, total_refunded: Decimal) -> Donation:
    """Staff record a refund made outside the processor's webhooks (e.g. a returned cheque)."""
    donation = Donation.objects.select_for_update().get(pk=donation_id)
    donation.record_refund(total_refunded)
    donation.save(update_fields=["refunded_amount", "status"])
    forget_campaign_figures()
    return donation


@transaction.atomic
def cancel_recurring_donation(
    recurring_id: int, *, donor: Donor | None = None
) -> RecurringDonation:
    """Stop a monthly gift at its processor, then here. Raises DonationStateError or ProviderError."""
    recurring = RecurringDonation.objects.select_for_update().get(pk=recurring_id)
    if donor is not None and recurring.donor_id != donor.pk:
        raise DonationStateError("This monthly gift belongs to someone else.")
    if not recurring.is_active:
        raise DonationStateError("This monthly gift is already cancelled.")
    with processor_slot():
        get_provider(recurring.provider).cancel_recurring(recurring.provider_reference)
    recurring.cancel()
    recurring.save(update_fields=["status", "cancelled_at"])
    return recurring


@transaction.atomic
def save_campaign(campaign: Campaign) -> Campaign:
    campaign.full_clean()
    campaign.save()
    forget_campaign_figures()
    return campaign


# A reader may ask for a link this often per address; more would let anyone flood an inbox.
PORTAL_LINK_INTERVAL_SECONDS = 300


def request_portal_link(email: str) -> None:
    """Email the donor with this address a link to their gifts, if there is one.

    The caller says the same thing either way, so the form reveals nobody's giving."""
    email = email.strip().lower()
    # Counted where every process sees it, so several web workers still send one link.
    if not Limit("portal-link", 1, PORTAL_LINK_INTERVAL_SECONDS).hit(email):
        return
    donor = Donor.objects.filter(email=email).first()
    if donor is None:
        return
    transaction.on_commit(lambda: send_donor_portal_link.enqueue(donor.pk))
