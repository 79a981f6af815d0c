"""Payment processors behind one small interface, found by name.

A provider turns a donate form into a hosted checkout, verifies its webhooks and translates each
event into processor-neutral facts (`PaymentReceived`, `PaymentRefunded`, ...). The services only
ever see those facts, so adding a processor means one new module here and one line in PROVIDERS;
donation records, reports and receipts stay as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Protocol

from django.utils.module_loading import import_string

from pressroom.fundraising.methods import OFFLINE_METHODS


class ProviderError(Exception):
    """The processor could not do what was asked (unreachable, refused, not configured)."""


class ProviderBusy(ProviderError):
    """Too many requests of this process are already waiting on the processor."""


class ProviderNotConfigured(ProviderError):
    """The processor has no keys in this install."""


class WebhookVerificationError(Exception):
    """The request is not a genuine, well-formed event from the processor."""


class EventRejected(Exception):
    """A genuine (signed) event whose contents cannot be a real payment: an amount out of
    bounds, a field of the wrong type. Recorded with status "rejected", never applied.

    `keep_payload` False: the payload is not worth storing whole (only its envelope is kept)."""

    def __init__(self, reason: str, *, keep_payload: bool = True) -> None:
        super().__init__(reason)
        self.keep_payload = keep_payload


@dataclass(frozen=True)
class CheckoutRequest:
    amount: Decimal
    currency: str
    frequency: str  # Frequency.ONCE or Frequency.MONTHLY
    email: str
    name: str
    description: str
    campaign_slug: str
    success_url: str
    cancel_url: str


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


Fact = PaymentReceived | PaymentLinked | RecurringStarted | PaymentRefunded | RecurringEnded


class PaymentProvider(Protocol):
    name: str
    label: str

    def is_configured(self) -> bool: ...

    def create_checkout(self, request: CheckoutRequest) -> CheckoutSession: ...

    def verify_webhook(self, body: bytes, headers: Mapping[str, str]) -> VerifiedEvent: ...

    def interpret_event(self, event: VerifiedEvent) -> list[Fact]: ...

    def cancel_recurring(self, reference: str) -> None: ...


# Online processors by the name stored in Donation.provider. Add one here to support it.
PROVIDERS: dict[str, str] = {
    "stripe": "pressroom.fundraising.providers.stripe.StripeProvider",
}


@cache
def get_provider(name: str) -> PaymentProvider:
    try:
        return import_string(PROVIDERS[name])()
    except KeyError:
        raise ProviderError(f"No payment provider is called {name!r}.") from None


def online_provider() -> PaymentProvider:
    """The processor the donate page uses (settings.FUNDRAISING_PROVIDER)."""
    from django.conf import settings

    return get_provider(settings.FUNDRAISING_PROVIDER)


def provider_label(name: str) -> str:
    if name in OFFLINE_METHODS:
        return OFFLINE_METHODS[name]
    if name in PROVIDERS:
        return get_provider(name).label
    return name
