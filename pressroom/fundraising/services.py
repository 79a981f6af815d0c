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
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from pressroom.fundraising import banner
from pressroom.fundraising.methods import OFFLINE_METHODS
from pressroom.fundraising.models import (
    Campaign,
    Donation,
    DonationRefund,
    DonationStateError,
    Donor,
    Frequency,
    RecurringDonation,
    WebhookEvent,
    normalize_email,
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
    provider_label,
)
from pressroom.fundraising.tasks import (
    send_donation_receipt,
    send_donation_refund_confirmation,
    send_donor_portal_link,
    send_recurring_cancellation_confirmation,
)
from pressroom.lib.ratelimit import Limit
from pressroom.site.current import current_site

logger = logging.getLogger(__name__)


def forget_campaign_figures() -> None:
    """Drop the cached banner figures once the transaction commits, so pages show new totals."""
    transaction.on_commit(banner.forget_campaign_figures)


# --- Donors -----------------------------------------------------------------------------------


def find_or_create_donor(email: str, name: str = "", *, reference: str = "") -> Donor:
    email = normalize_email(email) or f"{reference or 'unknown'}@{Donor.NO_EMAIL_DOMAIN}".lower()
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
        _confirm_cancellation(recurring)


def _confirm_cancellation(recurring: RecurringDonation) -> None:
    transaction.on_commit(lambda: send_recurring_cancellation_confirmation.enqueue(recurring.pk))


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
            _book_refund(donation, min(fact.total_refunded, donation.amount), fact.refunded_at)
        except DonationStateError:
            logger.warning("Refund %s does not fit donation %s", fact, donation.pk)
    return True


def _book_refund(donation: Donation, total_refunded: Decimal, at: datetime | None) -> None:
    """Set the donation's refunded total and book what it adds on the day it happened."""
    added = donation.record_refund(total_refunded, at=at)
    if not added:
        return
    donation.save(update_fields=["refunded_amount", "refunded_at", "status"])
    refund = DonationRefund.objects.create(
        donation=donation, amount=added, refunded_at=donation.refunded_at or timezone.now()
    )
    forget_campaign_figures()
    transaction.on_commit(lambda: send_donation_refund_confirmation.enqueue(refund.pk))


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
    """A cheque, transfer or gift through another processor, entered by staff. Raises
    DonationStateError when this donor's gift with that reference is already recorded."""
    donor = find_or_create_donor(email, name)
    if offline_reference_taken(donor, method, reference):
        raise DonationStateError(
            f"{donor.email} already has a gift by {provider_label(method)} with the reference "
            f"{reference!r}; correct that one instead (or refund it first if it bounced)."
        )
    donation = Donation(
        donor=donor,
        campaign=campaign,
        amount=amount,
        currency=currency.upper(),
        provider=method,
        provider_reference=reference,
        received_at=received_at or timezone.now(),
        note=note,
        receipt_requested=send_receipt,
    )
    try:
        with transaction.atomic():
            donation.save()
    except IntegrityError:
        # The same gift entered at the same moment by another member of staff.
        raise DonationStateError(
            f"{donor.email}'s gift with the reference {reference!r} is already recorded."
        ) from None
    forget_campaign_figures()
    if send_receipt:
        transaction.on_commit(lambda: send_donation_receipt.enqueue(donation.pk))
    return donation


def offline_reference_taken(
    donor: Donor | None, method: str, reference: str, *, exclude_id: int | None = None
) -> bool:
    """Whether this donor already has a live gift by this method with this reference."""
    if donor is None or donor.pk is None or not reference:
        return False
    taken = Donation.objects.filter(
        donor=donor, provider=method, provider_reference=reference
    ).exclude(status=Donation.Status.REFUNDED)
    if exclude_id is not None:
        taken = taken.exclude(pk=exclude_id)
    return taken.exists()


# What staff may correct on an offline gift until it is reconciled.
OFFLINE_EDITABLE_FIELDS = (
    "amount",
    "currency",
    "campaign",
    "provider",
    "provider_reference",
    "received_at",
    "note",
)


@transaction.atomic
def update_offline_donation(donation_id: int, **changes: object) -> Donation:
    """Correct an offline gift (a mistyped amount or cheque number). Raises DonationStateError
    once it is reconciled, for an online payment, or for a reference the donor already used."""
    donation = Donation.objects.select_for_update().get(pk=donation_id)
    donation.ensure_editable()
    unknown = set(changes) - set(OFFLINE_EDITABLE_FIELDS)
    if unknown:
        raise DonationStateError(f"These fields cannot be edited: {', '.join(sorted(unknown))}.")
    for name, value in changes.items():
        setattr(donation, name, value)
    if donation.refunded_amount > donation.amount:
        raise DonationStateError("The amount cannot be less than what was already refunded.")
    if offline_reference_taken(
        donation.donor, donation.provider, donation.provider_reference, exclude_id=donation.pk
    ):
        raise DonationStateError(
            f"{donation.donor.email} already has another gift with the reference "
            f"{donation.provider_reference!r}."
        )
    donation.save(update_fields=list(changes))
    forget_campaign_figures()
    return donation


