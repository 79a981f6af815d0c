"""Stripe through the official library: Checkout Sessions out, signed webhook events in.

Settings: STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET, STRIPE_API_BASE (another server speaking
Stripe's API, e.g. stripe-mock or the tests' fake), STRIPE_TIMEOUT.

Webhook payloads differ between Stripe API versions (invoices moved `subscription` under
`parent.subscription_details` in 2025); `interpret_event` reads both shapes so an account pinned to
an older version keeps working.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import stripe
from django.conf import settings

from pressroom.fundraising.money import from_minor_units, to_minor_units
from pressroom.fundraising.providers import (
    CheckoutRequest,
    CheckoutSession,
    EventRejected,
    Fact,
    PaymentFailed,
    PaymentLinked,
    PaymentReceived,
    PaymentRefunded,
    ProviderError,
    ProviderNotConfigured,
    ProviderRefused,
    RecurringEnded,
    RecurringStarted,
    VerifiedEvent,
    WebhookVerificationError,
    event_mapping,
    event_text,
)

SIGNATURE_HEADER = "Stripe-Signature"
# Pressroom's frequencies as Stripe's recurring intervals.
RECURRING_INTERVALS = {"monthly": "month", "annual": "year"}
# Metadata keys the gift's details travel under (see CheckoutRequest.details).
DETAIL_KEYS = (
    "frequency",
    "source_path",
    "source_campaign",
    "covered_fee",
    "anonymous",
    "tribute_kind",
    "tribute_name",
    "tribute_notify_name",
    "tribute_notify_email",
    "tribute_show_amount",
)
# Stripe's events nest about six levels (event, data, object, parent, details, metadata); a
# payload ten times deeper is not from Stripe's API and would only cost time and stack.
MAX_EVENT_DEPTH = 64
MAX_ID_LENGTH = 255


def _timestamp(value: Any) -> datetime | None:
    if not value:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise EventRejected(f"created/paid_at is not a Unix time: {value!r:.40}")
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise EventRejected(f"created/paid_at is out of range: {value!r:.40}") from None


def _minor_units(value: Any, what: str) -> int:
    if value is None:
        return 0
    if not isinstance(value, int) or isinstance(value, bool):
        raise EventRejected(f"{what} amount is not a whole number of minor units: {value!r:.40}")
    return value


def _id(value: Any) -> str:
    """An id, whether Stripe sent it bare or as an expanded object."""
    if isinstance(value, dict):
        value = value.get("id")
    return event_text(value, "reference")


def _read_json(text: str) -> tuple[Any, bool]:
    """The parsed JSON, and whether it held a non-finite number (read as None).

    Python's json accepts `Infinity`, `NaN` and overflowing numbers such as 1e309, which no
    JSON column stores (the database refuses the row); Stripe never sends them."""
    found = False

    def finite_or_none(number: float) -> float | None:
        nonlocal found
        if math.isfinite(number):
            return number
        found = True
        return None

    def non_finite_constant(name: str) -> None:
        nonlocal found
        found = True
        return None

    value = json.loads(
        text,
        parse_float=lambda text: finite_or_none(float(text)),
        parse_constant=non_finite_constant,
    )
    return value, found


def _depth(value: Any, limit: int) -> int:
    """How deep `value` nests, counting no further than `limit` + 1 (iteratively: no recursion)."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            if deepest > limit:
                return deepest
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children)
    return deepest


def _signature_time(header: str) -> int | None:
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and value.isascii() and value.isdigit() and len(value) < 12:
            return int(value)
    return None


def _details(metadata: Mapping[str, Any]) -> dict[str, str]:
    """The gift's details from the metadata Pressroom set at checkout (strings only)."""
    return {
        key: event_text(metadata.get(key), f"metadata.{key}")
        for key in DETAIL_KEYS
        if metadata.get(key)
    }


def _dig(data: Mapping[str, Any], *path: str) -> Any:
    for key in path:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)  # type: ignore[assignment]
    return data


