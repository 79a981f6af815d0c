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
import dataclasses
import functools
import logging
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from pressroom.fundraising import banner, signals
from pressroom.fundraising.gifts import GiftDetails
from pressroom.fundraising.methods import OFFLINE_METHODS
from pressroom.fundraising.models import (
    Campaign,
    Donation,
    DonationRefund,
    DonationStateError,
    Donor,
    Frequency,
    OpenedCheckout,
    PaymentFailure,
    ProcessorHealth,
    RecurringDonation,
    Tribute,
    WebhookEvent,
    normalize_email,
)
from pressroom.fundraising.money import (
    MAXIMUM_AMOUNT,
    MINIMUM_MINOR_UNITS,
    AmountError,
    format_amount,
    from_minor_units,
    parse_amount,
)
from pressroom.fundraising.providers import (
    CheckoutRequest,
    CheckoutSession,
    CheckoutToSettle,
    EventRejected,
    Fact,
    PaymentFailed,
    PaymentLinked,
    PaymentProvider,
    PaymentReceived,
    PaymentRefunded,
    ProviderBusy,
    ProviderError,
    ProviderNotConfigured,
    ProviderRefused,
    RecurringEnded,
    RecurringStarted,
    VerifiedEvent,
    default_provider_name,
    get_provider,
    provider_label,
)
from pressroom.fundraising.providers import settle_checkout as settle_at_processor
from pressroom.fundraising.tasks import (
    send_card_update_request,
    send_donation_receipt,
    send_donation_refund_confirmation,
    send_donor_portal_link,
    send_lapse_notice,
    send_move_invitation,
    send_payment_failure_staff_notice,
    send_processor_down_notice,
    send_recurring_amount_change_confirmation,
    send_recurring_cancellation_confirmation,
    send_tribute_notification,
    stop_recurring_at_processor,
)
from pressroom.lib.attribution import Source
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
    details: GiftDetails | None = None,
    replaces: RecurringDonation | None = None,
    provider_name: str = "",
) -> CheckoutSession:
    """Open a hosted checkout at the campaign's processor (or `provider_name`); the webhook
    records the gift later. `amount` is what the donor chose; a fee they cover is added on top
    (details.covered_fee) and named in the line's description, so the processor's page shows it
    before they pay. `replaces`: the monthly gift at another processor this new one moves
    (stopped once the new one is active)."""
    details = details or GiftDetails()
    kinds: dict[str, str] = {
        Frequency.MONTHLY: "Monthly donation",
        Frequency.ANNUAL: "Annual donation",
    }
    kind = kinds.get(frequency, "Donation")
    description = f"{kind} to {current_site().organisation_name}"
    if campaign:
        description += f" — {campaign.title}"
    if details.covered_fee:
        description += (
            f" (includes {format_amount(details.covered_fee, currency, exact=True)}"
            " to cover processing fees)"
        )
    request = CheckoutRequest(
        amount=amount + details.covered_fee,
        currency=currency,
        frequency=frequency,
        email=email,
        name=name,
        description=description[:250],
        campaign_slug=campaign.slug if campaign else "",
        success_url=site_url + reverse("fundraising:thanks") + "?session_id={CHECKOUT_SESSION_ID}",
        cancel_url=site_url + reverse("fundraising:cancelled"),
        details=details.as_strings(),
        replaces=str(replaces.pk) if replaces else "",
    )
    provider = get_provider(provider_name) if provider_name else campaign_provider(campaign)
    with processor_slot(), processor_watch(provider.name):
        session = provider.create_checkout(request)
    # What the processor may not carry back (PayPal: every donor option) is read from here
    # when the payment is recorded (_with_checkout_details).
    OpenedCheckout.objects.get_or_create(
        provider=provider.name,
        reference=session.reference[:255],
        defaults={
            "frequency": frequency,
            "campaign_slug": request.campaign_slug,
            "details": {**request.details, "frequency": frequency},
        },
    )
    return session


