"""Stripe's side of the processor conformance suite (pressroom/fundraising/tests/
test_processor_conformance.py): the fake Stripe API and Stripe's signed events."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal

from pressroom.fundraising.money import to_minor_units
from pressroom.fundraising.tests import conftest as stripe_fakes
from pressroom.fundraising.tests.conftest import FakeStripe

Delivery = tuple[bytes, dict[str, str]]


def deliver(event: dict) -> Delivery:
    payload = json.dumps(event, indent=2)
    return payload.encode(), {"Stripe-Signature": stripe_fakes.sign(payload)}


class Harness:
    name = "stripe"
    fake: FakeStripe

    @contextlib.contextmanager
    def running(self, settings) -> Iterator[Harness]:
        with stripe_fakes.running_fake_stripe() as fake:
            self.fake = fake
            self.sessions: dict[str, dict[str, str]] = {}
            settings.STRIPE_SECRET_KEY = "sk_test_pressroom"
            settings.STRIPE_WEBHOOK_SECRET = stripe_fakes.WEBHOOK_SECRET
            settings.STRIPE_API_BASE = fake.base_url
            yield self

    def unconfigure(self, settings) -> None:
        settings.STRIPE_SECRET_KEY = ""
        settings.STRIPE_WEBHOOK_SECRET = ""

    def set_down(self, down: bool) -> None:
        self.fake.fail_with = 503 if down else None

    def set_refusing(self) -> None:
        """Answer every request with 400, as for an amount over the processor's limit."""
        self.fake.fail_with = 400

    def checkout_url_prefix(self) -> str:
        return "https://checkout.stripe.com/"

    def last_checkout(self) -> str:
        calls = self.fake.calls("POST", "/v1/checkout/sessions")
        assert calls, "no checkout was opened at Stripe"
        params = calls[-1].params
        reference = f"cs_test_{len(calls)}"
        self.sessions[reference] = params
        return reference

    def checkout_request(self, reference: str) -> dict[str, str]:
        params = self.sessions[reference]
        return {
            "amount": params["line_items[0][price_data][unit_amount]"],
            "currency": params["line_items[0][price_data][currency]"].upper(),
            "campaign": params.get("metadata[campaign]", ""),
            "replaces": params.get("metadata[replaces]", ""),
        }

    def _amount(self, reference: str) -> tuple[int, str]:
        params = self.sessions[reference]
        return (
            int(params["line_items[0][price_data][unit_amount]"]),
            params["line_items[0][price_data][currency]"],
        )

    def complete_one_time(self, reference: str, *, email: str) -> tuple[str, list[Delivery]]:
        minor, currency = self._amount(reference)
        payment_intent = stripe_fakes.new_id("pi")
        session = stripe_fakes.checkout_completed(
            amount_total=minor,
            currency=currency,
            email=email,
            campaign=self.sessions[reference].get("metadata[campaign]", ""),
            payment_intent=payment_intent,
        )
        self.one_time = {payment_intent: (minor, currency)}
        return payment_intent, [deliver(stripe_fakes.event("checkout.session.completed", session))]

    def payment_completed_again(self, handle: str) -> list[Delivery]:
        minor, currency = self.one_time[handle]
        session = stripe_fakes.checkout_completed(
            amount_total=minor, currency=currency, payment_intent=handle
        )
        return [deliver(stripe_fakes.event("checkout.session.async_payment_succeeded", session))]

    def start_monthly(self, reference: str) -> tuple[str, list[Delivery]]:
        minor, currency = self._amount(reference)
        params = self.sessions[reference]
        subscription = stripe_fakes.new_id("sub")
        self.monthly = {subscription: (minor, currency, params.get("metadata[campaign]", ""))}
        session = stripe_fakes.checkout_completed(
            amount_total=minor,
            currency=currency,
            email=params["customer_email"],
            campaign=params.get("metadata[campaign]", ""),
            mode="subscription",
            subscription=subscription,
            invoice=stripe_fakes.new_id("in"),
        )
        if params.get("metadata[replaces]"):
            session["metadata"]["replaces"] = params["metadata[replaces]"]
        self.last_invoice = session["invoice"]
        return subscription, [deliver(stripe_fakes.event("checkout.session.completed", session))]

    def monthly_payment(self, subscription: str) -> list[Delivery]:
        minor, currency, campaign = self.monthly[subscription]
        self.last_invoice = stripe_fakes.new_id("in")
        invoice = stripe_fakes.invoice_paid(
            invoice_id=self.last_invoice,
            subscription=subscription,
            amount_paid=minor,
            currency=currency,
            campaign=campaign,
        )
        return [deliver(stripe_fakes.event("invoice.paid", invoice))]

    def last_monthly_payment(self) -> str:
        return self.last_invoice

    def refund(
        self, handle: str, *, amount: Decimal, total_refunded: Decimal, currency: str, at: datetime
    ) -> list[Delivery]:
        charge = stripe_fakes.charge_refunded(
            payment_intent=handle,
            amount=to_minor_units(amount, currency),
            amount_refunded=to_minor_units(total_refunded, currency),
            currency=currency.lower(),
        )
        if handle.startswith("in_"):
            charge["payment_intent"], charge["invoice"] = None, handle
        event = stripe_fakes.event("charge.refunded", charge)
        event["created"] = int(at.timestamp())  # Stripe dates the event when the refund happened
        return [deliver(event)]

    def ended(self, subscription: str) -> list[Delivery]:
        return [
            deliver(
                stripe_fakes.event(
                    "customer.subscription.deleted",
                    stripe_fakes.subscription_deleted(subscription=subscription),
                )
            )
        ]

    def cancelled_at_processor(self) -> list[str]:
        return [
            request.path.rsplit("/", 1)[1]
            for request in self.fake.calls("DELETE", "/v1/subscriptions/")
        ]

    def forge(self, delivery: Delivery) -> Delivery:
        body, headers = delivery
        return body.replace(b'"livemode": false', b'"livemode": true', 1), headers
