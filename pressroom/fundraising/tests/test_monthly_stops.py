"""Monthly donors are never trapped (issue #19, point 3): a stop is recorded at once however the
processor is (down, unconfigured), the donor is told once, receipts stop offering to stop it,
and the real task worker tells the processor until it confirms, calling it exactly once when
it is back. Stripe's events for the subscription that arrive meanwhile, duplicated or late,
never bring the gift back."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from pressroom.fundraising import services, stopping
from pressroom.fundraising.models import (
    Donation,
    DonationStateError,
    Donor,
    RecurringDonation,
    WebhookEvent,
)
from pressroom.fundraising.receipts import portal_token
from pressroom.fundraising.tasks import retry_recurring_stops, send_donation_receipt
from pressroom.fundraising.tests.conftest import (
    event,
    invoice_paid,
    invoice_payment_failed,
    monthly_gift_started,
    new_id,
    subscription_deleted,
)
from pressroom.site.models import SiteSettings

pytestmark = pytest.mark.django_db(transaction=True)

DONOR = "dana@example.org"
STOPPED_SUBJECT = "Your monthly donation to Pressroom News has stopped"


def run_worker() -> None:
    call_command("worker", batch=True, verbosity=0)


def text_of(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


@pytest.fixture
def outlet(db):
    SiteSettings.objects.create(id=1, name="Pressroom News", organisation_name="Pressroom News")


def successful_cancels(fake_stripe, subscription: str, after: int) -> list:
    return list(fake_stripe.calls("DELETE", f"/v1/subscriptions/{subscription}")[after:])


def let_the_backoff_pass() -> None:
    """The clock moves past every scheduled retry (the sweep runs every minute)."""
    RecurringDonation.objects.filter(stop_next_attempt_at__isnull=False).update(
        stop_next_attempt_at=timezone.now() - timedelta(seconds=1)
    )


def test_stop_while_stripe_is_down_is_recorded_at_once_and_cancelled_once_when_it_is_back(
    client, outlet, campaign, post_event, fake_stripe, smtp_server
):
    subscription = new_id("sub")
    started = monthly_gift_started(subscription)
    post_event(started)
    run_worker()  # the first receipt
    recurring = RecurringDonation.objects.get()

    fake_stripe.fail_with = 503
    token = portal_token(recurring.donor)
    page = client.post(f"/donate/portal/{token}/cancel/{recurring.pk}/", follow=True)
    assert "you will not be charged again" in page.content.decode()
    recurring.refresh_from_db()
    assert recurring.status == RecurringDonation.Status.STOP_REQUESTED
    assert recurring.cancelled_at is not None

    run_worker()  # sends the confirmation; Stripe's answer is a 503
    [confirmation] = [m for m in smtp_server.to(DONOR) if m["Subject"] == STOPPED_SUBJECT]
    assert "You will not be charged again" in text_of(confirmation)
    assert "passing it on to our payment processor" in text_of(confirmation)
    recurring.refresh_from_db()
    assert recurring.status == RecurringDonation.Status.STOP_REQUESTED
    assert recurring.stop_attempts == 1
    assert "could not cancel" in recurring.stop_last_error
    assert recurring.stop_next_attempt_at > timezone.now()

    # Not due yet: the sweep queues nothing and nobody calls Stripe.
    calls_so_far = len(fake_stripe.calls("DELETE", "/v1/subscriptions/"))
    retry_recurring_stops.enqueue()
    run_worker()
    assert len(fake_stripe.calls("DELETE", "/v1/subscriptions/")) == calls_so_far

    # Meanwhile Stripe's events about the subscription keep coming: the checkout's event
    # again (a duplicate), late, a month's invoice, and an update saying it is active.
    post_event(started)
    post_event(monthly_gift_started(subscription))
    post_event(
        event(
            "invoice.paid",
            invoice_paid(invoice_id=new_id("in"), subscription=subscription, amount_paid=1000),
        )
    )
    post_event(
        event(
            "customer.subscription.updated",
            {"id": subscription, "object": "subscription", "status": "active"},
        )
    )
    recurring.refresh_from_db()
    assert recurring.status == RecurringDonation.Status.STOP_REQUESTED
    assert RecurringDonation.objects.count() == 1

    # The processor is back; the sweep runs twice (two workers, or a slow minute).
    fake_stripe.fail_with = None
    before = len(fake_stripe.calls("DELETE", "/v1/subscriptions/"))
    let_the_backoff_pass()
    retry_recurring_stops.enqueue()
    retry_recurring_stops.enqueue()
    run_worker()
    assert len(successful_cancels(fake_stripe, subscription, before)) == 1
    recurring.refresh_from_db()
    assert recurring.status == RecurringDonation.Status.CANCELLED
    assert recurring.stop_confirmed_at is not None

    # Stripe then sends the deletion: nothing changes, no second email, no further call.
    post_event(
        event("customer.subscription.deleted", subscription_deleted(subscription=subscription))
    )
    let_the_backoff_pass()
    retry_recurring_stops.enqueue()
    run_worker()
    assert len(successful_cancels(fake_stripe, subscription, before)) == 1
    recurring.refresh_from_db()
    assert recurring.status == RecurringDonation.Status.CANCELLED
    assert [m["Subject"] for m in smtp_server.to(DONOR)].count(STOPPED_SUBJECT) == 1


def test_stop_with_the_processor_gone_is_retried_and_receipts_stop_offering_to_stop_it(
    client, outlet, campaign, post_event, fake_stripe, smtp_server, settings
):
    subscription = new_id("sub")
    post_event(monthly_gift_started(subscription))
    run_worker()
    [receipt] = smtp_server.to(DONOR)
    assert "change or stop your monthly donation at any time" in text_of(receipt)

    # The outlet followed the docs and dropped the processor: no key at all.
    settings.STRIPE_SECRET_KEY = ""
    recurring = RecurringDonation.objects.get()
    services.stop_recurring_donation(recurring.pk)
    run_worker()
    recurring.refresh_from_db()
    assert recurring.status == RecurringDonation.Status.STOP_REQUESTED
    assert "STRIPE_SECRET_KEY" in recurring.stop_last_error
    assert fake_stripe.calls("DELETE", "/v1/subscriptions/") == []

    # A copy of the old receipt no longer says the gift can be stopped.
    send_donation_receipt.enqueue(Donation.objects.get().pk, again=True)
    run_worker()
    copy = smtp_server.to(DONOR)[-1]
    assert "Copy of your receipt" in copy["Subject"]
    assert "at any time" not in text_of(copy)
    assert "Your monthly donation has stopped" in text_of(copy)

    # Attempts back off: 1, 2, 4 ... minutes, never more than six hours.
    assert stopping.stop_retry_delay(1) == timedelta(minutes=1)
    assert stopping.stop_retry_delay(3) == timedelta(minutes=4)
    assert stopping.stop_retry_delay(50) == timedelta(hours=6)

    settings.STRIPE_SECRET_KEY = "sk_test_pressroom"
    let_the_backoff_pass()
    retry_recurring_stops.enqueue()
    run_worker()
    assert len(fake_stripe.calls("DELETE", f"/v1/subscriptions/{subscription}")) == 1
    recurring.refresh_from_db()
    assert recurring.status == RecurringDonation.Status.CANCELLED


def test_stripes_own_deletion_confirms_a_pending_stop_and_ends_the_retries(
    outlet, campaign, post_event, fake_stripe, smtp_server
):
    subscription = new_id("sub")
    post_event(monthly_gift_started(subscription))
    fake_stripe.fail_with = 500
    recurring = RecurringDonation.objects.get()
    services.stop_recurring_donation(recurring.pk)
    run_worker()
    # Someone cancelled it in Stripe's dashboard meanwhile; Stripe says so.
    post_event(
        event("customer.subscription.deleted", subscription_deleted(subscription=subscription))
    )
    recurring.refresh_from_db()
    assert recurring.status == RecurringDonation.Status.CANCELLED
    assert WebhookEvent.objects.filter(event_type="customer.subscription.deleted").get().status == (
        WebhookEvent.Status.PROCESSED
    )
    fake_stripe.fail_with = None
    before = len(fake_stripe.calls("DELETE", "/v1/subscriptions/"))
    let_the_backoff_pass()
    retry_recurring_stops.enqueue()
    run_worker()
    assert len(fake_stripe.calls("DELETE", "/v1/subscriptions/")) == before
    assert [m["Subject"] for m in smtp_server.to(DONOR)].count(STOPPED_SUBJECT) == 1


def test_staff_stop_a_gift_in_the_admin_with_the_processor_down_and_confirm_it_by_hand(
    client, outlet, campaign, post_event, fake_stripe, smtp_server
):
    subscription = new_id("sub")
    post_event(monthly_gift_started(subscription))
    fake_stripe.fail_with = 500
    recurring = RecurringDonation.objects.get()
    admin = get_user_model().objects.create_superuser("treasurer", "t@example.org", "pw-12345!")
    client.force_login(admin)
    url = "/admin/fundraising/recurringdonation/"
    response = client.post(
        url, {"action": "cancel_selected", "_selected_action": [recurring.pk]}, follow=True
    )
    assert response.status_code == 200
    assert "the donor is emailed and the processor told" in response.content.decode()
    run_worker()
    recurring.refresh_from_db()
    assert recurring.status == RecurringDonation.Status.STOP_REQUESTED
    assert [m["Subject"] for m in smtp_server.to(DONOR)].count(STOPPED_SUBJECT) == 1
    page = client.get(f"{url}{recurring.pk}/change/").content.decode()
    assert "Stop requested" in page

    # The account is closed for good: the treasurer checked and confirms it by hand.
    client.post(url, {"action": "confirm_stops", "_selected_action": [recurring.pk]})
    recurring.refresh_from_db()
    assert recurring.status == RecurringDonation.Status.CANCELLED
    assert recurring.stop_next_attempt_at is None
    assert RecurringDonation.objects.stops_due(timezone.now() + timedelta(days=1)).count() == 0


def test_a_stopped_gift_cannot_be_stopped_twice_or_by_someone_else(
    client, outlet, campaign, post_event, stripe_keys
):
    post_event(monthly_gift_started(new_id("sub")))
    recurring = RecurringDonation.objects.get()
    token = portal_token(recurring.donor)
    client.post(f"/donate/portal/{token}/cancel/{recurring.pk}/")
    page = client.post(f"/donate/portal/{token}/cancel/{recurring.pk}/", follow=True)
    assert "already cancelled" in page.content.decode()
    recurring.refresh_from_db()
    assert recurring.status == RecurringDonation.Status.STOP_REQUESTED
    mallory = Donor.objects.create(email="mallory@example.org")
    with pytest.raises(DonationStateError):
        services.stop_recurring_donation(recurring.pk, donor=mallory)


def test_events_in_every_order_while_a_stop_waits_never_resurrect_it(
    outlet, campaign, post_event, fake_stripe, settings
):
    """Each order of the events Stripe may send about a subscription between the stop and the
    processor's return: the gift stays stopped, nobody is asked to update a card, and Stripe
    gets exactly one cancellation once it is back."""
    orders = list(itertools.permutations(["late_checkout", "invoice", "active", "failed"]))
    for order in orders:
        subscription = new_id("sub")
        started = monthly_gift_started(subscription)
        post_event(started)
        recurring = RecurringDonation.objects.get(provider_reference=subscription)
        # The processor is gone (its key removed): no network call can succeed.
        settings.STRIPE_SECRET_KEY = ""
        services.stop_recurring_donation(recurring.pk)  # its tasks wait: no worker runs here
        assert stopping.cancel_recurring_at_processor(recurring.pk) is False
        events = {
            "late_checkout": started,
            "invoice": event(
                "invoice.paid",
                invoice_paid(invoice_id=new_id("in"), subscription=subscription, amount_paid=1000),
            ),
            "active": event(
                "customer.subscription.updated",
                {"id": subscription, "object": "subscription", "status": "active"},
            ),
            "failed": event(
                "invoice.payment_failed",
                invoice_payment_failed(
                    invoice_id=new_id("in"),
                    subscription=subscription,
                    amount_due=1000,
                    customer="cus_" + new_id("x")[2:16],
                ),
            ),
        }
        for name in order:
            post_event(events[name])
            post_event(events[name])  # and again
        recurring.refresh_from_db()
        assert recurring.status == RecurringDonation.Status.STOP_REQUESTED, order

        settings.STRIPE_SECRET_KEY = "sk_test_pressroom"
        before = len(fake_stripe.calls("DELETE", f"/v1/subscriptions/{subscription}"))
        let_the_backoff_pass()
        assert stopping.cancel_recurring_at_processor(recurring.pk) is True
        assert stopping.cancel_recurring_at_processor(recurring.pk) is False  # run twice
        calls = fake_stripe.calls("DELETE", f"/v1/subscriptions/{subscription}")
        assert len(calls) - before == 1, order
        post_event(
            event("customer.subscription.deleted", subscription_deleted(subscription=subscription))
        )
        recurring.refresh_from_db()
        assert recurring.status == RecurringDonation.Status.CANCELLED, order
    # No card-update email was queued for a stopped gift (only the staff notices).
    assert not any(
        task.task_path.endswith("send_card_update_request") for task in DBTaskResult.objects.all()
    )
