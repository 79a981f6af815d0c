"""Stripe webhooks: verified, stored raw, processed once, in any order; figures follow each event."""

from __future__ import annotations

import json
import re
import time
from decimal import Decimal

from pressroom.fundraising.models import Donation, RecurringDonation, WebhookEvent
from pressroom.fundraising.tests.conftest import (
    charge_refunded,
    checkout_completed,
    event,
    invoice_paid,
    invoice_payment_paid,
    monthly_gift_started,
    new_id,
    sign,
    subscription_deleted,
)


def banner_figures(client) -> str:
    """The banner's 'Raised X of Y · N donors' line on a freshly rendered home page.

    The shared page cache may serve a page up to a minute old; a session cookie makes the page
    render now, so this sees what the next cached copy will show (banner cache included)."""
    client.cookies["sessionid"] = "reader-with-a-session"
    page = client.get("/").content.decode()
    match = re.search(r'<p id="campaign-progress-text"[^>]*>(.*?)</p>', page, re.S)
    assert match, "the campaign banner is missing"
    return " ".join(re.sub(r"<[^>]+>", "", match.group(1)).split())


def test_completed_checkout_records_a_donation_and_the_banner_shows_it(
    client, campaign, post_event, stripe_keys
):
    assert banner_figures(client).startswith("Raised $0 of $10,000 · 0 donors")
    payment_intent = new_id("pi")
    response = post_event(
        event(
            "checkout.session.completed",
            checkout_completed(
                amount_total=2550, payment_intent=payment_intent, email="Dana@Example.org"
            ),
        )
    )
    assert response.status_code == 200
    donation = Donation.objects.get()
    assert donation.amount == Decimal("25.50")
    assert donation.currency == "USD"
    assert donation.campaign == campaign
    assert donation.provider == "stripe"
    assert donation.provider_reference == payment_intent
    assert donation.donor.email == "dana@example.org"
    assert donation.donor.name == "Dana Donor"
    assert banner_figures(client).startswith("Raised $25.50 of $10,000 · 1 donor ·")


def test_raw_event_is_stored(client, campaign, post_event, stripe_keys):
    stripe_event = event(
        "checkout.session.completed",
        checkout_completed(amount_total=1000, payment_intent=new_id("pi")),
    )
    post_event(stripe_event)
    stored = WebhookEvent.objects.get()
    assert stored.event_id == stripe_event["id"]
    assert stored.event_type == "checkout.session.completed"
    assert stored.payload == stripe_event
    assert stored.status == WebhookEvent.Status.PROCESSED


def test_invalid_signature_is_refused_and_changes_nothing(
    client, campaign, post_event, stripe_keys
):
    stripe_event = event(
        "checkout.session.completed",
        checkout_completed(amount_total=1000, payment_intent=new_id("pi")),
    )
    assert post_event(stripe_event, secret="whsec_someone_else").status_code == 400
    assert post_event(stripe_event, signature="t=1,v1=deadbeef").status_code == 400
    assert post_event(stripe_event, signature="").status_code == 400
    payload = json.dumps(stripe_event)
    stale = sign(payload, timestamp=int(time.time()) - 3600)
    response = client.post(
        "/fundraising/stripe/webhook/",
        data=payload,
        content_type="application/json",
        headers={"Stripe-Signature": stale},
    )
    assert response.status_code == 400
    assert WebhookEvent.objects.count() == 0
    assert Donation.objects.count() == 0


def test_a_tampered_body_with_a_valid_old_signature_is_refused(client, campaign, stripe_keys):
    stripe_event = event(
        "checkout.session.completed",
        checkout_completed(amount_total=1000, payment_intent=new_id("pi")),
    )
    header = sign(json.dumps(stripe_event))
    stripe_event["data"]["object"]["amount_total"] = 100000
    response = client.post(
        "/fundraising/stripe/webhook/",
        data=json.dumps(stripe_event),
        content_type="application/json",
        headers={"Stripe-Signature": header},
    )
    assert response.status_code == 400
    assert Donation.objects.count() == 0


