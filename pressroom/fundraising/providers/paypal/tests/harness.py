"""PayPal's side of the processor conformance suite (pressroom/fundraising/tests/
test_processor_conformance.py): the fake PayPal, and the deliveries PayPal makes."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal

from pressroom.fundraising.providers.paypal import read_custom_id
from pressroom.fundraising.providers.paypal.tests import fake_paypal
from pressroom.fundraising.providers.paypal.tests.fake_paypal import FakePayPal

Delivery = tuple[bytes, dict[str, str]]
PORTS = range(12100, 12200)


def deliver(event: dict) -> Delivery:
    return json.dumps(event).encode(), fake_paypal.sign_event(event)


class Harness:
    name = "paypal"
    fake: FakePayPal

    @contextlib.contextmanager
    def running(self, settings) -> Iterator[Harness]:
        with fake_paypal.running_fake_paypal(PORTS) as fake:
            self.fake = fake
            settings.PAYPAL_CLIENT_ID = fake_paypal.CLIENT_ID
            settings.PAYPAL_CLIENT_SECRET = fake_paypal.CLIENT_SECRET
            settings.PAYPAL_WEBHOOK_ID = fake_paypal.WEBHOOK_ID
            settings.PAYPAL_API_BASE = fake.base_url
            settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = True  # the fake is on loopback
            yield self

    def unconfigure(self, settings) -> None:
        settings.PAYPAL_CLIENT_ID = ""
        settings.PAYPAL_CLIENT_SECRET = ""
        settings.PAYPAL_WEBHOOK_ID = ""

    def set_down(self, down: bool) -> None:
        self.fake.fail_with = 503 if down else None

    def set_refusing(self) -> None:
        """Answer every request with 400, as for an amount over the processor's limit."""
        self.fake.fail_with = 400

    def checkout_url_prefix(self) -> str:
        return "https://www.sandbox.paypal.com/"

    def last_checkout(self) -> str:
        created = self.fake.calls("POST", "/v2/checkout/orders") + self.fake.calls(
            "POST", "/v1/billing/subscriptions"
        )
        created = [request for request in created if not request.path.endswith("/cancel")]
        assert created, "no checkout was opened at PayPal"
        if created[-1].path == "/v2/checkout/orders":
            return list(self.fake.orders)[-1]
        return list(self.fake.subscriptions)[-1]

    def checkout_request(self, reference: str) -> dict[str, str]:
        """What Pressroom sent for this checkout: amount, currency, campaign, replaces."""
        if reference in self.fake.orders:
            unit = self.fake.orders[reference]["purchase_units"][0]
            fields = read_custom_id(unit["custom_id"])
            return {
                "amount": unit["amount"]["value"],
                "currency": unit["amount"]["currency_code"],
                "campaign": fields.get("c", ""),
                "replaces": fields.get("r", ""),
            }
        fields = read_custom_id(self.fake.subscriptions[reference]["custom_id"])
        return {
            "amount": fields["a"],
            "currency": fields["k"],
            "campaign": fields.get("c", ""),
            "replaces": fields.get("r", ""),
        }

    def complete_one_time(self, reference: str, *, email: str) -> tuple[str, list[Delivery]]:
        self.fake.approve_order(reference, email)
        return reference, [deliver(fake_paypal.order_approved(self.fake.orders[reference]))]

    def _captured(self, order_id: str) -> dict:
        if self.fake.orders[order_id]["status"] != "COMPLETED":
            # Captured meanwhile by another process (the donor's return to the thanks page).
            self.fake._answer("POST", f"/v2/checkout/orders/{order_id}/capture", {})
        return self.fake.capture_of(order_id)

    def payment_completed_again(self, handle: str) -> list[Delivery]:
        """Another event about the same payment (PayPal sends both)."""
        return [deliver(fake_paypal.capture_completed(self._captured(handle), handle))]

    def start_monthly(self, reference: str) -> tuple[str, list[Delivery]]:
        subscription = self.fake.activate_subscription(reference)
        subscription["billing_info"]["last_payment"] = {
            "amount": {
                "currency_code": read_custom_id(subscription["custom_id"])["k"],
                "value": read_custom_id(subscription["custom_id"])["a"],
            },
            "time": subscription["status_update_time"],
        }
        activated = fake_paypal.subscription_event(
            "BILLING.SUBSCRIPTION.ACTIVATED", subscription, "Subscription activated"
        )
        return reference, [deliver(activated), *self.monthly_payment(reference)]

    def monthly_payment(self, subscription_id: str) -> list[Delivery]:
        fields = read_custom_id(self.fake.subscriptions[subscription_id]["custom_id"])
        event = fake_paypal.sale_completed(
            subscription_id,
            value=fields["a"],
            currency=fields["k"],
            custom=self.fake.subscriptions[subscription_id]["custom_id"],
        )
        self.last_sale = event["resource"]["id"]
        return [deliver(event)]

    def refund(
        self, handle: str, *, amount: Decimal, total_refunded: Decimal, currency: str, at: datetime
    ) -> list[Delivery]:
        when = at.strftime("%Y-%m-%dT%H:%M:%SZ")
        if handle in self.fake.orders:
            capture = self._captured(handle)
            event = fake_paypal.capture_refunded(
                capture["id"],
                refund_value=str(amount),
                total_refunded=str(total_refunded),
                currency=currency,
                at=when,
            )
        else:  # a monthly payment: its sale
            event = fake_paypal.sale_refunded(
                handle,
                value=str(amount),
                total_refunded=str(total_refunded),
                currency=currency,
                at=when,
            )
        return [deliver(event)]

    def last_monthly_payment(self) -> str:
        return self.last_sale

    def ended(self, subscription_id: str) -> list[Delivery]:
        subscription = dict(self.fake.subscriptions[subscription_id], status="CANCELLED")
        return [
            deliver(
                fake_paypal.subscription_event(
                    "BILLING.SUBSCRIPTION.CANCELLED", subscription, "Subscription cancelled"
                )
            )
        ]

    def cancelled_at_processor(self) -> list[str]:
        return [
            request.path.split("/")[4]
            for request in self.fake.calls("POST", "/v1/billing/subscriptions/")
            if request.path.endswith("/cancel")
        ]

    def forge(self, delivery: Delivery) -> Delivery:
        body, headers = delivery
        event = json.loads(body)
        event["summary"] += " (changed on the way)"  # any change to the signed event
        return json.dumps(event).encode(), headers
