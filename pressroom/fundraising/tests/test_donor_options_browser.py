"""The donate form's options in real chromium on a 390 px phone: choosing "Monthly" swaps in the
campaign's monthly amounts at once (donate.js), the "cover the fees" line follows the chosen
amount, nothing overflows the screen, and axe-core finds nothing serious."""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import expect

from tests.browser import browser_test, chromium_page, serious_violations

pytestmark = browser_test

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def phone_page(settings):
    # Static files straight from the apps: the live server does not serve hashed names.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.PAGE_CACHE_SECONDS = 0
    settings.STRIPE_SECRET_KEY = "sk_test_pressroom"
    settings.FUNDRAISING_FEE_PERCENT = 2.9
    settings.FUNDRAISING_FEE_FIXED_CENTS = 30
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with chromium_page() as page:
        page.set_viewport_size(PHONE)
        yield page


def test_monthly_amounts_and_the_fee_follow_the_donors_choices_on_a_phone(
    transactional_db, live_server, make_campaign, phone_page
):
    make_campaign(preset_amounts="25, 50, 100, 250", monthly_preset_amounts="5, 10, 20, 35")
    page = phone_page
    page.goto(live_server.url + "/donate/end-of-year/")
    # The script hides the server's "Show amounts" button: it swaps amounts itself.
    assert page.locator("button.show-amounts").is_hidden()
    assert page.locator('input[name="amount"][value="50"]').is_checked()
    assert page.locator("#fee-amount").inner_text() == "$1.81"
    assert serious_violations(page) == []

    page.get_by_label("Monthly").check()
    amounts = page.locator('#id_amount input[name="amount"]')
    values = [amounts.nth(index).get_attribute("value") for index in range(amounts.count())]
    assert values == ["5", "10", "20", "35", "other"]
    assert page.locator('input[name="amount"][value="10"]').is_checked()
    assert page.locator("#fee-amount").inner_text() == "$0.61"
    page.locator('input[name="amount"][value="35"]').check()
    assert page.locator("#fee-amount").inner_text() == "$1.36"
    page.get_by_label("Add").check()
    page.get_by_label("Dedicate this gift").select_option("memory")
    page.get_by_label("Their name").fill("Rosa Ortiz")
    # Nothing wider than the phone's screen.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"]
    assert serious_violations(page) == []


def test_without_the_script_the_server_shows_the_monthly_amounts(
    transactional_db, live_server, make_campaign, settings
):
    make_campaign(preset_amounts="25, 50, 100, 250", monthly_preset_amounts="5, 10, 20, 35")
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.STRIPE_SECRET_KEY = "sk_test_pressroom"
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    from tests.browser import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(java_script_enabled=False, viewport=PHONE).new_page()
            page.goto(live_server.url + "/donate/end-of-year/")
            page.get_by_label("Monthly").check()
            page.get_by_role("button", name="Show amounts for this frequency").click()
            amounts = page.locator('#id_amount input[name="amount"]')
            values = [amounts.nth(i).get_attribute("value") for i in range(amounts.count())]
            assert values == ["5", "10", "20", "35", "other"]
            assert page.get_by_label("Monthly").is_checked()
        finally:
            browser.close()


def test_portal_offers_change_and_stop_on_a_phone_axe_clean(
    transactional_db, live_server, campaign, phone_page
):
    from decimal import Decimal

    from pressroom.fundraising.models import Donor, RecurringDonation
    from pressroom.fundraising.receipts import portal_token

    donor = Donor.objects.create(email="dana@example.org", name="Dana Donor")
    RecurringDonation.objects.create(
        donor=donor,
        campaign=campaign,
        amount=Decimal("10.00"),
        currency="USD",
        provider="stripe",
        provider_reference="sub_phone",
    )
    RecurringDonation.objects.create(
        donor=donor,
        amount=Decimal("100.00"),
        currency="USD",
        frequency="annual",
        provider="stripe",
        provider_reference="sub_stopping",
        status=RecurringDonation.Status.STOP_REQUESTED,
    )
    token = portal_token(donor)
    page = phone_page
    page.goto(f"{live_server.url}/donate/portal/{token}/")
    expect(page.get_by_role("button", name="Change the amount")).to_be_visible()
    expect(page.get_by_role("button", name="Cancel this monthly donation")).to_be_visible()
    assert "we are still telling our payment processor" in page.content()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert serious_violations(page) == []