def test_replayed_event_counts_once(client, campaign, post_event, stripe_keys):
    stripe_event = event(
        "checkout.session.completed",
        checkout_completed(amount_total=5000, payment_intent=new_id("pi")),
    )
    for _ in range(3):
        assert post_event(stripe_event).status_code == 200
    assert Donation.objects.count() == 1
    assert WebhookEvent.objects.count() == 1
    assert banner_figures(client).startswith("Raised $50 of $10,000 · 1 donor")


def test_two_events_about_one_payment_make_one_donation(client, campaign, post_event, stripe_keys):
    """Stripe may resend a payment under a new event id; the payment reference decides."""
    session = checkout_completed(amount_total=5000, payment_intent=new_id("pi"))
    post_event(event("checkout.session.completed", session))
    post_event(event("checkout.session.completed", session))
    assert Donation.objects.count() == 1
    assert WebhookEvent.objects.count() == 2


def test_delayed_payment_counts_only_when_it_succeeds(client, campaign, post_event, stripe_keys):
    session = checkout_completed(
        amount_total=4000, payment_intent=new_id("pi"), payment_status="unpaid"
    )
    post_event(event("checkout.session.completed", session))
    assert Donation.objects.count() == 0
    session["payment_status"] = "paid"
    post_event(event("checkout.session.async_payment_succeeded", session))
    assert Donation.objects.get().amount == Decimal("40.00")


def test_monthly_gift_first_payment_counts_once_whichever_event_comes_first(
    client, campaign, post_event, stripe_keys
):
    subscription, first_invoice = new_id("sub"), new_id("in")
    # invoice.paid can arrive before checkout.session.completed.
    post_event(
        event(
            "invoice.paid",
            invoice_paid(
                invoice_id=first_invoice,
                subscription=subscription,
                amount_paid=1000,
                billing_reason="subscription_create",
            ),
        )
    )
    post_event(monthly_gift_started(subscription, first_invoice))
    donation = Donation.objects.get()
    assert donation.frequency == "monthly"
    assert donation.campaign == campaign
    recurring = RecurringDonation.objects.get()
    assert recurring.provider_reference == subscription
    assert recurring.is_active
    assert donation.recurring_donation == recurring
    assert banner_figures(client).startswith("Raised $10 of $10,000 · 1 donor")


def test_each_monthly_payment_is_a_donation_from_the_same_donor(
    client, campaign, post_event, stripe_keys
):
    subscription, first_invoice = new_id("sub"), new_id("in")
    post_event(monthly_gift_started(subscription, first_invoice))
    post_event(
        event(
            "invoice.paid",
            invoice_paid(
                invoice_id=first_invoice,
                subscription=subscription,
                amount_paid=1000,
                billing_reason="subscription_create",
            ),
        )
    )
    for _ in range(2):
        post_event(
            event(
                "invoice.paid",
                invoice_paid(
                    invoice_id=new_id("in"),
                    subscription=subscription,
                    amount_paid=1000,
                ),
            )
        )
    assert Donation.objects.filter(recurring_donation__provider_reference=subscription).count() == 3
    assert banner_figures(client).startswith("Raised $30 of $10,000 · 1 donor")


def test_older_api_invoice_shape_is_understood(client, campaign, post_event, stripe_keys):
    subscription = new_id("sub")
    invoice = invoice_paid(invoice_id=new_id("in"), subscription=subscription, amount_paid=1500)
    metadata = invoice.pop("parent")["subscription_details"]["metadata"]
    invoice.update(
        subscription=subscription,
        subscription_details={"metadata": metadata},
        payment_intent=new_id("pi"),
        charge=new_id("ch"),
    )
    post_event(event("invoice.paid", invoice))
    donation = Donation.objects.get()
    assert donation.amount == Decimal("15.00")
    assert donation.campaign == campaign
    assert donation.provider_payment_reference == invoice["payment_intent"]