def campaign_provider(campaign: Campaign | None) -> PaymentProvider:
    """The processor that takes this campaign's gifts: its own, else the site's default.
    Raises ProviderError for a name no installed processor has."""
    return get_provider((campaign.processor if campaign else "") or default_provider_name())


# The thanks page asks the processor about one checkout at most this often (seconds): reloads
# and floods of one order id make no more calls.
THANKS_SETTLE_INTERVAL_SECONDS = 60


def settle_returning_checkout(provider_name: str, reference: str) -> list[Fact]:
    """The donor is back on the thanks page with the processor's checkout id (PayPal's
    ?token=): settle it now, but only a checkout Pressroom opened (anyone can type an id),
    at most once a minute per checkout, and not counted toward the processor's health (a flood
    of lookups must not pause giving for everyone). The webhook settles it anyway."""
    if not OpenedCheckout.objects.filter(provider=provider_name, reference=reference).exists():
        return []
    if not Limit("thanks-settle", 1, THANKS_SETTLE_INTERVAL_SECONDS).hit(
        f"{provider_name}:{reference}"
    ):
        return []
    return settle_checkout(provider_name, reference, count_health=False)


def settle_checkout(provider_name: str, reference: str, *, count_health: bool = True) -> list[Fact]:
    """Complete a checkout the processor leaves to the merchant (PayPal's capture) and record
    what it paid. Safe to repeat: the processor settles once, the gift is recorded once."""
    provider = get_provider(provider_name)
    watch = processor_watch(provider_name) if count_health else contextlib.nullcontext()
    with processor_slot(), watch:
        facts = settle_at_processor(provider, reference)
    with transaction.atomic():
        for fact in facts:
            try:
                check_fact(fact)
            except EventRejected as error:
                raise ProviderError(
                    f"The processor's answer cannot be a real payment: {error}"
                ) from error
            apply_fact(provider_name, fact)
    return facts


# How long the donate page rests a processor that failed FUNDRAISING_PROCESSOR_FAILURES times in
# a row before offering a checkout again (the next reader's checkout is then the test).
PROCESSOR_REST = timedelta(minutes=5)


def processor_is_down(provider_name: str) -> bool:
    """Whether the last calls to this processor all failed, recently enough to rest it."""
    health = ProcessorHealth.objects.filter(provider=provider_name).first()
    return (
        health is not None
        and health.consecutive_failures >= settings.FUNDRAISING_PROCESSOR_FAILURES
        and health.last_failure_at is not None
        and health.last_failure_at > timezone.now() - PROCESSOR_REST
    )


@contextlib.contextmanager
def processor_watch(provider_name: str) -> Iterator[None]:
    """Count this call's outcome toward the processor's health (outside the caller's
    transaction: it must stay recorded when the caller rolls back)."""
    try:
        yield
    except (ProviderBusy, ProviderNotConfigured, ProviderRefused):
        raise  # our own limits, or a refusal of this request: not the processor's health
    except ProviderError as error:
        record_processor_failure(provider_name, str(error))
        raise
    else:
        record_processor_success(provider_name)


def record_processor_failure(provider_name: str, error: str) -> ProcessorHealth:
    """One more failed call; at the threshold staff are emailed, once per outage."""
    with transaction.atomic():
        ProcessorHealth.objects.get_or_create(provider=provider_name)
        health = ProcessorHealth.objects.select_for_update().get(provider=provider_name)
        now = timezone.now()
        health.consecutive_failures += 1
        health.last_failure_at = now
        health.last_error = error[:500]
        health.down_since = health.down_since or now
        alert = (
            health.consecutive_failures >= settings.FUNDRAISING_PROCESSOR_FAILURES
            and health.staff_alerted_at is None
        )
        if alert:
            health.staff_alerted_at = now
            transaction.on_commit(lambda: send_processor_down_notice.enqueue(health.pk))
        health.save()
    return health


