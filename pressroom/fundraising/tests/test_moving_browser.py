"""A monthly donor in real chromium follows their move link: the confirm page (axe-clean) shows
their amount, and its one button opens the new processor's checkout (the fake PayPal)."""

from __future__ import annotations

import os
from decimal import Decimal

import pytest

from pressroom.fundraising import receipts
from pressroom.fundraising.models import Donor, RecurringDonation
from pressroom.fundraising.providers.paypal.tests.harness import Harness as PayPalHarness
from tests.browser import browser_test, chromium_page, serious_violations

pytestmark = browser_test


@pytest.fixture
def browser_page(settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.PAGE_CACHE_SECONDS = 0
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with chromium_page() as page:
        yield page


def test_the_move_link_confirms_the_amount_and_opens_the_new_checkout(
    transactional_db, live_server, settings, browser_page
):
    with PayPalHarness().running(settings) as paypal:
        settings.SITE_URL = live_server.url
        donor = Donor.objects.create(email="dana@example.org", name="Dana Donor")
        old = RecurringDonation.objects.create(
            donor=donor,
            amount=Decimal("12.50"),
            currency="USD",
            provider="stripe",
            provider_reference="sub_dana",
        )
        page = browser_page
        # The hosted checkout is PayPal's site: answered here, as the network stays local.
        page.route(
            "https://www.sandbox.paypal.com/**",
            lambda route: route.fulfill(status=200, body="<title>PayPal</title>PayPal checkout"),
        )

        page.goto(live_server.url + f"/donate/move/{receipts.move_token(old, 'paypal')}/")
        assert (
            page.get_by_role("heading", level=1).inner_text() == "Move your monthly gift to PayPal"
        )
        assert "$12.50" in page.locator("main").inner_text()
        assert serious_violations(page) == []
        page.get_by_role("button", name="Continue to PayPal").click()
        page.wait_for_url("https://www.sandbox.paypal.com/**")

        [created] = paypal.fake.calls("POST", "/v1/billing/subscriptions")
        assert created.body["subscriber"]["email_address"] == "dana@example.org"
        old.refresh_from_db()
        assert old.is_active  # until the new gift is running