def test_refund_takes_the_gift_out_of_the_campaign_total(client, campaign, post_event, stripe_keys):
    payment_intent = new_id("pi")
    post_event(
        event(
            "checkout.session.completed",
            checkout_completed(amount_total=5000, payment_intent=payment_intent),
        )
    )
    post_event(
        event(
            "checkout.session.completed",
            checkout_completed(
                amount_total=2000, payment_intent=new_id("pi"), email="ben@example.org"
            ),
        )
    )
    assert banner_figures(client).startswith("Raised $70 of $10,000 · 2 donors")
    post_event(
        event(
            "charge.refunded",
            charge_refunded(payment_intent=payment_intent, amount=5000, amount_refunded=1000),
        )
    )
    assert banner_figures(client).startswith("Raised $60 of $10,000 · 2 donors")
    refund = event(
        "charge.refunded",
        charge_refunded(payment_intent=payment_intent, amount=5000, amount_refunded=5000),
    )
    post_event(refund)
    post_event(refund)
    donation = Donation.objects.get(provider_reference=payment_intent)
    assert donation.status == Donation.Status.REFUNDED
    assert donation.refunded_amount == Decimal("50.00")
    assert banner_figures(client).startswith("Raised $20 of $10,000 · 1 donor")


def test_refund_that_arrives_before_its_payment_is_applied_when_the_payment_arrives(
    client, campaign, post_event, stripe_keys
):
    payment_intent = new_id("pi")
    refund = event(
        "charge.refunded",
        charge_refunded(payment_intent=payment_intent, amount=3000, amount_refunded=3000),
    )
    assert post_event(refund).status_code == 200
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.WAITING
    assert Donation.objects.count() == 0
    post_event(
        event(
            "checkout.session.completed",
            checkout_completed(amount_total=3000, payment_intent=payment_intent),
        )
    )
    donation = Donation.objects.get()
    assert donation.status == Donation.Status.REFUNDED
    assert WebhookEvent.objects.get(event_id=refund["id"]).status == WebhookEvent.Status.PROCESSED
    assert banner_figures(client).startswith("Raised $0 of $10,000 · 0 donors")
    # The donor history survives the refund.
    assert donation.donor.donations.count() == 1


def test_cancelled_subscription_stops_the_monthly_gift_but_keeps_its_payments(
    client, campaign, post_event, stripe_keys
):
    subscription = new_id("sub")
    post_event(monthly_gift_started(subscription))
    post_event(
        event("customer.subscription.deleted", subscription_deleted(subscription=subscription))
    )
    recurring = RecurringDonation.objects.get()
    assert recurring.status == RecurringDonation.Status.CANCELLED
    assert recurring.cancelled_at is not None
    assert Donation.objects.counted().count() == 1


def test_subscription_end_before_its_checkout_leaves_the_gift_cancelled(
    client, campaign, post_event, stripe_keys
):
    subscription, invoice = new_id("sub"), new_id("in")
    post_event(
        event(
            "invoice.paid",
            invoice_paid(invoice_id=invoice, subscription=subscription, amount_paid=1000),
        )
    )
    post_event(
        event("customer.subscription.deleted", subscription_deleted(subscription=subscription))
    )
    post_event(monthly_gift_started(subscription, invoice))
    assert RecurringDonation.objects.get().status == RecurringDonation.Status.CANCELLED
    assert Donation.objects.count() == 1


def test_events_pressroom_does_not_use_are_stored_and_acknowledged(
    client, campaign, post_event, stripe_keys
):
    response = post_event(
        event(
            "customer.created",
            {"id": new_id("cus"), "object": "customer", "email": "x@example.org"},
        )
    )
    assert response.status_code == 200
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.IGNORED


def test_gift_in_another_currency_is_recorded_but_not_added_to_the_goal(
    client, campaign, post_event, stripe_keys
):
    post_event(
        event(
            "checkout.session.completed",
            checkout_completed(amount_total=5000, currency="jpy", payment_intent=new_id("pi")),
        )
    )
    donation = Donation.objects.get()
    assert (donation.amount, donation.currency) == (Decimal("5000"), "JPY")
    assert banner_figures(client).startswith("Raised $0 of $10,000")


