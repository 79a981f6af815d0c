"""Payment processors: plug-ins behind one small interface, found by name.

A processor (a "provider" in the code) turns a donate form into a hosted checkout, verifies its
webhooks and translates each event into processor-neutral facts (`PaymentReceived`,
`PaymentRefunded`, ...). The services only ever see those facts, so donation records, reports and
receipts stay as they are whichever processor took the money.

Each processor is a folder (`providers/stripe/`, `providers/paypal/`, or a package of its own)
whose class is named in the FUNDRAISING_PROCESSORS setting (dotted paths) or published as a
Python entry point in the group `pressroom.fundraising_processors`: adding one never means
editing Pressroom. A name that cannot be loaded is an Error of the system check
(`fundraising.checks`), so `pressroom check`, `migrate` and `serve` stop with one clear line.
docs/fundraising.md, "Adding a processor", describes the contract.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import cache
from importlib.metadata import entry_points
from typing import Any, Protocol

from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from pressroom.fundraising.methods import OFFLINE_METHODS


class ProviderError(Exception):
    """The processor could not do what was asked (unreachable, refused, not configured)."""


class ProviderBusy(ProviderError):
    """Too many requests of this process are already waiting on the processor."""


class ProviderNotConfigured(ProviderError):
    """The processor has no keys in this install."""


class ProviderRefused(ProviderError):
    """The processor answered and refused this one request (an amount over its limit, a card
    declined, a customer it does not know): the request's fault, not an outage, so it never
    counts toward the processor's health (a reader could otherwise pause giving for everyone
    with a few oversized amounts)."""


class PaymentDeclined(ProviderRefused):
    """The donor approved the payment but the processor would not take it (card declined):
    nothing was paid; `retry_url` (may be empty) lets the donor choose another way to pay."""

    def __init__(self, message: str, retry_url: str = "") -> None:
        super().__init__(message)
        self.retry_url = retry_url


class WebhookVerificationError(Exception):
    """The request is not a genuine, well-formed event from the processor."""


class EventRejected(Exception):
    """A genuine (signed) event whose contents cannot be a real payment: an amount out of
    bounds, a field of the wrong type. Recorded with status "rejected", never applied.

    `keep_payload` False: the payload is not worth storing whole (only its envelope is kept)."""

    def __init__(self, reason: str, *, keep_payload: bool = True) -> None:
        super().__init__(reason)
        self.keep_payload = keep_payload


def event_text(value: Any, what: str) -> str:
    """A string field of a processor's event ("" when absent); anything else rejects the event."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise EventRejected(f"{what} is not a string: {type(value).__name__}")
    return value


def event_mapping(value: Any, what: str) -> Mapping[str, Any]:
    """An object field of a processor's event ({} when absent); anything else rejects it."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise EventRejected(f"{what} is not an object: {type(value).__name__}")
    return value


@dataclass(frozen=True)
class CheckoutRequest:
    amount: Decimal
    currency: str
    frequency: str  # Frequency.ONCE, MONTHLY or ANNUAL
    email: str
    name: str
    description: str
    campaign_slug: str
    success_url: str
    cancel_url: str
    # Short strings the gift carries to its events and back (covered fee, anonymity, tribute):
    # the processor keeps them with the payment (Stripe: metadata) and returns them unchanged.
    details: Mapping[str, str] = field(default_factory=dict)
    # A monthly gift at another processor that this one replaces (its RecurringDonation id),
    # carried through the processor so the new subscription's start can stop the old one.
    replaces: str = ""


@dataclass(frozen=True)
class CheckoutSession:
    url: str
    reference: str


@dataclass(frozen=True)
class VerifiedEvent:
    event_id: str
    event_type: str
    payload: dict
    # Why the signed event cannot be applied, found while reading it (e.g. a non-finite
    # number): it is then stored as rejected with this reason.
    problem: str = ""


@dataclass(frozen=True)
class PaymentReceived:
    """Money arrived: a one-time gift or one month of a monthly gift."""

    reference: str
    amount: Decimal
    currency: str
    email: str
    name: str = ""
    campaign_slug: str = ""
    payment_reference: str = ""
    recurring_reference: str = ""
    received_at: datetime | None = None
    details: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PaymentLinked:
    """A payment recorded under `reference` (e.g. an invoice) was paid by `payment_reference`
    (e.g. a payment intent), the id its refunds will name."""

    reference: str
    payment_reference: str


@dataclass(frozen=True)
class RecurringStarted:
    reference: str
    amount: Decimal
    currency: str
    email: str
    name: str = ""
    campaign_slug: str = ""
    details: Mapping[str, str] = field(default_factory=dict)
    replaces: str = ""  # CheckoutRequest.replaces, read back from the processor


@dataclass(frozen=True)
class PaymentRefunded:
    """The processor's running total refunded for one payment, which it may name several ways."""

    references: list[str] = field(default_factory=list)
    total_refunded: Decimal = Decimal(0)
    currency: str = ""
    refunded_at: datetime | None = None