class StripeProvider:
    name = "stripe"
    label = "Stripe"
    supports_monthly = True

    def is_configured(self) -> bool:
        return bool(settings.STRIPE_SECRET_KEY)

    def client(self) -> stripe.StripeClient:
        if not self.is_configured():
            raise ProviderNotConfigured("Online giving is not configured (no STRIPE_SECRET_KEY).")
        return stripe.StripeClient(
            settings.STRIPE_SECRET_KEY,
            base_addresses={"api": settings.STRIPE_API_BASE},
            http_client=stripe.RequestsClient(timeout=settings.STRIPE_TIMEOUT),
            max_network_retries=2,
        )

    def create_checkout(self, request: CheckoutRequest) -> CheckoutSession:
        monthly = request.frequency in RECURRING_INTERVALS
        price_data: dict[str, Any] = {
            "currency": request.currency.lower(),
            "unit_amount": to_minor_units(request.amount, request.currency),
            "product_data": {"name": request.description},
        }
        if monthly:
            price_data["recurring"] = {"interval": RECURRING_INTERVALS[request.frequency]}
        metadata = {
            **{key: value[:450] for key, value in request.details.items()},
            "campaign": request.campaign_slug,
            "frequency": request.frequency,
            "donor_name": request.name[:450],
        }
        if request.replaces:
            # The monthly gift at another processor this one replaces (services.move_…).
            metadata["replaces"] = request.replaces
        params: dict[str, Any] = {
            "mode": "subscription" if monthly else "payment",
            "line_items": [{"price_data": price_data, "quantity": 1}],
            "customer_email": request.email,
            "client_reference_id": request.campaign_slug or None,
            "metadata": metadata,
            "success_url": request.success_url,
            "cancel_url": request.cancel_url,
        }
        # The campaign travels on the subscription (so each invoice names it) or the payment.
        if monthly:
            params["subscription_data"] = {"metadata": metadata}
        else:
            params["payment_intent_data"] = {"metadata": metadata}
            params["submit_type"] = "donate"
        params = {key: value for key, value in params.items() if value is not None}
        try:
            session = self.client().v1.checkout.sessions.create(params=params)  # type: ignore[arg-type]
        except stripe.StripeError as error:
            raise _failure(
                error, f"Stripe refused the checkout: {error.user_message or error}"
            ) from error
        if not session.url:
            raise ProviderError("Stripe returned a checkout session without a URL.")
        return CheckoutSession(url=session.url, reference=session.id)

    def cancel_recurring(self, reference: str) -> None:
        try:
            self.client().v1.subscriptions.cancel(reference)
        except stripe.InvalidRequestError as error:
            # Already cancelled (or deleted) at Stripe: the gift has ended either way.
            if error.http_status == 404 or "canceled" in str(error).lower():
                return
            raise _failure(error, f"Stripe could not cancel the subscription: {error}") from error
        except stripe.StripeError as error:
            raise _failure(error, f"Stripe could not cancel the subscription: {error}") from error

    def change_recurring_amount(self, reference: str, amount: Decimal, currency: str) -> None:
        """Swap the subscription's one item for a price of `amount` on the same product and
        interval; Stripe charges it from the next invoice (proration_behavior none)."""
        try:
            client = self.client()
            subscription = client.v1.subscriptions.retrieve(reference)
            item = subscription["items"]["data"][0]
            price = item["price"]
            product = price["product"]
            product_id = product if isinstance(product, str) else product["id"]
            params: dict[str, Any] = {
                "items": [
                    {
                        "id": item["id"],
                        "price_data": {
                            "currency": currency.lower(),
                            "product": product_id,
                            "unit_amount": to_minor_units(amount, currency),
                            "recurring": {"interval": price["recurring"]["interval"]},
                        },
                    }
                ],
                "proration_behavior": "none",
                # The fee the donor covered was a share of the old amount.
                "metadata": {"covered_fee": ""},
            }
            client.v1.subscriptions.update(reference, params=params)  # type: ignore[arg-type]
        except (KeyError, IndexError, TypeError) as error:
            raise ProviderError(
                f"Stripe's subscription has no item to change: {error!r}"
            ) from error
        except stripe.StripeError as error:
            raise _failure(error, f"Stripe could not change the subscription: {error}") from error

    def card_update_url(self, customer_reference: str, return_url: str) -> str:
        """A billing portal session that opens straight on "update your payment method"."""
        params: dict[str, Any] = {
            "customer": customer_reference,
            "return_url": return_url,
            "flow_data": {"type": "payment_method_update"},
        }
        try:
            session = self.client().v1.billing_portal.sessions.create(params=params)  # type: ignore[arg-type]
        except stripe.StripeError as error:
            raise _failure(
                error, f"Stripe refused the billing portal session: {error.user_message or error}"
            ) from error
        if not session.url:
            raise ProviderError("Stripe returned a billing portal session without a URL.")
        return session.url

    def verify_webhook(self, body: bytes, headers: Mapping[str, str]) -> VerifiedEvent:
        secret = settings.STRIPE_WEBHOOK_SECRET
        if not secret:
            raise ProviderNotConfigured("STRIPE_WEBHOOK_SECRET is not set.")
        signature = headers.get(SIGNATURE_HEADER) or ""
        tolerance = stripe.Webhook.DEFAULT_TOLERANCE
        try:
            text = body.decode("utf-8")
            stripe.WebhookSignature.verify_header(text, signature, secret, tolerance=tolerance)
            # The library refuses only old signatures; one dated ahead of the tolerance is as
            # suspicious (a clock far off, or a signature made to be replayed later).
            signed_at = _signature_time(signature)
            if signed_at is None or signed_at > time.time() + tolerance:
                raise WebhookVerificationError("The signature is dated in the future.")
            event, non_finite = _read_json(text)
        except (
            UnicodeDecodeError,
            ValueError,
            IndexError,
            RecursionError,  # nested too deep to read, so there is nothing to record
            stripe.SignatureVerificationError,
        ):
            raise WebhookVerificationError("Invalid Stripe signature or payload.") from None
        if not isinstance(event, dict) or event.get("object") != "event":
            raise WebhookVerificationError("The payload is not a Stripe event.")
        event_id, event_type = event.get("id"), event.get("type", "")
        if not (isinstance(event_id, str) and 0 < len(event_id) <= MAX_ID_LENGTH):
            raise WebhookVerificationError("The event id is not a Stripe event id.")
        if not (isinstance(event_type, str) and len(event_type) <= 100):
            raise WebhookVerificationError("The event type is not a Stripe event type.")
        if not isinstance(_dig(event, "data", "object"), dict):
            raise WebhookVerificationError("The event has no data.object.")
        problem = (
            "The event holds a number that is not finite (Infinity or NaN)." if non_finite else ""
        )
        return VerifiedEvent(
            event_id=event_id, event_type=event_type, payload=event, problem=problem
        )

    def interpret_event(self, event: VerifiedEvent) -> list[Fact]:
        """The facts of the event; EventRejected when its contents cannot be Stripe's."""
        if event.problem:
            raise EventRejected(event.problem, keep_payload=False)
        if _depth(event.payload, MAX_EVENT_DEPTH) > MAX_EVENT_DEPTH:
            raise EventRejected(
                f"The event is nested deeper than {MAX_EVENT_DEPTH} levels.", keep_payload=False
            )
        handler = getattr(self, "_on_" + event.event_type.replace(".", "_"), None)
        if handler is None:
            return []
        try:
            return handler(
                event.payload["data"]["object"], _timestamp(event.payload.get("created"))
            )
        except (KeyError, TypeError, ValueError, AttributeError, ArithmeticError) as error:
            raise EventRejected(f"Malformed {event.event_type} event: {error!r:.200}") from error

    def _on_checkout_session_completed(self, session: dict, created: datetime | None) -> list[Fact]:
        if session.get("payment_status") not in {"paid", "no_payment_required"}:
            # Delayed methods (bank debits) complete unpaid; async_payment_succeeded follows.
            return []
        currency = event_text(session.get("currency"), "currency").upper()
        total = _minor_units(session.get("amount_total"), "amount_total")
        metadata = event_mapping(session.get("metadata"), "metadata")
        details = event_mapping(session.get("customer_details"), "customer_details")
        campaign = event_text(metadata.get("campaign"), "metadata.campaign") or event_text(
            session.get("client_reference_id"), "client_reference_id"
        )
        email = event_text(details.get("email"), "customer email") or event_text(
            session.get("customer_email"), "customer email"
        )
        name = event_text(details.get("name"), "customer name") or event_text(
            metadata.get("donor_name"), "metadata.donor_name"
        )
        if not total or not currency:
            return []
        amount = from_minor_units(total, currency)
        if session.get("mode") == "subscription":
            subscription = _id(session.get("subscription"))
            replaces = event_text(metadata.get("replaces"), "metadata.replaces")
            facts: list[Fact] = [
                RecurringStarted(
                    subscription,
                    amount,
                    currency,
                    email,
                    name,
                    campaign,
                    replaces=replaces,
                    details=_details(metadata),
                )
            ]
            if invoice := _id(session.get("invoice")):
                facts.append(
                    PaymentReceived(
                        reference=invoice,
                        amount=amount,
                        currency=currency,
                        email=email,
                        name=name,
                        campaign_slug=campaign,
                        recurring_reference=subscription,
                        received_at=created,
                        details=_details(metadata),
                    )
                )
            return facts
        payment_intent = _id(session.get("payment_intent"))
        return [
            PaymentReceived(
                reference=payment_intent or _id(session["id"]),
                amount=amount,
                currency=currency,
                email=email,
                name=name,
                campaign_slug=campaign,
                payment_reference=_id(session["id"]) if payment_intent else "",
                received_at=created,
                details=_details(metadata),
            )
        ]

    _on_checkout_session_async_payment_succeeded = _on_checkout_session_completed

    def _on_invoice_paid(self, invoice: dict, created: datetime | None) -> list[Fact]:
        subscription = _id(
            _dig(invoice, "parent", "subscription_details", "subscription")
            or invoice.get("subscription")
        )
        paid = _minor_units(invoice.get("amount_paid"), "amount_paid")
        currency = event_text(invoice.get("currency"), "currency").upper()
        if not subscription or not paid or not currency:
            return []  # Not a monthly gift, or nothing was charged (a trial, a credit).
        metadata = event_mapping(
            _dig(invoice, "parent", "subscription_details", "metadata")
            or _dig(invoice, "subscription_details", "metadata"),
            "metadata",
        )
        payments = _dig(invoice, "payments", "data") or []
        if not isinstance(payments, list):
            raise EventRejected("payments.data is not a list")
        payment_intent = _id(invoice.get("payment_intent")) or next(
            (_id(_dig(item, "payment", "payment_intent")) for item in payments), ""
        )
        paid_at = _timestamp(_dig(invoice, "status_transitions", "paid_at")) or created
        return [
            PaymentReceived(
                reference=_id(invoice["id"]),
                amount=from_minor_units(paid, currency),
                currency=currency,
                email=event_text(invoice.get("customer_email"), "customer email"),
                name=event_text(invoice.get("customer_name"), "customer name")
                or event_text(metadata.get("donor_name"), "metadata.donor_name"),
                campaign_slug=event_text(metadata.get("campaign"), "metadata.campaign"),
                payment_reference=payment_intent,
                recurring_reference=subscription,
                received_at=paid_at,
                details=_details(metadata),
            )
        ]

    def _on_invoice_payment_paid(
        self, invoice_payment: dict, created: datetime | None
    ) -> list[Fact]:
        # Since API 2025-03-31 invoices no longer name their payment intent; this event does, and
        # refunds of monthly payments (charge.refunded) only name the payment intent.
        invoice = _id(invoice_payment.get("invoice"))
        payment_intent = _id(_dig(invoice_payment, "payment", "payment_intent"))
        if not (invoice and payment_intent):
            return []
        return [PaymentLinked(reference=invoice, payment_reference=payment_intent)]

    def _on_charge_refunded(self, charge: dict, created: datetime | None) -> list[Fact]:
        currency = event_text(charge.get("currency"), "currency").upper()
        refunded = _minor_units(charge.get("amount_refunded"), "amount_refunded")
        references = [
            _id(charge.get("payment_intent")),
            _id(charge.get("invoice")),
            _id(charge.get("id")),
        ]
        return [
            PaymentRefunded(
                references=[reference for reference in references if reference],
                total_refunded=from_minor_units(refunded, currency),
                currency=currency,
                # The event is dated when the refund happened, however late it is delivered.
                refunded_at=created,
            )
        ]

    def _on_invoice_payment_failed(
        self, invoice: dict, created: datetime | None, *, action_required: bool = False
    ) -> list[Fact]:
        subscription = _id(
            _dig(invoice, "parent", "subscription_details", "subscription")
            or invoice.get("subscription")
        )
        due = _minor_units(invoice.get("amount_due"), "amount_due")
        currency = event_text(invoice.get("currency"), "currency").upper()
        if not subscription or not due or not currency:
            return []  # Not a monthly gift's payment (or nothing was owed).
        metadata = event_mapping(
            _dig(invoice, "parent", "subscription_details", "metadata")
            or _dig(invoice, "subscription_details", "metadata"),
            "metadata",
        )
        attempts = _minor_units(invoice.get("attempt_count"), "attempt_count")
        return [
            PaymentFailed(
                reference=_id(invoice["id"]),
                recurring_reference=subscription,
                amount=from_minor_units(due, currency),
                currency=currency,
                email=event_text(invoice.get("customer_email"), "customer email"),
                name=event_text(invoice.get("customer_name"), "customer name")
                or event_text(metadata.get("donor_name"), "metadata.donor_name"),
                customer_reference=_id(invoice.get("customer")),
                attempts=max(1, min(attempts, 1000)),
                action_required=action_required,
                failed_at=created,
            )
        ]

    def _on_invoice_payment_action_required(
        self, invoice: dict, created: datetime | None
    ) -> list[Fact]:
        return self._on_invoice_payment_failed(invoice, created, action_required=True)

    def _on_customer_subscription_deleted(
        self, subscription: dict, created: datetime | None
    ) -> list[Fact]:
        ended = _timestamp(subscription.get("ended_at") or subscription.get("canceled_at"))
        reason = event_text(
            _dig(subscription, "cancellation_details", "reason"), "cancellation_details.reason"
        )
        return [
            RecurringEnded(
                reference=_id(subscription["id"]),
                ended_at=ended or created,
                payment_failed=reason == "payment_failed",
            )
        ]

    def _on_customer_subscription_updated(
        self, subscription: dict, created: datetime | None
    ) -> list[Fact]:
        # Stripe's retry settings end a subscription whose payments all failed by cancelling
        # it (deleted follows) or by leaving it "unpaid": no further charge either way.
        status = event_text(subscription.get("status"), "status")
        reason = event_text(
            _dig(subscription, "cancellation_details", "reason"), "cancellation_details.reason"
        )
        if status == "unpaid" or (status == "canceled" and reason == "payment_failed"):
            ended = _timestamp(subscription.get("ended_at") or subscription.get("canceled_at"))
            return [
                RecurringEnded(
                    reference=_id(subscription["id"]),
                    ended_at=ended or created,
                    payment_failed=True,
                )
            ]
        return []


# Stripe's answers about the request itself (400, 402, 404, 409): it is up and said no.
_REFUSALS = (stripe.InvalidRequestError, stripe.CardError, stripe.IdempotencyError)


def _failure(error: stripe.StripeError, message: str) -> ProviderError:
    """What a Stripe error means for us: a refusal of this request, or the processor failing
    (unreachable, timed out, rate-limited, 5xx, our keys refused), which counts toward its
    health."""
    kind = ProviderRefused if isinstance(error, _REFUSALS) else ProviderError
    return kind(message)