def test_webhook_without_a_configured_secret_asks_stripe_to_retry(
    client, campaign, post_event, settings
):
    settings.STRIPE_WEBHOOK_SECRET = ""
    response = post_event(
        event(
            "checkout.session.completed",
            checkout_completed(amount_total=1000, payment_intent=new_id("pi")),
        )
    )
    assert response.status_code == 503
    assert WebhookEvent.objects.count() == 0


def test_webhook_refuses_get_and_non_json(client, stripe_keys, db):
    assert client.get("/fundraising/stripe/webhook/").status_code == 405
    response = client.post(
        "/fundraising/stripe/webhook/",
        data="not json",
        content_type="application/json",
        headers={"Stripe-Signature": sign("not json")},
    )
    assert response.status_code == 400


def test_malformed_event_is_recorded_as_rejected_and_nothing_else_is_stored(
    client, campaign, post_event, stripe_keys
):
    # Signed, so from Stripe: a retry would not change it (docs/security.md, webhooks).
    session = checkout_completed(amount_total=1000, payment_intent=new_id("pi"))
    session["amount_total"] = "ten dollars"
    response = post_event(event("checkout.session.completed", session))
    assert response.status_code == 200
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.REJECTED
    assert Donation.objects.count() == 0


def test_payment_without_an_email_is_still_recorded_and_counted(
    client, campaign, post_event, stripe_keys
):
    session = checkout_completed(amount_total=1500, payment_intent=new_id("pi"))
    session["customer_details"]["email"] = None
    session["customer_email"] = None
    assert post_event(event("checkout.session.completed", session)).status_code == 200
    donation = Donation.objects.get()
    assert not donation.donor.can_receive_email
    assert banner_figures(client).startswith("Raised $15 of $10,000 · 1 donor")


def test_refund_of_a_monthly_payment_is_matched_through_its_invoice_payment(
    client, campaign, post_event, stripe_keys
):
    """Current Stripe API: invoice.paid does not name the payment intent that a refund names;
    invoice_payment.paid links them, in whatever order the three events arrive."""
    subscription, invoice, payment_intent = new_id("sub"), new_id("in"), new_id("pi")
    refund = event(
        "charge.refunded",
        charge_refunded(payment_intent=payment_intent, amount=1000, amount_refunded=1000),
    )
    link = event(
        "invoice_payment.paid",
        invoice_payment_paid(invoice_id=invoice, payment_intent=payment_intent, amount_paid=1000),
    )
    paid = event(
        "invoice.paid",
        invoice_paid(invoice_id=invoice, subscription=subscription, amount_paid=1000),
    )
    for stripe_event in (refund, link):
        assert post_event(stripe_event).status_code == 200
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {
        WebhookEvent.Status.WAITING
    }
    post_event(paid)
    donation = Donation.objects.get()
    assert donation.provider_payment_reference == payment_intent
    assert donation.status == Donation.Status.REFUNDED
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {
        WebhookEvent.Status.PROCESSED
    }
    assert banner_figures(client).startswith("Raised $0 of $10,000")


def test_monthly_payment_refunded_after_it_was_linked(client, campaign, post_event, stripe_keys):
    subscription, invoice, payment_intent = new_id("sub"), new_id("in"), new_id("pi")
    post_event(
        event(
            "invoice.paid",
            invoice_paid(invoice_id=invoice, subscription=subscription, amount_paid=2000),
        )
    )
    post_event(
        event(
            "invoice_payment.paid",
            invoice_payment_paid(
                invoice_id=invoice, payment_intent=payment_intent, amount_paid=2000
            ),
        )
    )
    post_event(
        event(
            "charge.refunded",
            charge_refunded(payment_intent=payment_intent, amount=2000, amount_refunded=500),
        )
    )
    donation = Donation.objects.get()
    assert donation.status == Donation.Status.PARTIALLY_REFUNDED
    assert banner_figures(client).startswith("Raised $15 of $10,000")
