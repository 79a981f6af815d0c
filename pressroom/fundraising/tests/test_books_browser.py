"""The treasurer's pages in real chromium: a donor's page with every gift and the merge choice
pass axe-core; so does the donor's portal with its statements."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from pressroom.fundraising import services
from pressroom.fundraising.models import Donor
from pressroom.fundraising.receipts import portal_token
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


def _gifts() -> Donor:
    for number, (amount, currency) in enumerate([("50", "USD"), ("12", "EUR"), ("25", "USD")]):
        donation = services.record_offline_donation(
            email="ana@example.org",
            name="Ana Quispe",
            amount=Decimal(amount),
            currency=currency,
            method="cheque",
            reference=f"10{number}",
            campaign=None,
            received_at=datetime(2025, 3 + number, 1, 12, tzinfo=UTC),
            send_receipt=False,
        )
    services.refund_donation(donation.pk, Decimal(5))
    Donor.objects.create(email="ana.q@example.org")
    return Donor.objects.get(email="ana@example.org")


def test_the_treasurer_reads_a_donors_gifts_and_chooses_whom_to_keep(
    transactional_db, live_server, fundraiser_client, browser_page
):
    donor = _gifts()
    other = Donor.objects.get(email="ana.q@example.org")
    page = browser_page
    session = fundraiser_client.cookies["sessionid"].value
    page.context.add_cookies([{"name": "sessionid", "value": session, "url": live_server.url}])
    page.goto(f"{live_server.url}/admin/fundraising/donor/{donor.pk}/change/")
    gifts = page.locator("#donations-group tbody tr.has_original")
    assert gifts.count() == 3
    assert "$70.00 (given $75.00, refunded $5.00)" in page.content()
    assert "$25.00 from ana@example.org" in gifts.first.inner_text()
    if os.environ.get("BOOKS_SCREENSHOT"):
        page.screenshot(path=os.environ["BOOKS_SCREENSHOT"], full_page=True)
    assert serious_violations(page, "#content-main") == []

    page.goto(f"{live_server.url}/admin/fundraising/donor/")
    for pk in (donor.pk, other.pk):
        page.locator(f'input[name="_selected_action"][value="{pk}"]').check()
    page.select_option('select[name="action"]', "merge_donors")
    page.locator('button[name="index"]').click()
    page.get_by_role("heading", name="Merge donors").wait_for()
    expect(page.get_by_role("radio", name="Ana Quispe <ana@example.org>")).to_be_visible()
    assert serious_violations(page, "#content-main") == []
    page.get_by_role("radio", name="Ana Quispe <ana@example.org>").check()
    page.get_by_role("button", name="Merge").click()
    # Waits for the list the merge leads back to, with its message (fails after 30 s).
    page.locator(".messagelist").get_by_text(
        "Merged ana.q@example.org into ana@example.org"
    ).wait_for()


def test_the_donors_portal_offers_each_years_statement(transactional_db, live_server, browser_page):
    donor = _gifts()
    page = browser_page
    page.goto(f"{live_server.url}/donate/portal/{portal_token(donor)}/")
    link = page.get_by_role("link", name="Giving statement 2025")
    expect(link).to_be_visible()
    assert serious_violations(page, "main") == []
    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename == "giving-statement-2025.txt"