@dataclass(frozen=True)
class RecurringEnded:
    reference: str
    ended_at: datetime | None = None
    # The processor stopped it after failed payments (the gift lapsed; the donor did not cancel).
    payment_failed: bool = False


@dataclass(frozen=True)
class PaymentFailed:
    """One month of a monthly gift could not be charged (declined, or the bank asks the donor
    to confirm it). `reference` names the payment (e.g. the invoice), `attempts` how many
    times the processor has tried it so far."""

    reference: str
    recurring_reference: str
    amount: Decimal
    currency: str
    email: str
    name: str = ""
    customer_reference: str = ""
    attempts: int = 1
    action_required: bool = False
    failed_at: datetime | None = None


@dataclass(frozen=True)
class CheckoutToSettle:
    """A checkout the donor approved that Pressroom must settle itself (PayPal's orders are
    captured by the merchant): the services call the processor's `settle_checkout`."""

    reference: str


Fact = (
    PaymentReceived
    | PaymentLinked
    | RecurringStarted
    | PaymentRefunded
    | RecurringEnded
    | PaymentFailed
    | CheckoutToSettle
)


class PaymentProvider(Protocol):
    """The plug-in contract. `name` is stored in Donation.provider and names the webhook address
    /fundraising/<name>/webhook/; `label` is what donors and staff read."""

    name: str
    label: str
    # Whether create_checkout accepts Frequency.MONTHLY (the donate form offers it only then).
    supports_monthly: bool

    def is_configured(self) -> bool: ...

    def create_checkout(self, request: CheckoutRequest) -> CheckoutSession: ...

    def verify_webhook(self, body: bytes, headers: Mapping[str, str]) -> VerifiedEvent: ...

    def interpret_event(self, event: VerifiedEvent) -> list[Fact]: ...

    def cancel_recurring(self, reference: str) -> None: ...

    def change_recurring_amount(self, reference: str, amount: Decimal, currency: str) -> None:
        """Charge `amount` from the next payment on, with no proration of the current one."""
        ...

    def card_update_url(self, customer_reference: str, return_url: str) -> str:
        """A page at the processor where the donor replaces the card of their monthly gift."""
        ...


def settle_checkout(provider: PaymentProvider, reference: str) -> list[Fact]:
    """The facts of a checkout the processor asks the merchant to complete (PayPal's capture);
    processors that complete their checkouts themselves have nothing to settle."""
    method = getattr(provider, "settle_checkout", None)
    return method(reference) if method is not None else []


