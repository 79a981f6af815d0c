"""A processor that stops answering (issue #19, point 1, its second half): after
FUNDRAISING_PROCESSOR_FAILURES failed calls in a row the donate page offers no checkout that could
only fail, staff are emailed once per outage (real worker, real SMTP), and readers never see a
500. Tested with the fake Stripe answering 500 and with nothing listening at all."""

from __future__ import annotations

import socket
from datetime import timedelta

import pytest
from django.core.management import call_command

from pressroom.fundraising.models import ProcessorHealth
from pressroom.fundraising.services import PROCESSOR_REST
from pressroom.fundraising.tests.conftest import PORTS
from pressroom.site.models import SiteSettings

pytestmark = pytest.mark.django_db(transaction=True)

STAFF = "treasurer@example.org"
GIFT = {"amount": "25", "email": "dana@example.org", "name": "Dana"}
RESTING = "Our payment processor is not answering right now"


def run_worker() -> None:
    call_command("worker", batch=True, verbosity=0)


@pytest.fixture
def outlet(db, settings):
    settings.FUNDRAISING_STAFF_EMAILS = [STAFF]
    settings.FUNDRAISING_PROCESSOR_FAILURES = 3
    SiteSettings.objects.create(id=1, name="Pressroom News", organisation_name="Pressroom News")


def rest_is_over() -> None:
    """Five minutes pass (the donate page then tries the processor again)."""
    ProcessorHealth.objects.update(
        last_failure_at=ProcessorHealth.objects.get().last_failure_at
        - PROCESSOR_REST
        - timedelta(seconds=1)
    )


def assert_offers_no_checkout(page: str) -> None:
    assert RESTING in page
    assert "Continue to secure payment" not in page
    assert 'class="donate-form"' not in page


def test_a_processor_answering_500_is_rested_and_staff_are_emailed_once(
    client, campaign, fake_stripe, smtp_server, outlet
):
    fake_stripe.fail_with = 500
    for _ in range(3):
        response = client.post("/donate/", GIFT)
        assert response.status_code == 503
        page = response.content.decode()
        assert "could not reach our payment processor" in page
        assert 'value="dana@example.org"' in page  # nothing the reader typed is lost
    calls = len(fake_stripe.calls("POST", "/v1/checkout/sessions"))

    # Now the page offers no button that could only fail, and a post does not try.
    page = client.get("/donate/")
    assert page.status_code == 200
    assert_offers_no_checkout(page.content.decode())
    campaign_page = client.get(f"/donate/{campaign.slug}/")
    assert_offers_no_checkout(campaign_page.content.decode())
    response = client.post("/donate/", GIFT)
    assert response.status_code == 503
    assert_offers_no_checkout(response.content.decode())
    assert len(fake_stripe.calls("POST", "/v1/checkout/sessions")) == calls

    run_worker()
    [alert] = smtp_server.to(STAFF)
    assert alert["Subject"] == "Stripe is not answering: online giving on Pressroom News is paused"
    text = alert.get_body(preferencelist=("plain",)).get_content()
    assert "The last 3 calls to Stripe failed" in text
    assert "The fake Stripe is down." in text

    # After the rest the page tries again; still down: counted, but staff are not emailed again.
    rest_is_over()
    assert "Continue to secure payment" in client.get("/donate/").content.decode()
    assert client.post("/donate/", GIFT).status_code == 503
    assert ProcessorHealth.objects.get().consecutive_failures == 4
    run_worker()
    assert len(smtp_server.to(STAFF)) == 1

    # The processor is back: the first checkout that works ends the outage.
    fake_stripe.fail_with = None
    rest_is_over()
    assert client.post("/donate/", GIFT).status_code == 303
    health = ProcessorHealth.objects.get()
    assert health.consecutive_failures == 0
    assert health.staff_alerted_at is None
    assert "Continue to secure payment" in client.get("/donate/").content.decode()

    # A later outage is a new one: staff hear of it again.
    fake_stripe.fail_with = 500
    for _ in range(3):
        assert client.post("/donate/", GIFT).status_code == 503
    run_worker()
    assert len(smtp_server.to(STAFF)) == 2


def test_a_processor_that_refuses_connections_is_rested_without_an_error_page(
    client, campaign, fake_stripe, smtp_server, outlet, settings
):
    with socket.socket() as probe:  # a loopback port where nothing listens
        for port in reversed(PORTS):
            try:
                probe.bind(("127.0.0.1", port))
                break
            except OSError:
                continue
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{port}"
    for _ in range(3):
        response = client.post("/donate/", GIFT)
        assert response.status_code == 503
        assert "could not reach our payment processor" in response.content.decode()
    assert_offers_no_checkout(client.get("/donate/").content.decode())
    run_worker()
    [alert] = smtp_server.to(STAFF)
    assert "Stripe is not answering" in alert["Subject"]


def test_failures_that_are_not_in_a_row_do_not_rest_the_processor(
    client, campaign, fake_stripe, smtp_server, outlet
):
    for _ in range(3):
        fake_stripe.fail_with = 500
        assert client.post("/donate/", GIFT).status_code == 503
        assert client.post("/donate/", GIFT).status_code == 503
        fake_stripe.fail_with = None
        assert client.post("/donate/", GIFT).status_code == 303
    assert "Continue to secure payment" in client.get("/donate/").content.decode()
    run_worker()
    assert smtp_server.to(STAFF) == []


def test_a_refused_request_is_the_readers_problem_and_never_rests_the_processor(
    client, campaign, fake_stripe, smtp_server, outlet
):
    """Stripe answers 400 to an amount over its limit: a reader sending a few of those must
    not pause giving for everyone (nor email staff about an outage)."""
    fake_stripe.fail_with = 400
    for _ in range(5):
        response = client.post("/donate/", {**GIFT, "amount": "5000000"})
        assert response.status_code == 400
        assert "did not accept this gift" in response.content.decode()
    assert not ProcessorHealth.objects.filter(consecutive_failures__gt=0).exists()
    fake_stripe.fail_with = None
    page = client.get("/donate/").content.decode()
    assert RESTING not in page
    assert 'class="donate-form"' in page
    run_worker()
    assert smtp_server.to(STAFF) == []
