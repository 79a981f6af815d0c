"""PayPal-specific behaviour beyond the conformance suite: the return page captures, the
plan is made once per amount, verification goes through PayPal's API and every call through
the outbound helper."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command

from pressroom.fundraising.models import Donation, WebhookEvent
from pressroom.fundraising.providers.paypal.tests.harness import Harness
from pressroom.lib.outbound import user_agent

# The real worker runs the queued tasks in its own transactions (as in production).
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def paypal(settings, db):
    with Harness().running(settings) as harness:
        yield harness


@pytest.fixture
def paypal_campaign(make_campaign):
    return make_campaign(processor="paypal")


def donate(client, campaign, **fields) -> str:
    response = client.post(
        f"/donate/{campaign.slug}/",
        {"amount": "25", "email": "dana@example.org", "name": "Dana Donor", **fields},
    )
    assert response.status_code == 303, response.content[:300]
    return response["Location"]


def test_the_donors_return_captures_the_order_and_records_the_gift(
    client, paypal, paypal_campaign, django_capture_on_commit_callbacks
):
    donate(client, paypal_campaign)
    order = paypal.last_checkout()
    paypal.fake.approve_order(order, "dana@example.org", "Dana Donor")
    sent = paypal.fake.calls("POST", "/v2/checkout/orders")[0].body
    return_url = sent["payment_source"]["paypal"]["experience_context"]["return_url"]
    assert return_url.endswith("/donate/thanks/?processor=paypal")

    with django_capture_on_commit_callbacks(execute=True):
        thanks = client.get("/donate/thanks/", {"processor": "paypal", "token": order})
        again = client.get("/donate/thanks/", {"processor": "paypal", "token": order})

    assert thanks.status_code == again.status_code == 200
    donation = Donation.objects.get()
    assert donation.provider_reference == paypal.fake.capture_of(order)["id"]
    assert donation.provider_payment_reference == order
    assert (donation.amount, donation.donor.email, donation.donor.name) == (
        25,
        "dana@example.org",
        "Dana Donor",
    )
    captures = paypal.fake.calls("POST", f"/v2/checkout/orders/{order}/capture")
    assert len(captures) == 1  # the second return read the completed order instead
    assert captures[0].headers["PayPal-Request-Id"] == f"pressroom-capture-{order}"


def test_a_return_before_approval_records_nothing_and_thanks_the_donor(
    client, paypal, paypal_campaign
):
    donate(client, paypal_campaign)

    response = client.get(
        "/donate/thanks/", {"processor": "paypal", "token": paypal.last_checkout()}
    )

    assert response.status_code == 200
    assert not Donation.objects.exists()


def test_monthly_gifts_of_one_amount_share_one_product_and_plan(client, paypal, paypal_campaign):
    donate(client, paypal_campaign, frequency="monthly", amount="10")
    donate(client, paypal_campaign, frequency="monthly", amount="10")
    donate(client, paypal_campaign, frequency="monthly", amount="25")

    subscriptions = paypal.fake.calls("POST", "/v1/billing/subscriptions")
    plans = [request.body["plan_id"] for request in subscriptions]
    assert plans[0] == plans[1] != plans[2]
    plan = paypal.fake.calls("POST", "/v1/billing/plans")[0].body
    assert plan["billing_cycles"][0]["frequency"] == {"interval_unit": "MONTH", "interval_count": 1}
    assert plan["billing_cycles"][0]["pricing_scheme"]["fixed_price"] == {
        "value": "10.00",
        "currency_code": "USD",
    }
    assert subscriptions[0].body["subscriber"]["email_address"] == "dana@example.org"


def test_every_call_goes_through_the_outbound_helper_with_one_token(
    client, paypal, paypal_campaign
):
    donate(client, paypal_campaign)
    donate(client, paypal_campaign)

    requests = paypal.fake.requests
    assert {request.headers["User-Agent"] for request in requests} == {user_agent()}
    assert len(paypal.fake.calls("POST", "/v1/oauth2/token")) == 1  # the token is reused


def test_private_addresses_are_refused_unless_allowed(client, settings, paypal, paypal_campaign):
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = False

    response = client.post(
        f"/donate/{paypal_campaign.slug}/", {"amount": "25", "email": "dana@example.org"}
    )

    assert response.status_code == 503
    assert not paypal.fake.requests


def test_webhooks_are_verified_by_paypals_api_and_wait_while_it_is_unreachable(
    client, paypal, paypal_campaign
):
    donate(client, paypal_campaign)
    _, [(body, headers)] = paypal.complete_one_time(paypal.last_checkout(), email="d@example.org")
    paypal.set_down(True)

    waiting = client.post(
        "/fundraising/paypal/webhook/", data=body, content_type="application/json", headers=headers
    )
    assert waiting.status_code == 503  # PayPal delivers it again later
    assert not WebhookEvent.objects.exists()

    paypal.set_down(False)
    accepted = client.post(
        "/fundraising/paypal/webhook/", data=body, content_type="application/json", headers=headers
    )
    assert accepted.status_code == 200
    verification = paypal.fake.calls("POST", "/v1/notifications/verify-webhook-signature")[-1]
    assert verification.body["webhook_event"] == json.loads(body)
    assert verification.body["transmission_sig"] == headers["PAYPAL-TRANSMISSION-SIG"]
    assert verification.body["webhook_id"] == "8PT597110X687430LKGECATA"


def test_an_event_signed_for_another_webhook_is_refused(client, paypal):
    from pressroom.fundraising.providers.paypal.tests import fake_paypal

    event = fake_paypal.order_approved({"id": "5O190127TN364715T", "status": "APPROVED"})
    headers = fake_paypal.sign_event(event, webhook_id="ANOTHERWEBHOOK0000000000")

    response = client.post(
        "/fundraising/paypal/webhook/",
        data=json.dumps(event),
        content_type="application/json",
        headers=headers,
    )

    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()
    call_command("check")


@pytest.mark.parametrize(
    "amount",
    [{"currency_code": "USD", "value": "abc"}, {"currency_code": "USD", "value": "1e12"}, "25"],
)
def test_an_order_answer_that_cannot_be_a_payment_records_nothing_and_thanks_the_donor(
    client, paypal, paypal_campaign, amount
):
    donate(client, paypal_campaign)
    order = paypal.last_checkout()
    paypal.fake.approve_order(order, "dana@example.org")
    paypal.fake.orders[order]["purchase_units"][0]["amount"] = amount

    response = client.get("/donate/thanks/", {"processor": "paypal", "token": order})

    assert response.status_code == 200
    assert not Donation.objects.exists()
