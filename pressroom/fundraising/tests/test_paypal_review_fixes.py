"""Regression tests for the hostile review of issue #19 (PayPal and moving monthly donors):
each was first a failing reproduction against main @ 80276f1."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import transaction

from pressroom.fundraising import processor_tasks, receipts, services
from pressroom.fundraising.gifts import GiftDetails
from pressroom.fundraising.models import (
    Donation,
    Donor,
    ProcessorHealth,
    RecurringDonation,
    Tribute,
)
from pressroom.fundraising.providers import RecurringStarted
from pressroom.fundraising.providers.paypal.tests.harness import Harness as PayPalHarness

pytestmark = pytest.mark.django_db(transaction=True)


def old_gift(frequency: str = "monthly", amount: str = "10") -> RecurringDonation:
    donor = Donor.objects.create(email="dana@example.org", name="Dana")
    return RecurringDonation.objects.create(
        donor=donor,
        amount=Decimal(amount),
        currency="USD",
        provider="stripe",
        provider_reference="sub_old",
        frequency=frequency,
    )


@pytest.fixture
def paypal(settings, db):
    harness = PayPalHarness()
    with harness.running(settings):
        yield harness


def deliver(client, django_capture_on_commit_callbacks, deliveries) -> None:
    for body, headers in deliveries:
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                "/fundraising/paypal/webhook/",
                data=body,
                content_type="application/json",
                headers=headers,
            )
        assert response.status_code == 200, response.content
    call_command("worker", batch=True, verbosity=0)


def last_plan(paypal) -> dict:
    request = paypal.fake.calls("POST", "/v1/billing/plans")[-1]
    body = request.body if isinstance(request.body, dict) else json.loads(request.body)
    return body["billing_cycles"][0]


# --- 1. An annual gift stays annual ---------------------------------------------------------


def test_moving_an_annual_gift_opens_a_yearly_plan_at_the_same_amount(paypal, client):
    old = old_gift(frequency="annual", amount="120")
    response = client.post("/donate/move/" + receipts.move_token(old, "paypal") + "/")
    assert response.status_code == 303
    cycle = last_plan(paypal)
    assert cycle["frequency"] == {"interval_unit": "YEAR", "interval_count": 1}
    assert cycle["pricing_scheme"]["fixed_price"]["value"] == "120.00"


def test_a_monthly_gift_moved_stays_monthly(paypal, client):
    old = old_gift()
    assert (
        client.post("/donate/move/" + receipts.move_token(old, "paypal") + "/").status_code == 303
    )
    assert last_plan(paypal)["frequency"]["interval_unit"] == "MONTH"


def test_an_annual_paypal_gift_is_a_yearly_subscription_recorded_as_annual(
    paypal, client, django_capture_on_commit_callbacks
):
    session = services.start_checkout(
        campaign=None,
        amount=Decimal("120"),
        currency="USD",
        frequency="annual",
        email="a@example.org",
        name="A",
        site_url="http://testserver",
        provider_name="paypal",
    )
    assert paypal.fake.calls("POST", "/v1/billing/subscriptions")
    assert not paypal.fake.calls("POST", "/v2/checkout/orders")
    assert last_plan(paypal)["frequency"]["interval_unit"] == "YEAR"
    _, deliveries = paypal.start_monthly(session.reference)
    deliver(client, django_capture_on_commit_callbacks, deliveries)
    recurring = RecurringDonation.objects.get(provider="paypal")
    assert recurring.frequency == "annual"
    assert recurring.amount == Decimal("120")


# --- 2. One move link starts one gift -------------------------------------------------------


def test_a_move_link_posted_twice_opens_one_checkout(paypal, client):
    old = old_gift()
    url = "/donate/move/" + receipts.move_token(old, "paypal") + "/"
    assert client.post(url).status_code == 303
    second = client.post(url)
    assert second.status_code == 409
    assert "was opened a few minutes ago" in second.content.decode()
    assert len(paypal.fake.calls("POST", "/v1/billing/subscriptions")) == 1


def test_a_move_link_is_free_again_when_the_checkout_could_not_open(paypal, client):
    old = old_gift()
    url = "/donate/move/" + receipts.move_token(old, "paypal") + "/"
    paypal.set_down(True)
    assert client.post(url).status_code == 503
    paypal.set_down(False)
    assert client.post(url).status_code == 303


def test_a_second_gift_started_from_one_move_link_is_stopped_at_once(
    paypal, django_capture_on_commit_callbacks, caplog
):
    old = old_gift()
    for reference in ("I-NEW1", "I-NEW2"):  # both checkouts were completed
        # One transaction per event, as when the webhook applies it.
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            services.record_recurring_start(
                "paypal",
                RecurringStarted(
                    reference=reference,
                    amount=Decimal("10"),
                    currency="USD",
                    email="dana@example.org",
                    replaces=str(old.pk),
                ),
            )
    old.refresh_from_db()
    first = RecurringDonation.objects.get(provider_reference="I-NEW1")
    second = RecurringDonation.objects.get(provider_reference="I-NEW2")
    assert old.status == "moved"
    assert old.moved_to == first
    assert first.status == "active"
    assert second.status == "stop_requested"
    assert "duplicates the move of gift" in caplog.text
    call_command("worker", batch=True, verbosity=0)
    assert paypal.fake.calls("POST", "/v1/billing/subscriptions/I-NEW2/cancel")
    # The start event delivered again changes nothing.
    with transaction.atomic():
        services.record_recurring_start(
            "paypal",
            RecurringStarted(
                reference="I-NEW2",
                amount=Decimal("10"),
                currency="USD",
                email="dana@example.org",
                replaces=str(old.pk),
            ),
        )
    assert RecurringDonation.objects.filter(provider="paypal", status="active").count() == 1


# --- 4. A declined capture is not thanked as paid ---------------------------------------------


def one_time_order(amount: str = "25") -> str:
    return services.start_checkout(
        campaign=None,
        amount=Decimal(amount),
        currency="USD",
        frequency="once",
        email="d@example.org",
        name="D",
        site_url="http://testserver",
        provider_name="paypal",
    ).reference


def test_a_declined_capture_tells_the_donor_it_did_not_go_through(paypal, client):
    order = one_time_order()
    paypal.fake.approve_order(order, "d@example.org")
    paypal.fake.declines_capture = True
    response = client.get(f"/donate/thanks/?processor=paypal&token={order}&PayerID=X")
    text = response.content.decode()
    assert response.status_code == 200
    assert "Thank you for your donation" not in text
    assert "did not go through" in text
    assert f"https://www.sandbox.paypal.com/checkoutnow?token={order}" in text
    assert not Donation.objects.exists()
    assert not ProcessorHealth.objects.filter(consecutive_failures__gt=0).exists()


def test_a_declined_capture_from_the_approved_webhook_records_nothing(paypal):
    order = one_time_order()
    paypal.fake.approve_order(order, "d@example.org")
    paypal.fake.declines_capture = True
    assert processor_tasks.settle_approved_checkout.call("paypal", order) == 0
    assert not Donation.objects.exists()


def test_an_order_captured_meanwhile_is_still_recorded(paypal, client):
    """Only PayPal's ORDER_ALREADY_CAPTURED 422 counts as paid: the order is read again."""
    order = one_time_order()
    paypal.fake.approve_order(order, "d@example.org")
    fake_answer = paypal.fake.answer

    def captured_first_by_another_process(method, path, body, headers):
        if path.endswith("/capture"):
            fake_answer(method, path, body, {})  # e.g. the CHECKOUT.ORDER.APPROVED task
            return fake_answer(method, path, body, {})  # 422 ORDER_ALREADY_CAPTURED
        return fake_answer(method, path, body, headers)

    paypal.fake.answer = captured_first_by_another_process
    response = client.get(f"/donate/thanks/?processor=paypal&token={order}&PayerID=X")
    assert "Thank you for your donation" in response.content.decode()
    assert Donation.objects.get().amount == Decimal("25")


