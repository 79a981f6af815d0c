"""Signed Stripe events with impossible contents: recorded as rejected, nothing else written.

A signed event comes from Stripe (or whoever holds the webhook secret). One that cannot be a real
payment (an amount of 10^20, a negative amount, metadata or an email of the wrong type) will not
improve if Stripe retries it, so it is answered 200 and stored with status "rejected" and the
reason, for staff to see; a payload that cannot even be read (nested 100,000 levels deep) or
whose signature time lies in the future is refused with 400 and stored nowhere.
"""

from __future__ import annotations

import time

import pytest

from pressroom.fundraising.models import Donation, Donor, RecurringDonation, WebhookEvent
from pressroom.fundraising.money import MAXIMUM_AMOUNT
from pressroom.fundraising.tests.conftest import (
    WEBHOOK_URL,
    charge_refunded,
    checkout_completed,
    event,
    invoice_paid,
    new_id,
    sign,
)

pytestmark = pytest.mark.django_db


def nothing_recorded_but_the_rejection(stripe_event: dict, reason: str) -> None:
    stored = WebhookEvent.objects.get()
    assert stored.event_id == stripe_event["id"]
    assert stored.status == WebhookEvent.Status.REJECTED
    assert reason in stored.problem
    assert Donation.objects.count() == 0
    assert Donor.objects.count() == 0
    assert RecurringDonation.objects.count() == 0


def completed(**overrides) -> dict:
    session = checkout_completed(amount_total=2500, payment_intent=new_id("pi"))
    session.update(overrides)
    return event("checkout.session.completed", session)


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"amount_total": 10**20}, "amount"),
        ({"amount_total": int(MAXIMUM_AMOUNT * 100)}, "amount"),
        ({"amount_total": -500}, "amount"),
        ({"amount_total": "2500"}, "amount"),
        ({"metadata": ["campaign", "end-of-year"]}, "metadata"),
        (
            {"customer_details": {"email": ["a@example.org", "b@example.org"], "name": "Dana"}},
            "email",
        ),
        ({"customer_details": {"email": "dana@example.org", "name": {"first": "Dana"}}}, "name"),
        ({"currency": ["usd"]}, "currency"),
        ({"currency": "dollars"}, "currency"),
        ({"payment_intent": "pi_" + "x" * 300}, "reference"),
        ({"created": 10**20}, "created"),
    ],
)
def test_an_impossible_checkout_is_recorded_as_rejected_and_nothing_else(
    client, campaign, post_event, stripe_keys, overrides, reason
):
    stripe_event = completed(**overrides)
    if "created" in overrides:
        stripe_event["created"] = overrides["created"]
    response = post_event(stripe_event)
    assert response.status_code == 200
    assert response.json()["status"] == "rejected"
    nothing_recorded_but_the_rejection(stripe_event, reason)
    # Stripe retries (or someone replays) it: still rejected, still nothing written.
    again = post_event(stripe_event)
    assert again.status_code == 200
    assert again.json()["status"] == "rejected"
    nothing_recorded_but_the_rejection(stripe_event, reason)
    # The lists and the export still answer.
    assert client.get("/").status_code == 200


def test_a_negative_or_huge_refund_and_invoice_are_rejected(
    client, campaign, post_event, stripe_keys
):
    refund = event(
        "charge.refunded",
        charge_refunded(payment_intent=new_id("pi"), amount=1000, amount_refunded=-1000),
    )
    assert post_event(refund).json()["status"] == "rejected"
    invoice = event(
        "invoice.paid",
        invoice_paid(invoice_id=new_id("in"), amount_paid=10**20, subscription=new_id("sub")),
    )
    assert post_event(invoice).json()["status"] == "rejected"
    statuses = set(WebhookEvent.objects.values_list("status", flat=True))
    assert statuses == {WebhookEvent.Status.REJECTED}
    assert Donation.objects.count() == 0


def test_a_good_event_after_a_rejected_one_is_recorded(client, campaign, post_event, stripe_keys):
    post_event(completed(amount_total=-1))
    assert post_event(completed()).json()["status"] == "processed"
    assert Donation.objects.count() == 1


def post_raw(client, payload: str, timestamp: int | None = None):
    return client.post(
        WEBHOOK_URL,
        data=payload,
        content_type="application/json",
        headers={"Stripe-Signature": sign(payload, timestamp=timestamp)},
    )


def nested_event(levels: int, event_id: str) -> str:
    deep = "[" * levels + "]" * levels
    return (
        f'{{"id": "{event_id}", "object": "event", "type": "checkout.session.completed", '
        f'"created": {int(time.time())}, "data": {{"object": {{"metadata": {deep}}}}}}}'
    )


def test_a_payload_nested_3000_levels_deep_is_rejected_and_only_its_envelope_kept(
    client, campaign, stripe_keys
):
    response = post_raw(client, nested_event(3000, "evt_deep"))
    assert response.status_code == 200
    assert response.json()["status"] == "rejected"
    stored = WebhookEvent.objects.get()
    assert stored.event_id == "evt_deep"
    assert "nested" in stored.problem
    assert "data" not in stored.payload
    assert Donation.objects.count() == 0


def test_a_payload_too_deep_to_read_is_refused_and_stores_nothing(client, campaign, stripe_keys):
    response = post_raw(client, nested_event(100_000, "evt_deeper"))
    assert response.status_code == 400
    assert WebhookEvent.objects.count() == 0
    assert Donation.objects.count() == 0


def test_a_payload_nested_deeper_than_any_stripe_event_is_rejected(
    client, campaign, post_event, stripe_keys
):
    nested: dict = {}
    for _ in range(200):
        nested = {"n": nested}
    stripe_event = completed(metadata={"campaign": "end-of-year", "extra": nested})
    response = post_event(stripe_event)
    assert response.status_code == 200
    assert response.json()["status"] == "rejected"
    nothing_recorded_but_the_rejection(stripe_event, "nested")


def test_a_signature_dated_in_the_future_is_refused(client, campaign, stripe_keys):
    import json

    payload = json.dumps(completed())
    response = post_raw(client, payload, timestamp=int(time.time()) + 3600)
    assert response.status_code == 400
    assert WebhookEvent.objects.count() == 0
    # Within the tolerance (clocks drift a little) it is accepted.
    assert post_raw(client, payload, timestamp=int(time.time()) + 30).status_code == 200


@pytest.mark.parametrize("event_id", [["evt_1"], "evt_" + "x" * 300, ""])
def test_an_event_id_that_is_not_a_short_string_is_refused(
    client, campaign, post_event, stripe_keys, event_id
):
    stripe_event = completed()
    stripe_event["id"] = event_id
    assert post_event(stripe_event).status_code == 400
    assert WebhookEvent.objects.count() == 0
