"""One conformance suite that every installed payment processor passes, each against its own fake
server speaking its real formats (the harness in <processor package>/tests/harness.py).

A processor installed without a harness fails here: shipping a plug-in means shipping its fake.
"""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone
from django.utils.module_loading import import_string

from pressroom.fundraising import services
from pressroom.fundraising.models import (
    Donation,
    DonationRefund,
    ProcessorHealth,
    RecurringDonation,
    WebhookEvent,
)
from pressroom.fundraising.providers import registry


def _processors() -> list[str]:
    return list(registry().providers)


def _harness_for(name: str):
    module = type(registry().providers[name]).__module__
    return import_string(f"{module}.tests.harness.Harness")()


# The real worker runs the queued tasks in its own transactions (as in production).
pytestmark = pytest.mark.django_db(transaction=True)


def run_worker() -> None:
    call_command("worker", batch=True, verbosity=0)


@pytest.fixture(params=_processors())
def harness(request, settings, db):
    name = request.param
    try:
        harness = _harness_for(name)
    except ImportError:
        pytest.fail(f"The processor {name!r} ships no tests/harness.py for this suite.")
    with harness.running(settings) as running:
        yield running


@pytest.fixture
def deliver(client, django_capture_on_commit_callbacks, harness):
    """Post deliveries to the processor's webhook as it does, then let the real worker run
    what they queued (e.g. PayPal's capture)."""

    def post(deliveries, *, expect: int = 200):
        for body, headers in deliveries:
            with django_capture_on_commit_callbacks(execute=True):
                response = client.post(
                    f"/fundraising/{harness.name}/webhook/",
                    data=body,
                    content_type="application/json",
                    headers=headers,
                )
            assert response.status_code == expect, response.content
        run_worker()

    return post


@pytest.fixture
def monthly_supported(harness):
    if not registry().providers[harness.name].supports_monthly:
        pytest.skip(f"{harness.name} takes one-time gifts only")


@pytest.fixture
def their_campaign(make_campaign, harness):
    """A campaign that chose this processor (the site's default stays Stripe)."""
    return make_campaign(processor=harness.name)


def open_checkout(client, campaign, *, frequency: str = "once", amount: str = "25") -> None:
    response = client.post(
        f"/donate/{campaign.slug}/",
        {
            "amount": amount,
            "email": "dana@example.org",
            "name": "Dana Donor",
            "frequency": frequency,
        },
    )
    assert response.status_code == 303, response.content.decode()[:500]
    return response["Location"]


def test_a_one_time_checkout_opens_at_the_campaigns_processor_and_records_one_gift(
    client, harness, their_campaign, deliver
):
    location = open_checkout(client, their_campaign)
    assert location.startswith(harness.checkout_url_prefix())
    reference = harness.last_checkout()
    sent = harness.checkout_request(reference)
    assert sent["campaign"] == their_campaign.slug
    assert Decimal(sent["amount"]) in {Decimal(25), Decimal(2500)}  # major or minor units
    _handle, deliveries = harness.complete_one_time(reference, email="dana@example.org")
    deliver(deliveries)

    donation = Donation.objects.get()
    assert (donation.provider, donation.amount, donation.currency) == (harness.name, 25, "USD")
    assert donation.donor.email == "dana@example.org"
    assert donation.campaign == their_campaign
    assert donation.frequency == "once"


def test_a_monthly_gift_starts_and_records_each_month(
    client, harness, their_campaign, deliver, monthly_supported
):
    open_checkout(client, their_campaign, frequency="monthly", amount="10")
    subscription, deliveries = harness.start_monthly(harness.last_checkout())
    deliver(deliveries)
    deliver(harness.monthly_payment(subscription))

    recurring = RecurringDonation.objects.get()
    assert (recurring.provider, recurring.provider_reference) == (harness.name, subscription)
    assert recurring.is_active
    assert recurring.amount == 10
    assert recurring.donor.email == "dana@example.org"
    assert recurring.campaign == their_campaign
    months = Donation.objects.filter(recurring_donation=recurring)
    assert months.count() == 2
    assert {donation.donor_id for donation in months} == {recurring.donor_id}
    assert all(donation.frequency == "monthly" for donation in months)


def test_a_forged_event_is_refused_and_nothing_is_stored(client, harness, their_campaign, deliver):
    open_checkout(client, their_campaign)
    _, deliveries = harness.complete_one_time(harness.last_checkout(), email="dana@example.org")
    deliver([harness.forge(delivery) for delivery in deliveries], expect=400)
    body, _ = deliveries[0]
    deliver([(body, {})], expect=400)  # no signature at all

    assert not WebhookEvent.objects.exists()
    assert not Donation.objects.exists()


def test_duplicated_events_record_one_gift(client, harness, their_campaign, deliver):
    open_checkout(client, their_campaign)
    handle, deliveries = harness.complete_one_time(
        harness.last_checkout(), email="dana@example.org"
    )
    deliver(deliveries)
    deliver(deliveries)  # the processor retries the same event
    deliver(harness.payment_completed_again(handle))  # another event about the same payment

    assert Donation.objects.count() == 1
    assert Donation.objects.get().amount == 25


def test_a_refund_before_its_payment_waits_and_is_applied_then(
    client, harness, their_campaign, deliver
):
    open_checkout(client, their_campaign)
    handle, deliveries = harness.complete_one_time(
        harness.last_checkout(), email="dana@example.org"
    )
    refunded_at = timezone.now().replace(microsecond=0) - timedelta(minutes=5)
    deliver(
        harness.refund(
            handle, amount=Decimal(25), total_refunded=Decimal(25), currency="USD", at=refunded_at
        )
    )
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.WAITING
    deliver(deliveries)

    donation = Donation.objects.get()
    assert donation.status == Donation.Status.REFUNDED
    assert donation.refunded_amount == 25