def record_processor_success(provider_name: str) -> None:
    """The processor answered: the outage, if any, is over (the next one is alerted again)."""
    ProcessorHealth.objects.filter(provider=provider_name).exclude(
        consecutive_failures=0, staff_alerted_at__isnull=True
    ).update(consecutive_failures=0, down_since=None, staff_alerted_at=None)


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
    references.append(getattr(fact, "customer_reference", ""))
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
    if isinstance(fact, PaymentReceived) and not fact.email:
        return fact.recurring_reference  # a month's payment that names no donor
    return fact.reference


def apply_fact(provider_name: str, fact: Fact) -> bool:
    """Apply one processor-neutral fact; False when it refers to a payment not recorded yet."""
    fact = _with_checkout_details(provider_name, fact)
    match fact:
        case PaymentReceived():
            return record_online_payment(provider_name, fact) is not None
        case RecurringStarted():
            record_recurring_start(provider_name, fact)
        case PaymentRefunded():
            return record_refund(provider_name, fact)
        case PaymentLinked():
            return record_payment_link(provider_name, fact)
        case RecurringEnded():
            return record_recurring_end(provider_name, fact)
        case PaymentFailed():
            record_payment_failure(provider_name, fact)
        case CheckoutToSettle():
            # A call to the processor: in a task, after this event is safely stored.
            transaction.on_commit(
                functools.partial(
                    signals.checkout_to_settle.send,
                    sender=None,
                    provider_name=provider_name,
                    reference=fact.reference,
                )
            )
    return True


def _with_checkout_details(provider_name: str, fact: Fact) -> Fact:
    """The fact with the donor's options and campaign as Pressroom stored them when it opened
    the checkout, for a processor whose facts do not carry them (PayPal); what a fact does
    carry (Stripe's metadata) wins."""
    match fact:
        case PaymentReceived(recurring_reference="", payment_reference=reference) if reference:
            pass
        case RecurringStarted(reference=reference):
            pass
        case _:
            return fact
    opened = OpenedCheckout.objects.filter(provider=provider_name, reference=reference).first()
    if opened is None:
        return fact
    return dataclasses.replace(
        fact,
        details={
            **{str(key): str(value) for key, value in opened.details.items()},
            **fact.details,
        },
        campaign_slug=opened.campaign_slug or fact.campaign_slug,
    )


def _campaign_for(slug: str) -> Campaign | None:
    return Campaign.objects.filter(slug=slug).first() if slug else None


def _donor_of(provider_name: str, recurring_reference: str, email: str, name: str) -> Donor:
    """Whose monthly gift this is: the donor it belongs to when we know it (after a merge the
    processor still sends the old address, which must not bring the merged donor back), else
    the donor with this email."""
    known = (
        RecurringDonation.objects.filter(
            provider=provider_name, provider_reference=recurring_reference
        )
        .select_related("donor")
        .first()
    )
    if known is not None:
        return known.donor
    return find_or_create_donor(email, name, reference=recurring_reference)


def _get_or_create_recurring(provider_name: str, reference: str, **defaults) -> RecurringDonation:
    try:
        with transaction.atomic():
            recurring, created = RecurringDonation.objects.select_for_update().get_or_create(
                provider=provider_name, provider_reference=reference, defaults=defaults
            )
    except IntegrityError:
        recurring = RecurringDonation.objects.select_for_update().get(
            provider=provider_name, provider_reference=reference
        )
        created = False
    if created:
        _apply_waiting_recurring_events(recurring)
    return recurring


def _apply_waiting_recurring_events(recurring: RecurringDonation) -> None:
    """Apply an end of this monthly gift that arrived before anything else about it (Stripe
    does not promise any order): the gift is recorded, then stopped as the event said."""
    waiting = WebhookEvent.objects.select_for_update().filter(
        provider=recurring.provider,
        status=WebhookEvent.Status.WAITING,
        waiting_for=recurring.provider_reference,
    )
    provider = get_provider(recurring.provider)
    for stored in waiting.order_by("received_at", "id"):
        stored.status = WebhookEvent.Status.PROCESSED
        stored.waiting_for = ""
        stored.processed_at = timezone.now()
        stored.save(update_fields=["status", "waiting_for", "processed_at"])
        event = VerifiedEvent(stored.event_id, stored.event_type, stored.payload)
        for fact in provider.interpret_event(event):
            if isinstance(fact, RecurringEnded):
                _end_recurring(recurring, fact)
            elif isinstance(fact, PaymentReceived):
                record_online_payment(recurring.provider, fact)