# The processors Pressroom ships; FUNDRAISING_PROCESSORS lists these unless set.
BUILT_IN_PROCESSORS = [
    "pressroom.fundraising.providers.stripe.StripeProvider",
    "pressroom.fundraising.providers.paypal.PayPalProvider",
]
ENTRY_POINT_GROUP = "pressroom.fundraising_processors"
REQUIRED_METHODS = (
    "is_configured",
    "create_checkout",
    "verify_webhook",
    "interpret_event",
    "cancel_recurring",
    "card_update_url",
)
MAX_NAME_LENGTH = 40  # Donation.provider


@dataclass(frozen=True)
class Registry:
    providers: dict[str, PaymentProvider]
    problems: list[str]


def _check_class(source: str, loaded: object) -> tuple[PaymentProvider | None, str]:
    """An instance of the processor class, or why it is not one."""
    if not isinstance(loaded, type):
        return None, f"{source} is not a class."
    try:
        instance = loaded()
    except Exception as error:  # a plug-in's own failure, reported as one line
        return None, f"{source} could not be created: {error}"
    name = getattr(instance, "name", None)
    if not (isinstance(name, str) and name.isascii() and name.replace("_", "").isalnum()):
        return None, f"{source} has no `name` made of letters, digits and underscores."
    if len(name) > MAX_NAME_LENGTH or name in OFFLINE_METHODS:
        return None, f"{source}: the name {name!r} is too long or is an offline method's."
    missing = [
        method for method in REQUIRED_METHODS if not callable(getattr(instance, method, None))
    ]
    if missing or not isinstance(getattr(instance, "label", None), str):
        return None, f"{source} lacks {', '.join(missing) or 'label'} of the processor interface."
    return instance, ""  # type: ignore[return-value]


@cache
def registry() -> Registry:
    """Every installed processor by name: those FUNDRAISING_PROCESSORS names, then those that
    installed packages publish as entry points. Problems are kept, not raised, for the system
    check to report (pages then go on without that processor)."""
    from django.conf import settings

    providers: dict[str, PaymentProvider] = {}
    problems: list[str] = []
    candidates: list[tuple[str, object]] = []
    for path in settings.FUNDRAISING_PROCESSORS:
        try:
            candidates.append((f"FUNDRAISING_PROCESSORS entry {path!r}", import_string(path)))
        except ImportError as error:
            problems.append(
                f"FUNDRAISING_PROCESSORS names {path!r}, which cannot be imported: {error}"
            )
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        source = f"entry point {entry_point.name!r} ({entry_point.value})"
        try:
            candidates.append((source, entry_point.load()))
        except Exception as error:  # a broken third-party package must not hide the others
            problems.append(f"The {source} cannot be loaded: {error}")
    for source, loaded in candidates:
        instance, problem = _check_class(source, loaded)
        if instance is None:
            problems.append(problem)
        elif instance.name in providers:
            if type(providers[instance.name]) is not type(instance):
                problems.append(
                    f"Two processors are called {instance.name!r}; {source} is ignored."
                )
        else:
            providers[instance.name] = instance
    return Registry(providers, problems)


@receiver(setting_changed)
def _forget_registry(*, setting: str, **kwargs: object) -> None:
    if setting == "FUNDRAISING_PROCESSORS":
        registry.cache_clear()


def processor_names() -> list[str]:
    return list(registry().providers)


def get_provider(name: str) -> PaymentProvider:
    try:
        return registry().providers[name]
    except KeyError:
        raise ProviderError(f"No payment processor is called {name!r}.") from None


def default_provider_name() -> str:
    from django.conf import settings

    return settings.FUNDRAISING_PROVIDER


def online_provider() -> PaymentProvider:
    """The site's default processor (settings.FUNDRAISING_PROVIDER)."""
    return get_provider(default_provider_name())


def configured_processor_names() -> list[str]:
    """The processors with their keys set in this install (the ones a campaign may use)."""
    return [name for name, provider in registry().providers.items() if provider.is_configured()]


def provider_label(name: str) -> str:
    if name in OFFLINE_METHODS:
        return OFFLINE_METHODS[name]
    provider = registry().providers.get(name)
    return provider.label if provider is not None else name
