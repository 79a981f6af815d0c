"""Stripe retries and sends in parallel: one payment delivered concurrently is one donation."""

from __future__ import annotations

import json
import threading

import pytest
from django.db import connection
from django.test import Client

from pressroom.fundraising.models import Donation, Donor, RecurringDonation, WebhookEvent
from pressroom.fundraising.tests.conftest import (
    WEBHOOK_URL,
    checkout_completed,
    event,
    invoice_paid,
    new_id,
    sign,
)

THREADS = 6

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor == "sqlite",
        reason=(
            "SQLite's in-memory test database is shared between threads through its shared "
            "cache, whose table locks fail at once instead of waiting (SQLITE_LOCKED), so this "
            "cannot model concurrent workers; a file database serialises writers anyway."
        ),
    ),
]


def deliver_concurrently(deliveries: list[dict]) -> list[int]:
    """POST each event from its own thread (its own connection), all released at once."""
    barrier = threading.Barrier(len(deliveries))
    statuses: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def deliver(stripe_event: dict) -> None:
        try:
            payload = json.dumps(stripe_event)
            stripe = Client()
            barrier.wait(timeout=10)
            response = stripe.post(
                WEBHOOK_URL,
                data=payload,
                content_type="application/json",
                headers={"Stripe-Signature": sign(payload)},
            )
            with lock:
                statuses.append(response.status_code)
        except BaseException as error:
            with lock:
                errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver, args=(item,)) for item in deliveries]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return statuses


def test_same_event_delivered_concurrently_makes_one_donation(campaign, stripe_keys):
    stripe_event = event(
        "checkout.session.completed",
        checkout_completed(amount_total=2500, payment_intent=new_id("pi")),
    )
    statuses = deliver_concurrently([stripe_event] * THREADS)
    assert statuses == [200] * THREADS
    assert WebhookEvent.objects.count() == 1
    assert Donation.objects.count() == 1
    assert Donor.objects.count() == 1
    assert campaign.totals().raised == 25


def test_different_events_for_one_first_monthly_payment_concurrently_make_one_donation(
    campaign, stripe_keys
):
    subscription, first_invoice = new_id("sub"), new_id("in")
    completed = event(
        "checkout.session.completed",
        checkout_completed(
            amount_total=1000, mode="subscription", subscription=subscription, invoice=first_invoice
        ),
    )
    paid = event(
        "invoice.paid",
        invoice_paid(
            invoice_id=first_invoice,
            subscription=subscription,
            amount_paid=1000,
            billing_reason="subscription_create",
        ),
    )
    statuses = deliver_concurrently([completed, paid] * (THREADS // 2))
    assert statuses == [200] * THREADS
    assert WebhookEvent.objects.count() == 2
    assert Donation.objects.count() == 1
    assert RecurringDonation.objects.count() == 1
    assert Donation.objects.get().campaign == campaign