def _recurring_defaults(details: Mapping[str, str], amount: Decimal, currency: str) -> dict:
    """What a monthly gift's events say about it beside its amount (every event of it carries
    the details the donor chose at checkout, whichever comes first)."""
    frequency = details.get("frequency", "")
    gift = GiftDetails.from_strings(details, amount, currency)
    return {
        "frequency": frequency if frequency in Frequency.repeating() else Frequency.MONTHLY,
        "is_anonymous": gift.anonymous,
    }


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
        **_recurring_defaults(fact.details, fact.amount, fact.currency),
    )
    if campaign and recurring.campaign_id is None:
        # Its first invoice may have arrived first, without the campaign: fill it in everywhere.
        recurring.campaign = campaign
        recurring.save(update_fields=["campaign"])
        recurring.donations.filter(campaign__isnull=True).update(campaign=campaign)
        forget_campaign_figures()
    if fact.replaces:
        finish_move(recurring, fact.replaces)
    return recurring


def record_recurring_end(provider_name: str, fact: RecurringEnded) -> bool:
    """Stop a monthly gift the processor ended; False (the event waits) when it is not
    recorded yet."""
    recurring = (
        RecurringDonation.objects.select_for_update()
        .filter(provider=provider_name, provider_reference=fact.reference)
        .first()
    )
    if recurring is None:
        logger.info("Subscription %s ended before it was recorded here", fact.reference)
        return False
    _end_recurring(recurring, fact)
    return True


def _end_recurring(recurring: RecurringDonation, fact: RecurringEnded) -> None:
    """Cancelled (the donor or staff asked) or lapsed (payments failed), told to the donor
    once: a repeated or later end event finds the gift stopped and changes nothing. A stop
    recorded here and not yet confirmed is confirmed by it (the processor charges no more)."""
    if recurring.is_stopping:
        recurring.confirm_stop(at=timezone.now())
        recurring.save(update_fields=["status", "stop_confirmed_at", "stop_next_attempt_at"])
        return
    if not recurring.is_active:
        return
    if fact.payment_failed:
        recurring.lapse(at=fact.ended_at)
        recurring.save(update_fields=["status", "lapsed_at", "stop_next_attempt_at"])
        transaction.on_commit(lambda: send_lapse_notice.enqueue(recurring.pk))
        transaction.on_commit(lambda: stop_recurring_at_processor.enqueue(recurring.pk))
        return
    recurring.cancel(at=fact.ended_at)
    recurring.save(update_fields=["status", "cancelled_at", "stop_confirmed_at"])
    _confirm_cancellation(recurring)