def test_a_delayed_partial_refund_is_booked_on_the_day_it_happened(
    client, harness, their_campaign, deliver
):
    open_checkout(client, their_campaign)
    handle, deliveries = harness.complete_one_time(
        harness.last_checkout(), email="dana@example.org"
    )
    deliver(deliveries)
    # Delivered three days late (the processor's retries after an outage of ours).
    refunded_at = timezone.now().replace(microsecond=0) - timedelta(days=3)
    first = harness.refund(
        handle, amount=Decimal(10), total_refunded=Decimal(10), currency="USD", at=refunded_at
    )
    deliver(first)
    deliver(first)  # and once more

    donation = Donation.objects.get()
    assert donation.status == Donation.Status.PARTIALLY_REFUNDED
    assert donation.refunded_amount == 10
    refund = DonationRefund.objects.get()
    assert refund.amount == 10
    assert abs(refund.refunded_at - refunded_at) < timedelta(seconds=2)


def test_monthly_events_in_reverse_order_end_in_the_same_state(
    client, harness, their_campaign, deliver, monthly_supported
):
    open_checkout(client, their_campaign, frequency="monthly", amount="10")
    subscription, started = harness.start_monthly(harness.last_checkout())
    month = harness.monthly_payment(subscription)
    ended = harness.ended(subscription)
    # The end first, then the second month, then the start with the first month.
    deliver(ended)
    deliver(month)
    deliver(list(reversed(started)))

    recurring = RecurringDonation.objects.get()
    assert recurring.status == RecurringDonation.Status.CANCELLED
    assert recurring.donor.email == "dana@example.org"
    assert Donation.objects.filter(recurring_donation=recurring).count() == 2
    assert not WebhookEvent.objects.filter(status=WebhookEvent.Status.WAITING).exists()


def test_a_monthly_payment_can_be_refunded(
    client, harness, their_campaign, deliver, monthly_supported
):
    open_checkout(client, their_campaign, frequency="monthly", amount="10")
    subscription, deliveries = harness.start_monthly(harness.last_checkout())
    deliver(deliveries)
    deliver(harness.monthly_payment(subscription))
    payment = harness.last_monthly_payment()
    deliver(
        harness.refund(
            payment,
            amount=Decimal(10),
            total_refunded=Decimal(10),
            currency="USD",
            at=timezone.now(),
        )
    )

    refunded = Donation.objects.get(status=Donation.Status.REFUNDED)
    assert refunded.provider_reference == payment
    assert Donation.objects.filter(status=Donation.Status.PAID).count() == 1


def test_staff_cancel_stops_the_subscription_at_the_processor(
    client, harness, their_campaign, deliver, django_capture_on_commit_callbacks, monthly_supported
):
    open_checkout(client, their_campaign, frequency="monthly", amount="10")
    subscription, deliveries = harness.start_monthly(harness.last_checkout())
    deliver(deliveries)
    recurring = RecurringDonation.objects.get()

    with django_capture_on_commit_callbacks(execute=True):
        services.cancel_recurring_donation(recurring.pk)
    run_worker()  # the stop is asked of the processor by the worker
    assert harness.cancelled_at_processor() == [subscription]
    deliver(harness.ended(subscription))  # the processor's own event changes nothing more

    recurring.refresh_from_db()
    assert recurring.status == RecurringDonation.Status.CANCELLED
    assert harness.cancelled_at_processor() == [subscription]


def test_a_processor_without_keys_pauses_giving_instead_of_failing(
    client, settings, harness, their_campaign
):
    harness.unconfigure(settings)

    page = client.get(f"/donate/{their_campaign.slug}/")
    assert page.status_code == 200
    assert b"Online giving is not configured on this site yet." in page.content
    assert b'name="email"' not in page.content  # no form whose button could only fail
    posted = client.post(
        f"/donate/{their_campaign.slug}/",
        {"amount": "25", "email": "dana@example.org", "frequency": "once"},
    )
    assert posted.status_code == 503
    assert b"Traceback" not in posted.content
    webhook = client.post(
        f"/fundraising/{harness.name}/webhook/", data=b"{}", content_type="application/json"
    )
    assert webhook.status_code == 503  # the processor keeps the event and delivers it later


def test_an_unreachable_processor_is_a_clear_message_not_a_500(client, harness, their_campaign):
    harness.set_down(True)

    response = client.post(
        f"/donate/{their_campaign.slug}/",
        {"amount": "25", "email": "dana@example.org", "frequency": "once"},
    )

    assert response.status_code == 503
    assert b"Nothing was charged" in response.content
    assert not Donation.objects.exists()


def test_every_event_is_stored_raw_with_the_processors_name(
    client, harness, their_campaign, deliver
):
    open_checkout(client, their_campaign)
    _, deliveries = harness.complete_one_time(harness.last_checkout(), email="dana@example.org")
    deliver(deliveries)

    stored = WebhookEvent.objects.get()
    assert stored.provider == harness.name
    assert stored.payload == json.loads(deliveries[0][0])


def test_a_refused_request_is_the_readers_problem_not_an_outage(client, harness, their_campaign):
    harness.set_refusing()

    for _ in range(4):
        response = client.post(
            f"/donate/{their_campaign.slug}/",
            {"amount": "25", "email": "dana@example.org", "frequency": "once"},
        )
        assert response.status_code == 400
        assert b"did not accept this gift" in response.content

    assert not ProcessorHealth.objects.filter(consecutive_failures__gt=0).exists()
