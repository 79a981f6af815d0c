"""Stripe through the official library: Checkout Sessions out, signed webhook events in.

Settings: STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET, STRIPE_API_BASE (another server speaking
Stripe's API, e.g. stripe-mock or the tests' fake), STRIPE_TIMEOUT.

Webhook payloads differ between Stripe API versions (invoices moved `subscription` under
`parent.subscription_details` in 2025); `interpret_event` reads both shapes so an account pinned to
an older version keeps working.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import stripe
from django.conf import settings

from pressroom.fundraising.money import from_minor_units, to_minor_units
from pressroom.fundraising.providers import (
    CheckoutRequest,
    CheckoutSession,
    Fact,
    PaymentLinked,
    PaymentReceived,
    PaymentRefunded,
    ProviderError,
    ProviderNotConfigured,
    RecurringEnded,
    RecurringStarted,
    VerifiedEvent,
    WebhookVerificationError,
)

SIGNATURE_HEADER = "Stripe-Signature"


def _timestamp(value: Any) -> datetime | None:
    return datetime.fromtimestamp(int(value), tz=UTC) if value else None


def _id(value: Any) -> str:
    """An id, whether Stripe sent it bare or as an expanded object."""
    if isinstance(value, dict):
        return str(value.get("id") or "")
    return str(value or "")


def _dig(data: Mapping[str, Any], *path: str) -> Any:
    for key in path:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)  # type: ignore[assignment]
    return data


class StripeProvider:
    name = "stripe"
    label = "Stripe"

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
        monthly = request.frequency == "monthly"
        price_data: dict[str, Any] = {
            "currency": request.currency.lower(),
            "unit_amount": to_minor_units(request.amount, request.currency),
            "product_data": {"name": request.description},
        }
        if monthly:
            price_data["recurring"] = {"interval": "month"}
        metadata = {
            "campaign": request.campaign_slug,
            "frequency": request.frequency,
            "donor_name": request.name[:450],
        }
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
            raise ProviderError(
                f"Stripe refused the checkout: {error.user_message or error}"
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
            raise ProviderError(f"Stripe could not cancel the subscription: {error}") from error
        except stripe.StripeError as error:
            raise ProviderError(f"Stripe could not cancel the subscription: {error}") from error

    def verify_webhook(self, body: bytes, headers: Mapping[str, str]) -> VerifiedEvent:
        secret = settings.STRIPE_WEBHOOK_SECRET
        if not secret:
            raise ProviderNotConfigured("STRIPE_WEBHOOK_SECRET is not set.")
        signature = headers.get(SIGNATURE_HEADER) or ""
        try:
            text = body.decode("utf-8")
            stripe.WebhookSignature.verify_header(
                text, signature, secret, tolerance=stripe.Webhook.DEFAULT_TOLERANCE
            )
            event = json.loads(text)
        except (UnicodeDecodeError, ValueError, IndexError, stripe.SignatureVerificationError):
            raise WebhookVerificationError("Invalid Stripe signature or payload.") from None
        if not isinstance(event, dict) or event.get("object") != "event" or not event.get("id"):
            raise WebhookVerificationError("The payload is not a Stripe event.")
        if not isinstance(_dig(event, "data", "object"), dict):
            raise WebhookVerificationError("The event has no data.object.")
        return VerifiedEvent(
            event_id=event["id"], event_type=str(event.get("type", "")), payload=event
        )

    def interpret_event(self, event: VerifiedEvent) -> list[Fact]:
        handler = getattr(self, "_on_" + event.event_type.replace(".", "_"), None)
        if handler is None:
            return []
        try:
            return handler(
                event.payload["data"]["object"], _timestamp(event.payload.get("created"))
            )
        except (KeyError, TypeError, ValueError, ArithmeticError) as error:
            raise WebhookVerificationError(
                f"Malformed {event.event_type} event {event.event_id}: {error!r}"
            ) from error

    def _on_checkout_session_completed(self, session: dict, created: datetime | None) -> list[Fact]:
        if session.get("payment_status") not in {"paid", "no_payment_required"}:
            # Delayed methods (bank debits) complete unpaid; async_payment_succeeded follows.
            return []
        currency = str(session.get("currency") or "").upper()
        total = session.get("amount_total") or 0
        metadata = session.get("metadata") or {}
        campaign = metadata.get("campaign") or session.get("client_reference_id") or ""
        email = _dig(session, "customer_details", "email") or session.get("customer_email") or ""
        name = _dig(session, "customer_details", "name") or metadata.get("donor_name") or ""
        if not total or not currency:
            return []
        amount = from_minor_units(total, currency)
        if session.get("mode") == "subscription":
            subscription = _id(session.get("subscription"))
            facts: list[Fact] = [
                RecurringStarted(subscription, amount, currency, email, name, campaign)
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
                    )
                )
            return facts
        payment_intent = _id(session.get("payment_intent"))
        return [
            PaymentReceived(
                reference=payment_intent or session["id"],
                amount=amount,
                currency=currency,
                email=email,
                name=name,
                campaign_slug=campaign,
                payment_reference=session["id"] if payment_intent else "",
                received_at=created,
            )
        ]

    _on_checkout_session_async_payment_succeeded = _on_checkout_session_completed

    def _on_invoice_paid(self, invoice: dict, created: datetime | None) -> list[Fact]:
        subscription = _id(
            _dig(invoice, "parent", "subscription_details", "subscription")
            or invoice.get("subscription")
        )
        paid = invoice.get("amount_paid") or 0
        currency = str(invoice.get("currency") or "").upper()
        if not subscription or not paid or not currency:
            return []  # Not a monthly gift, or nothing was charged (a trial, a credit).
        metadata = (
            _dig(invoice, "parent", "subscription_details", "metadata")
            or _dig(invoice, "subscription_details", "metadata")
            or {}
        )
        payments = _dig(invoice, "payments", "data") or []
        payment_intent = _id(invoice.get("payment_intent")) or next(
            (_id(_dig(item, "payment", "payment_intent")) for item in payments), ""
        )
        paid_at = _timestamp(_dig(invoice, "status_transitions", "paid_at")) or created
        return [
            PaymentReceived(
                reference=invoice["id"],
                amount=from_minor_units(paid, currency),
                currency=currency,
                email=invoice.get("customer_email") or "",
                name=invoice.get("customer_name") or metadata.get("donor_name") or "",
                campaign_slug=metadata.get("campaign") or "",
                payment_reference=payment_intent,
                recurring_reference=subscription,
                received_at=paid_at,
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
        currency = str(charge.get("currency") or "").upper()
        references = [
            _id(charge.get("payment_intent")),
            _id(charge.get("invoice")),
            _id(charge.get("id")),
        ]
        return [
            PaymentRefunded(
                references=[reference for reference in references if reference],
                total_refunded=from_minor_units(charge.get("amount_refunded") or 0, currency),
                currency=currency,
            )
        ]

    def _on_customer_subscription_deleted(
        self, subscription: dict, created: datetime | None
    ) -> list[Fact]:
        ended = _timestamp(subscription.get("ended_at") or subscription.get("canceled_at"))
        return [RecurringEnded(reference=subscription["id"], ended_at=ended or created)]