def record_payment_failure(provider_name: str, fact: PaymentFailed) -> PaymentFailure:
    """Record a monthly payment that failed and, the first time for this payment, ask the
    donor to update their card and tell staff. A failure reported after the payment went
    through on a retry, or after the gift lapsed, is counted and emails nobody."""
    donor = _donor_of(provider_name, fact.recurring_reference, fact.email, fact.name)
    recurring = _get_or_create_recurring(
        provider_name,
        fact.recurring_reference,
        donor=donor,
        amount=fact.amount,
        currency=fact.currency,
    )
    if fact.customer_reference and not recurring.provider_customer_reference:
        recurring.provider_customer_reference = fact.customer_reference
        recurring.save(update_fields=["provider_customer_reference"])
    try:
        with transaction.atomic():
            failure, created = PaymentFailure.objects.select_for_update().get_or_create(
                provider=provider_name,
                reference=fact.reference,
                defaults={
                    "recurring_donation": recurring,
                    "amount": fact.amount,
                    "currency": fact.currency,
                    "attempts": fact.attempts,
                    "kind": PaymentFailure.Kind.ACTION_REQUIRED
                    if fact.action_required
                    else PaymentFailure.Kind.DECLINED,
                    "failed_at": fact.failed_at or timezone.now(),
                },
            )
    except IntegrityError:
        failure = PaymentFailure.objects.select_for_update().get(
            provider=provider_name, reference=fact.reference
        )
        created = False
    if not created and fact.attempts > failure.attempts:
        failure.attempts = fact.attempts
        failure.save(update_fields=["attempts"])
    if (
        failure.recovered_at is None
        and Donation.objects.filter(
            provider=provider_name, provider_reference=fact.reference
        ).exists()
    ):
        # The invoice was paid on a retry and that event came first: nothing to fix.
        failure.recovered_at = timezone.now()
        failure.save(update_fields=["recovered_at"])
    if created and failure.recovered_at is None:
        transaction.on_commit(lambda: send_payment_failure_staff_notice.enqueue(failure.pk))
        if recurring.is_active:
            transaction.on_commit(lambda: send_card_update_request.enqueue(failure.pk))
    return failure


def _mark_failure_recovered(donation: Donation) -> None:
    PaymentFailure.objects.filter(
        provider=donation.provider,
        reference=donation.provider_reference,
        recovered_at__isnull=True,
    ).update(recovered_at=timezone.now())


def _confirm_cancellation(recurring: RecurringDonation) -> None:
    transaction.on_commit(lambda: send_recurring_cancellation_confirmation.enqueue(recurring.pk))


def record_online_payment(provider_name: str, fact: PaymentReceived) -> Donation | None:
    """The donation of this payment (recorded once); None when it names no donor and its
    monthly gift is not recorded yet (PayPal's sales): the event waits for the gift."""
    existing = Donation.objects.filter(
        provider=provider_name, provider_reference=fact.reference
    ).first()
    if existing:
        if fact.payment_reference and not existing.provider_payment_reference:
            existing.provider_payment_reference = fact.payment_reference
            existing.save(update_fields=["provider_payment_reference"])
            _apply_waiting_events(existing)
        return existing
    if fact.recurring_reference:
        if (
            not fact.email
            and not RecurringDonation.objects.filter(
                provider=provider_name, provider_reference=fact.recurring_reference
            ).exists()
        ):
            return None  # a month's payment that names no donor (PayPal's sales) waits
        donor = _donor_of(provider_name, fact.recurring_reference, fact.email, fact.name)
    else:
        donor = find_or_create_donor(fact.email, fact.name, reference=fact.reference)
    campaign = _campaign_for(fact.campaign_slug)
    recurring = None
    details = GiftDetails.from_strings(fact.details, fact.amount, fact.currency)
    if fact.recurring_reference:
        recurring = _get_or_create_recurring(
            provider_name,
            fact.recurring_reference,
            donor=donor,
            campaign=campaign,
            amount=fact.amount,
            currency=fact.currency,
            **_recurring_defaults(fact.details, fact.amount, fact.currency),
        )
        campaign = campaign or recurring.campaign
    # A gift is attributed to where it started once: a monthly gift's later payments repeat
    # the checkout's details but were not brought by that page or send again.
    source = details.source
    if recurring is not None and recurring.donations.exists():
        source = Source()
    donation = Donation(
        donor=donor,
        campaign=campaign,
        amount=fact.amount,
        currency=fact.currency,
        covered_fee=details.covered_fee,
        is_anonymous=details.anonymous,
        frequency=recurring.frequency if recurring else Frequency.ONCE,
        recurring_donation=recurring,
        provider=provider_name,
        provider_reference=fact.reference,
        provider_payment_reference=fact.payment_reference,
        received_at=fact.received_at or timezone.now(),
        source_path=source.path,
        source_campaign=source.campaign,
    )
    try:
        with transaction.atomic():
            donation.save()
    except IntegrityError:
        # Another event about the same payment got here first (in another transaction).
        return Donation.objects.get(provider=provider_name, provider_reference=fact.reference)
    _after_new_donation(donation)
    _record_tribute(donation, details)
    return donation


