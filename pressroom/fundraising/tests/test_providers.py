"""Another processor plugs in through the registry; donation records and totals do not change."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from decimal import Decimal

import pytest

from pressroom.fundraising import providers
from pressroom.fundraising.models import Donation
from pressroom.fundraising.money import from_minor_units
from pressroom.fundraising.providers import (
    CheckoutRequest,
    CheckoutSession,
    Fact,
    PaymentReceived,
    PaymentRefunded,
    VerifiedEvent,
    WebhookVerificationError,
)
from pressroom.fundraising.tests.conftest import checkout_completed, event, new_id

PARTNER_SECRET = b"partner-processor-secret"


class PartnerPayProvider:
    """A small processor with its own event format: {"id", "kind", "payment", "amount_cents",
    "currency", "email", "campaign"}, signed with HMAC-SHA256 in X-Partner-Signature."""

    name = "partnerpay"
    label = "PartnerPay"
    supports_monthly = False

    def is_configured(self) -> bool:
        return True

    def create_checkout(self, request: CheckoutRequest) -> CheckoutSession:
        return CheckoutSession(
            url=f"https://pay.partner.example/{request.campaign_slug}", reference="p-1"
        )

    def verify_webhook(self, body: bytes, headers: Mapping[str, str]) -> VerifiedEvent:
        expected = hmac.new(PARTNER_SECRET, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, headers.get("X-Partner-Signature", "")):
            raise WebhookVerificationError("bad signature")
        data = json.loads(body)
        return VerifiedEvent(data["id"], data["kind"], data)

    def interpret_event(self, event: VerifiedEvent) -> list[Fact]:
        data = event.payload
        amount = from_minor_units(data["amount_cents"], data["currency"])
        if event.event_type == "paid":
            return [
                PaymentReceived(
                    data["payment"],
                    amount,
                    data["currency"].upper(),
                    data["email"],
                    campaign_slug=data["campaign"],
                )
            ]
        if event.event_type == "refunded":
            return [PaymentRefunded([data["payment"]], amount, data["currency"].upper())]
        return []

    def cancel_recurring(self, reference: str) -> None:
        return None

    def card_update_url(self, customer_reference: str, return_url: str) -> str:
        return "https://pay.partner.example/account"


@pytest.fixture
def partnerpay(settings):
    """Installed through the setting alone: no line of Pressroom changes."""
    settings.FUNDRAISING_PROCESSORS = [
        *providers.BUILT_IN_PROCESSORS,
        f"{__name__}.PartnerPayProvider",
    ]


def post_partner(client, payload: dict):
    body = json.dumps(payload).encode()
    return client.post(
        "/fundraising/partnerpay/webhook/",
        data=body,
        content_type="application/json",
        headers={"X-Partner-Signature": hmac.new(PARTNER_SECRET, body, hashlib.sha256).hexdigest()},
    )


def test_a_second_processor_records_gifts_beside_stripe_ones(
    client, campaign, partnerpay, post_event, stripe_keys
):
    post_event(
        event(
            "checkout.session.completed",
            checkout_completed(amount_total=2000, payment_intent=new_id("pi")),
        )
    )
    paid = {
        "id": "pp-evt-1",
        "kind": "paid",
        "payment": "pp-pay-9",
        "amount_cents": 3000,
        "currency": "usd",
        "email": "lu@example.org",
        "campaign": "end-of-year",
    }
    assert post_partner(client, paid).status_code == 200
    assert post_partner(client, paid).status_code == 200  # a replay
    assert sorted(Donation.objects.values_list("provider", flat=True)) == ["partnerpay", "stripe"]
    assert campaign.totals().raised == Decimal("50.00")
    refund = {**paid, "id": "pp-evt-2", "kind": "refunded"}
    post_partner(client, refund)
    assert campaign.totals().raised == Decimal("20.00")


def test_unknown_processor_webhook_is_a_404(client, db):
    assert (
        client.post(
            "/fundraising/nopay/webhook/", data="{}", content_type="application/json"
        ).status_code
        == 404
    )


def test_a_one_time_only_processor_offers_no_monthly_gift(client, partnerpay, make_campaign):
    campaign = make_campaign(slug="partner-drive", processor="partnerpay")

    page = client.get(f"/donate/{campaign.slug}/")
    refused = client.post(
        f"/donate/{campaign.slug}/",
        {"amount": "25", "email": "dana@example.org", "frequency": "monthly"},
    )
    once = client.post(
        f"/donate/{campaign.slug}/",
        {"amount": "25", "email": "dana@example.org", "frequency": "once"},
    )

    assert page.status_code == 200
    assert b'value="monthly"' not in page.content
    assert refused.status_code == 400  # re-rendered with the error, nothing opened
    assert once.status_code == 303
    assert once["Location"] == "https://pay.partner.example/partner-drive"