# --- 3 and 5. PayPal keeps the donor's options; the thanks page settles only our checkouts ---


def test_a_paypal_gift_keeps_anonymity_tribute_and_covered_fee(paypal, client):
    details = GiftDetails(
        covered_fee=Decimal("0.59"),
        anonymous=True,
        tribute_kind="memory",
        tribute_name="Grandma",
        tribute_notify_email="kin@example.org",
    )
    session = services.start_checkout(
        campaign=None,
        amount=Decimal("10"),
        currency="USD",
        frequency="once",
        email="anon@example.org",
        name="Secret Person",
        site_url="http://testserver",
        details=details,
        provider_name="paypal",
    )
    paypal.fake.approve_order(session.reference, "anon@example.org")
    response = client.get(f"/donate/thanks/?processor=paypal&token={session.reference}&PayerID=X")
    assert "Thank you for your donation" in response.content.decode()
    donation = Donation.objects.get(provider="paypal")
    assert donation.amount == Decimal("10.59")
    assert donation.covered_fee == Decimal("0.59")
    assert donation.is_anonymous
    tribute = Tribute.objects.get()
    assert tribute.honoree_name == "Grandma"


def test_a_long_campaign_slug_survives_paypal(
    paypal, client, django_capture_on_commit_callbacks, make_campaign
):
    # Cut short in PayPal's 127-character custom_id; the stored checkout has all of it.
    campaign = make_campaign(slug="a-" + "very-long-" * 9 + "slug")
    session = services.start_checkout(
        campaign=campaign,
        amount=Decimal("12345.67"),
        currency="USD",
        frequency="monthly",
        email="l@example.org",
        name="L",
        site_url="http://testserver",
        provider_name="paypal",
    )
    _, deliveries = paypal.start_monthly(session.reference)
    deliver(client, django_capture_on_commit_callbacks, deliveries)
    assert RecurringDonation.objects.get(provider="paypal").campaign == campaign


def test_the_thanks_page_asks_paypal_only_about_orders_pressroom_opened(paypal, client):
    for token in ("UNKNOWN123", "5O190127TN364715T"):
        response = client.get(f"/donate/thanks/?processor=paypal&token={token}&PayerID=X")
        assert response.status_code == 200
        assert "Thank you for your donation" in response.content.decode()
    assert not paypal.fake.calls("GET", "/v2/checkout/orders")
    assert not paypal.fake.calls("POST", "/v1/oauth2/token")


def test_the_thanks_page_asks_about_one_order_at_most_once_a_minute(paypal, client):
    order = one_time_order()  # not approved yet: PayPal says so, nothing is captured
    for _ in range(5):
        client.get(f"/donate/thanks/?processor=paypal&token={order}&PayerID=X")
    assert len(paypal.fake.calls("GET", f"/v2/checkout/orders/{order}")) == 1


def test_thanks_page_lookups_do_not_count_toward_paypal_health(paypal, client, settings):
    orders = [one_time_order() for _ in range(settings.FUNDRAISING_PROCESSOR_FAILURES + 1)]
    paypal.set_down(True)
    for order in orders:
        response = client.get(f"/donate/thanks/?processor=paypal&token={order}&PayerID=X")
        assert response.status_code == 200
    assert not ProcessorHealth.objects.filter(consecutive_failures__gt=0).exists()
    assert not services.processor_is_down("paypal")