def _record_tribute(donation: Donation, details: GiftDetails) -> None:
    """A gift in honour or memory of someone: recorded on its first payment only (each month's
    invoice of a monthly gift repeats the details) and the card sent once, by the worker."""
    if not details.has_tribute:
        return
    if (
        donation.recurring_donation_id
        and Tribute.objects.filter(
            donation__recurring_donation_id=donation.recurring_donation_id
        ).exists()
    ):
        return
    tribute = Tribute.objects.create(
        donation=donation,
        kind=details.tribute_kind,
        honoree_name=details.tribute_name,
        notify_name=details.tribute_notify_name,
        notify_email=details.tribute_notify_email,
        show_amount=details.tribute_show_amount,
    )
    if tribute.notify_email:
        transaction.on_commit(lambda: send_tribute_notification.enqueue(tribute.pk))


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
    if donation.recurring_donation_id:
        _mark_failure_recovered(donation)
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
    money_changed = any(
        getattr(donation, name) != changes[name]
        for name in ("amount", "currency")
        if name in changes
    )
    if money_changed and donation.refunded_amount:
        # Refunds are booked against the amount and currency (and in their months): changing
        # those under them would leave the gift's status and closed months wrong.
        raise DonationStateError(
            "This gift has refunds booked, so its amount and currency cannot change. Refund "
            "what is left and enter the corrected gift again."
        )
    for name, value in changes.items():
        setattr(donation, name, value)
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
def stop_recurring_donation(recurring_id: int, *, donor: Donor | None = None) -> RecurringDonation:
    """Stop a monthly gift: recorded here at once, whatever the processor's state (down,
    unconfigured, gone), confirmed to the donor by email, and cancelled at the processor by a
    task that retries until the processor confirms. Raises DonationStateError."""
    recurring = RecurringDonation.objects.select_for_update().get(pk=recurring_id)
    if donor is not None and recurring.donor_id != donor.pk:
        raise DonationStateError("This monthly gift belongs to someone else.")
    recurring.request_stop()
    recurring.save(update_fields=["status", "cancelled_at", "stop_next_attempt_at"])
    _confirm_cancellation(recurring)
    transaction.on_commit(lambda: stop_recurring_at_processor.enqueue(recurring.pk))
    return recurring


# The name the admin and older callers know.
cancel_recurring_donation = stop_recurring_donation


@transaction.atomic
def confirm_stops_by_hand(recurring_ids: list[int]) -> int:
    """Staff checked at the processor (or it is gone for good): these stops are final and no
    longer retried. Returns how many changed."""
    changed = 0
    for recurring in RecurringDonation.objects.select_for_update().filter(
        pk__in=recurring_ids, status=RecurringDonation.Status.STOP_REQUESTED
    ):
        recurring.confirm_stop()
        recurring.stop_last_error = "Confirmed by hand by staff."
        recurring.save(
            update_fields=["status", "stop_confirmed_at", "stop_next_attempt_at", "stop_last_error"]
        )
        changed += 1
    return changed


def recurring_amount_bounds(currency: str) -> tuple[Decimal, Decimal]:
    # The smallest gift the donate form takes; the largest an outlet allows in the portal.
    return (
        from_minor_units(MINIMUM_MINOR_UNITS, currency),
        Decimal(settings.FUNDRAISING_RECURRING_MAXIMUM),
    )


