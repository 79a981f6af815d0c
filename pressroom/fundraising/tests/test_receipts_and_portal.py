"""Donors get a receipt after each gift (sent by the task worker over real SMTP), and a signed
link to their gifts where a monthly donor can stop giving."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from django.core import signing
from django.core.management import call_command
from django.utils import timezone

from pressroom.fundraising import services
from pressroom.fundraising.models import Donation, Donor, RecurringDonation
from pressroom.fundraising.receipts import PORTAL_SALT, portal_token
from pressroom.fundraising.tests.conftest import (
    checkout_completed,
    event,
    invoice_paid,
    monthly_gift_started,
    new_id,
)

pytestmark = pytest.mark.django_db(transaction=True)


def run_worker() -> None:
    """The real task worker, in batch mode: runs what is queued, then returns."""
    call_command("worker", batch=True, verbosity=0)


def portal_path(message) -> str:
    text = message.get_body(preferencelist=("plain",)).get_content()
    match = re.search(r"https?://\S+/donate/portal/\S+/", text)
    assert match, "the email has no link to the donor's gifts"
    return urlsplit(match.group(0)).path


def test_donor_receives_a_receipt_with_amount_date_campaign_and_organisation(
    client, campaign, post_event, stripe_keys, smtp_server, settings
):
    settings.ORGANIZATION_NAME = "Pressroom News Collective"
    settings.ORGANIZATION_ADDRESS = "12 Calle Lima, 15001 Lima, Peru"
    post_event(
        event(
            "checkout.session.completed",
            checkout_completed(
                amount_total=2550, payment_intent=new_id("pi"), email="dana@example.org"
            ),
        )
    )
    assert smtp_server.messages == []  # sent by the worker, not the webhook request
    run_worker()
    [receipt] = smtp_server.to("dana@example.org")
    donation = Donation.objects.get()
    assert "$25.50" in receipt["Subject"]
    text = receipt.get_body(preferencelist=("plain",)).get_content()
    html = receipt.get_body(preferencelist=("html",)).get_content()
    for body in (text, html):
        assert "$25.50" in body
        assert donation.received_at.strftime("%-d %B %Y") in body
        assert "End Of Year Fundraising Campaign" in body
        assert "Pressroom News Collective" in body
        assert "12 Calle Lima, 15001 Lima, Peru" in body
    assert Donation.objects.get().receipt_sent_at is not None


def test_a_receipt_is_sent_once_even_if_the_task_runs_twice(
    client, campaign, post_event, stripe_keys, smtp_server
):
    post_event(
        event(
            "checkout.session.completed",
            checkout_completed(amount_total=1000, payment_intent=new_id("pi")),
        )
    )
    run_worker()
    from pressroom.fundraising.tasks import send_donation_receipt

    send_donation_receipt.enqueue(Donation.objects.get().pk)
    run_worker()
    assert len(smtp_server.messages) == 1


def test_each_monthly_payment_brings_its_own_receipt(
    client, campaign, post_event, stripe_keys, smtp_server
):
    subscription = new_id("sub")
    for _ in range(2):
        post_event(
            event(
                "invoice.paid",
                invoice_paid(invoice_id=new_id("in"), subscription=subscription, amount_paid=1000),
            )
        )
    run_worker()
    receipts = smtp_server.to("dana@example.org")
    assert len(receipts) == 2
    assert all("monthly" in message["Subject"] for message in receipts)


def test_monthly_donor_sees_gifts_and_cancels_through_the_signed_link(
    client, campaign, post_event, fake_stripe, smtp_server
):
    subscription = new_id("sub")
    post_event(monthly_gift_started(subscription))
    run_worker()
    [receipt] = smtp_server.to("dana@example.org")
    path = portal_path(receipt)

    page = client.get(path)
    assert page.status_code == 200
    assert "no-cache" in page["Cache-Control"]
    html = page.content.decode()
    assert "$10.00 a month" in html
    assert "End Of Year Fundraising Campaign" in html
    assert "Cancel this monthly donation" in html

    recurring = RecurringDonation.objects.get()
    response = client.post(f"{path}cancel/{recurring.pk}/", follow=True)
    assert "Your gift is stopped" in response.content.decode()
    run_worker()  # the worker tells Stripe
    [cancel_call] = fake_stripe.calls("DELETE", "/v1/subscriptions/")
    assert cancel_call.path == f"/v1/subscriptions/{subscription}"
    recurring.refresh_from_db()
    assert recurring.status == RecurringDonation.Status.CANCELLED
    # The gift made before cancelling still counts.
    assert campaign.totals().raised == Decimal("10.00")


def test_stop_is_recorded_even_when_stripe_is_down(client, campaign, post_event, fake_stripe):
    subscription = new_id("sub")
    post_event(monthly_gift_started(subscription))
    fake_stripe.fail_with = 500
    recurring = RecurringDonation.objects.get()
    token = portal_token(recurring.donor)
    response = client.post(f"/donate/portal/{token}/cancel/{recurring.pk}/", follow=True)
    assert "you will not be charged again" in response.content.decode()
    recurring.refresh_from_db()
    assert recurring.status == RecurringDonation.Status.STOP_REQUESTED
    assert not recurring.is_active


def test_forged_or_foreign_portal_links_show_nothing(client, campaign, post_event, stripe_keys):
    post_event(
        event(
            "checkout.session.completed",
            checkout_completed(amount_total=1000, payment_intent=new_id("pi")),
        )
    )
    donor = Donor.objects.get()
    forged = signing.dumps(
        {"donor": donor.pk, "email": donor.email}, salt=PORTAL_SALT, key="not-our-secret"
    )
    response = client.get(f"/donate/portal/{forged}/")
    assert response.status_code == 404
    assert donor.email not in response.content.decode()

    other = Donor.objects.create(email="mallory@example.org")
    subscription = new_id("sub")
    post_event(monthly_gift_started(subscription))
    recurring = RecurringDonation.objects.get()
    response = client.post(f"/donate/portal/{portal_token(other)}/cancel/{recurring.pk}/")
    assert response.status_code == 404
    recurring.refresh_from_db()
    assert recurring.is_active


def test_offline_donation_counts_toward_the_campaign_and_gets_a_receipt(
    client, campaign, smtp_server
):
    services.record_offline_donation(
        email="maria@example.org",
        name="María",
        amount=Decimal("150"),
        currency="USD",
        method="cheque",
        reference="cheque-00412",
        campaign=campaign,
    )
    assert campaign.totals().raised == Decimal("150")
    run_worker()
    [receipt] = smtp_server.to("maria@example.org")
    assert "Cheque" in receipt.get_body(preferencelist=("plain",)).get_content()


def test_donor_asks_for_a_fresh_link_and_strangers_learn_nothing(
    client, campaign, post_event, stripe_keys, smtp_server
):
    post_event(
        event(
            "checkout.session.completed",
            checkout_completed(amount_total=1000, payment_intent=new_id("pi")),
        )
    )
    run_worker()
    smtp_server.messages.clear()

    known = client.post("/donate/manage/", {"email": "Dana@example.org"})
    unknown = client.post("/donate/manage/", {"email": "nobody@example.org"})
    for response in (known, unknown):
        assert response.status_code == 200
        assert "a link to them is on its way" in response.content.decode()
    # Asking again at once sends nothing more (no inbox flooding).
    client.post("/donate/manage/", {"email": "dana@example.org"})
    run_worker()
    [message] = smtp_server.messages
    assert "dana@example.org" in str(message["To"])
    page = client.get(portal_path(message))
    assert page.status_code == 200
    assert "$10" in page.content.decode()


@pytest.mark.django_db
def test_expired_link_page_offers_a_new_one(client):
    response = client.get("/donate/portal/garbage-token/")
    assert response.status_code == 404
    assert 'href="/donate/manage/"' in response.content.decode()


def test_no_receipt_is_attempted_for_a_payment_without_an_email(
    client, campaign, post_event, stripe_keys, smtp_server
):
    session = checkout_completed(amount_total=1500, payment_intent=new_id("pi"))
    session["customer_details"]["email"] = None
    session["customer_email"] = None
    post_event(event("checkout.session.completed", session))
    run_worker()
    assert smtp_server.messages == []
    assert Donation.objects.get().receipt_sent_at is None


def test_receipt_that_failed_while_mail_was_down_goes_out_on_the_next_sweep(
    client, campaign, post_event, stripe_keys, smtp_server, settings
):
    working_mailers = settings.MAILERS
    closed_port = {"host": "127.0.0.1", "port": 9, "timeout": 2}
    smtp = "django.core.mail.backends.smtp.EmailBackend"
    settings.MAILERS = {
        name: {"BACKEND": smtp, "OPTIONS": closed_port} for name in ("default", "bulk")
    }
    post_event(
        event(
            "checkout.session.completed",
            checkout_completed(amount_total=1000, payment_intent=new_id("pi")),
        )
    )
    run_worker()  # the receipt task fails: nobody listens on port 9
    donation = Donation.objects.get()
    assert donation.receipt_sent_at is None

    settings.MAILERS = working_mailers
    from pressroom.fundraising.tasks import resend_missing_receipts

    assert resend_missing_receipts.call() == 0  # too recent: its own task may still be running
    Donation.objects.filter(pk=donation.pk).update(
        created_at=timezone.now() - timedelta(minutes=11)
    )
    assert resend_missing_receipts.call() == 1
    run_worker()
    assert len(smtp_server.to("dana@example.org")) == 1
    assert resend_missing_receipts.call() == 0


def test_offline_gift_entered_without_a_receipt_is_never_swept_up(client, campaign, smtp_server):
    donation = services.record_offline_donation(
        email="quiet@example.org",
        name="",
        amount=Decimal(5),
        currency="USD",
        method="cash",
        reference="cash-1",
        campaign=campaign,
        send_receipt=False,
    )
    Donation.objects.filter(pk=donation.pk).update(created_at=timezone.now() - timedelta(hours=1))
    from pressroom.fundraising.tasks import resend_missing_receipts

    assert resend_missing_receipts.call() == 0
    run_worker()
    assert smtp_server.messages == []