@transaction.atomic
def reconcile_donations(donation_ids: list[int]) -> int:
    """Mark gifts as matched with the bank statement: final from now on. Returns how many
    changed (ones reconciled already keep their date)."""
    now = timezone.now()
    return Donation.objects.filter(pk__in=donation_ids, reconciled_at__isnull=True).update(
        reconciled_at=now
    )


@transaction.atomic
def refund_donation(
    donation_id: int, total_refunded: Decimal, *, at: datetime | None = None
) -> Donation:
    """Staff record a refund made outside the processor's webhooks (e.g. a returned cheque)."""
    donation = Donation.objects.select_for_update().get(pk=donation_id)
    if total_refunded <= donation.refunded_amount:
        raise DonationStateError("This donation is already refunded that much.")
    _book_refund(donation, total_refunded, at)
    return donation


def _reference_clashes(donor_ids: list[int]) -> list[str]:
    """Offline references that two of these donors both use on a live gift (each donor's
    cheque #1001 is fine apart; together they would be the same cheque twice)."""
    live = (
        Donation.objects.filter(donor_id__in=donor_ids)
        .exclude(provider_reference="")
        .exclude(status=Donation.Status.REFUNDED)
        .filter(provider__in=list(OFFLINE_METHODS))
    )
    seen: set[tuple[str, str]] = set()
    clashes = []
    for method, reference in live.values_list("provider", "provider_reference").order_by("pk"):
        if (method, reference) in seen:
            clashes.append(f"{provider_label(method)} {reference}")
        seen.add((method, reference))
    return clashes


@dataclass(frozen=True)
class DonorMerge:
    kept: Donor
    merged_emails: list[str]
    donations_moved: int
    monthly_gifts_moved: int


@transaction.atomic
def merge_donors(kept_id: int, other_ids: list[int]) -> DonorMerge:
    """Make several records of one person one: the others' gifts and monthly gifts move to the
    kept donor, the others are deleted. Their portal links stop working (they name the old
    record); the kept donor's still work."""
    other_ids = [donor_id for donor_id in other_ids if donor_id != kept_id]
    if not other_ids:
        raise DonationStateError("Choose at least one other donor to merge into the kept one.")
    donors = {
        donor.pk: donor
        for donor in Donor.objects.select_for_update().filter(pk__in=[kept_id, *other_ids])
    }
    if kept_id not in donors or len(donors) != len(other_ids) + 1:
        raise DonationStateError("One of these donors no longer exists; reload the page.")
    kept = donors[kept_id]
    others = [donors[donor_id] for donor_id in other_ids]
    clashes = _reference_clashes([kept_id, *other_ids])
    if clashes:
        raise DonationStateError(
            "These records have the same reference for two live gifts, which would be one "
            f"gift counted twice: {', '.join(clashes)}. Correct or refund one of each first."
        )
    donations_moved = Donation.objects.filter(donor_id__in=other_ids).update(donor=kept)
    monthly_moved = RecurringDonation.objects.filter(donor_id__in=other_ids).update(donor=kept)
    if not kept.name:
        kept.name = next((donor.name for donor in others if donor.name), "")
        kept.save(update_fields=["name"])
    Donor.objects.filter(pk__in=other_ids).delete()
    forget_campaign_figures()  # the donor counts change
    logger.info(
        "Merged donors %s into %s (%s donations, %s monthly gifts)",
        other_ids,
        kept_id,
        donations_moved,
        monthly_moved,
    )
    return DonorMerge(kept, [donor.email for donor in others], donations_moved, monthly_moved)


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
    _confirm_cancellation(recurring)
    return recurring


def resend_receipts(donation_ids: list[int]) -> tuple[int, int]:
    """Queue each donation's receipt again (a donor lost it, or asked for a copy). Returns
    (queued, skipped): gifts refunded in full, or of donors without a deliverable address,
    have no receipt to send."""
    donations = Donation.objects.filter(pk__in=donation_ids).select_related("donor")
    queued = [
        donation.pk
        for donation in donations
        if donation.donor.can_receive_email and donation.status != Donation.Status.REFUNDED
    ]
    for donation_id in queued:
        transaction.on_commit(
            functools.partial(send_donation_receipt.enqueue, donation_id, again=True)
        )
    return len(queued), len(donation_ids) - len(queued)


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
    email = normalize_email(email)
    # Counted where every process sees it, so several web workers still send one link.
    if not Limit("portal-link", 1, PORTAL_LINK_INTERVAL_SECONDS).hit(email):
        return
    donor = Donor.objects.filter(email=email).first()
    if donor is None:
        return
    transaction.on_commit(lambda: send_donor_portal_link.enqueue(donor.pk))