@transaction.atomic
def change_recurring_amount(
    recurring_id: int, amount_text: str | Decimal, *, donor: Donor | None = None
) -> RecurringDonation:
    """A donor gives another amount from the next payment on: the processor is told first (no
    proration of the current period), then the record, then the donor gets a confirmation.
    Raises DonationStateError (bad amount, stopped gift) or ProviderError (nothing changed)."""
    recurring = RecurringDonation.objects.select_for_update().get(pk=recurring_id)
    if donor is not None and recurring.donor_id != donor.pk:
        raise DonationStateError("This monthly gift belongs to someone else.")
    if not recurring.is_active:
        raise DonationStateError("This gift has stopped; start a new one on the donate page.")
    try:
        amount = parse_amount(amount_text, recurring.currency)
    except AmountError as error:
        raise DonationStateError(str(error)) from None
    lowest, highest = recurring_amount_bounds(recurring.currency)
    if not lowest <= amount <= highest:
        raise DonationStateError(
            f"Choose an amount from {format_amount(lowest, recurring.currency, exact=True)} "
            f"to {format_amount(highest, recurring.currency, exact=True)}."
        )
    if amount == recurring.amount:
        raise DonationStateError("That is already the amount of this gift.")
    # A processor plug-in may not offer it (BTCPay has no subscriptions to amend, say).
    change = getattr(get_provider(recurring.provider), "change_recurring_amount", None)
    if change is None:
        raise DonationStateError(
            "This gift's amount cannot be changed here; stop it and start a new one instead."
        )
    with processor_slot(), processor_watch(recurring.provider):
        change(recurring.provider_reference, amount, recurring.currency)
    recurring.amount = amount
    recurring.amount_changed_at = timezone.now()
    recurring.save(update_fields=["amount", "amount_changed_at"])
    transaction.on_commit(lambda: send_recurring_amount_change_confirmation.enqueue(recurring.pk))
    return recurring


def open_card_update(recurring: RecurringDonation, return_url: str) -> str:
    """The processor's page where the donor replaces the card of a monthly gift, created only
    when they open their emailed link (a session expires; one made in the webhook would be dead
    by the time the email is read). Raises DonationStateError or ProviderError."""
    if not recurring.is_active:
        raise DonationStateError("This monthly gift has stopped; there is no card to update.")
    if not recurring.provider_customer_reference:
        raise DonationStateError("The payment processor has not told us whose card this is.")
    with processor_slot(), processor_watch(recurring.provider):
        return get_provider(recurring.provider).card_update_url(
            recurring.provider_customer_reference, return_url
        )


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


# --- Moving monthly donors to another processor ------------------------------------------------


# How long a checkout opened from a move link holds the link: long enough to pay, short enough
# that a donor who closed the tab can start again.
MOVE_CHECKOUT_WINDOW = timedelta(minutes=30)


def claim_move_checkout(recurring_id: int) -> bool:
    """Mark that the move link of this gift opens a checkout now; False when another one was
    opened within MOVE_CHECKOUT_WINDOW (a second tab, Back and submit again, a double click).
    One UPDATE, so two requests at once cannot both claim it."""
    now = timezone.now()
    return bool(
        RecurringDonation.objects.filter(pk=recurring_id, status=RecurringDonation.Status.ACTIVE)
        .filter(
            Q(move_checkout_started_at__isnull=True)
            | Q(move_checkout_started_at__lt=now - MOVE_CHECKOUT_WINDOW)
        )
        .update(move_checkout_started_at=now)
    )


def release_move_checkout(recurring_id: int) -> None:
    """The checkout could not be opened: the link may be used again at once."""
    RecurringDonation.objects.filter(pk=recurring_id).update(move_checkout_started_at=None)


def finish_move(new: RecurringDonation, replaces: str) -> None:
    """The new gift a donor started from their move link is active: the old one is marked
    moved and cancelled at its processor by a task (retried while that processor is away).
    A repeated start event finds the old gift moved already and changes nothing."""
    if not replaces.isdigit() or len(replaces) > 18:
        return
    old = RecurringDonation.objects.select_for_update().filter(pk=int(replaces)).first()
    if old is None or old.moved_to_id == new.pk:
        return
    if old.moved_to_id is not None:
        # The same move link opened a second checkout (two tabs, Back and pay again) and it
        # completed too: the donor meant one gift, so the duplicate is stopped before it
        # charges again, through the stop every other gift takes (retried until confirmed).
        _stop_duplicate_move(new, old)
        return
    try:
        old.move(new)
    except DonationStateError as error:
        # Stopped meanwhile (cancelled in the portal, lapsed): the new gift simply goes on.
        logger.warning("Gift %s not moved to %s: %s", old.pk, new.pk, error)
        return
    old.save(update_fields=["status", "moved_to", "moved_at"])
    if new.donor_id != old.donor_id:
        # `replaces` only comes from the old donor's signed link (the processor carries it
        # back untouched), but their account there may use another address: one person, so
        # the new gift joins the old donor's record.
        new.donor_id = old.donor_id
        new.save(update_fields=["donor"])
        new.donations.update(donor_id=old.donor_id)
    forget_campaign_figures()
    transaction.on_commit(
        functools.partial(signals.gift_moved.send, sender=None, recurring_id=old.pk)
    )


def _stop_duplicate_move(new: RecurringDonation, old: RecurringDonation) -> None:
    new = RecurringDonation.objects.select_for_update().get(pk=new.pk)
    if not new.is_active:
        return
    new.request_stop()
    new.save(update_fields=["status", "cancelled_at", "stop_next_attempt_at"])
    # Staff may have to refund its first payment: the log is what they search for it.
    logger.error(
        "Gift %s at %s duplicates the move of gift %s (already moved to %s): stopped; "
        "refund its first payment if the processor took one.",
        new.pk,
        new.provider,
        old.pk,
        old.moved_to_id,
    )
    transaction.on_commit(lambda: stop_recurring_at_processor.enqueue(new.pk))


def cancel_moved_gift_at_processor(recurring_id: int) -> bool:
    """Cancel a moved gift's old subscription at its processor; True once done (now or
    before). Raises ProviderError while that processor cannot be reached (the caller retries)."""
    with transaction.atomic():
        recurring = RecurringDonation.objects.select_for_update().get(pk=recurring_id)
        if recurring.status != RecurringDonation.Status.MOVED:
            return False
        if recurring.move_cancelled_at is not None:
            return True
    provider = get_provider(recurring.provider)
    with processor_watch(recurring.provider):
        provider.cancel_recurring(recurring.provider_reference)
    RecurringDonation.objects.filter(pk=recurring_id, move_cancelled_at__isnull=True).update(
        move_cancelled_at=timezone.now()
    )
    return True


def monthly_gifts_to_move(from_provider: str) -> list[RecurringDonation]:
    return list(
        RecurringDonation.objects.filter(
            provider=from_provider, status=RecurringDonation.Status.ACTIVE
        ).select_related("donor")
    )


@dataclass(frozen=True)
class MoveInvitations:
    queued: int
    skipped: int  # donors without a deliverable address


def invite_monthly_donors_to_move(
    from_provider: str, to_provider: str, *, recurring_ids: list[int] | None = None
) -> MoveInvitations:
    """Email each active monthly donor of `from_provider` a signed link to restart their gift
    at `to_provider` (two clicks: confirm, then the new checkout). Raises DonationStateError
    when the move is impossible (same processor, or the new one is not configured)."""
    if from_provider == to_provider:
        raise DonationStateError("Choose another processor to move the monthly gifts to.")
    target = get_provider(to_provider)
    if not target.is_configured() or not getattr(target, "supports_monthly", False):
        raise DonationStateError(
            f"{provider_label(to_provider)} is not configured for monthly gifts in this install."
        )
    gifts = monthly_gifts_to_move(from_provider)
    if recurring_ids is not None:
        gifts = [gift for gift in gifts if gift.pk in set(recurring_ids)]
    queued = [gift.pk for gift in gifts if gift.donor.can_receive_email]
    for recurring_id in queued:
        transaction.on_commit(
            functools.partial(send_move_invitation.enqueue, recurring_id, to_provider)
        )
    return MoveInvitations(len(queued), len(gifts) - len(queued))
