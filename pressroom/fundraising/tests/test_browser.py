"""A reader in real chromium: hides the banner for one campaign, sees the next one; the banner
and the donate page pass axe-core."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from pressroom.fundraising import services
from tests.browser import browser_test, chromium_page, serious_violations

pytestmark = browser_test


@pytest.fixture
def browser_page(settings):
    # Static files straight from the apps: the live server does not serve hashed names.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.PAGE_CACHE_SECONDS = 0
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with chromium_page() as page:
        yield page


def test_reader_hides_the_banner_for_this_campaign_and_sees_the_next_one(
    transactional_db, live_server, make_campaign, browser_page
):
    campaign = make_campaign()
    page = browser_page
    page.goto(live_server.url + "/")
    banner = page.locator("#campaign-banner")
    expect(banner).to_be_visible()
    assert page.locator("progress#campaign-progress-bar").get_attribute("max") == "10000.00"
    assert serious_violations(page, "#campaign-banner") == []

    page.get_by_role("button", name="Hide this appeal").click()
    assert banner.is_hidden()
    page.reload()
    assert page.locator("#campaign-banner").is_hidden()
    page.goto(live_server.url + "/topics/")
    assert page.locator("#campaign-banner").is_hidden()

    # The next campaign is a new appeal: it shows again.
    campaign.is_active = False
    services.save_campaign(campaign)
    now = timezone.now()
    make_campaign(slug="spring", heading="Spring Appeal", starts_at=now - timedelta(minutes=1))
    from django.core.cache import cache

    cache.clear()  # as ten seconds later, when the cached campaign has expired
    page.goto(live_server.url + "/")
    expect(page.locator("#campaign-banner")).to_be_visible()
    assert page.locator("#campaign-banner-heading").inner_text() == "Spring Appeal"


def test_donate_page_passes_axe_and_works_by_keyboard(
    transactional_db, live_server, campaign, browser_page, settings
):
    settings.STRIPE_SECRET_KEY = "sk_test_pressroom"
    page = browser_page
    page.goto(live_server.url + "/donate/?amount=25&frequency=monthly")
    assert page.get_by_label("Monthly").is_checked()
    assert page.locator('input[name="amount"][value="25"]').is_checked()
    assert serious_violations(page) == []
    page.locator("#id_email").fill("not-an-address")
    page.get_by_role("button", name="Continue to secure payment").click()
    assert "Enter a valid email address" in page.content()
    assert serious_violations(page) == []


WAYS = {
    "postal_address": "Pressroom News\nPO Box 12\nSpringfield, IL 62701",
    "bank_transfer_details": "Pressroom News Collective\nIBAN DE89 3704 0044 0532 0130 00",
    "other_ways_to_give": "Through our fiscal sponsor, Open Commons.",
}


def test_a_reader_meets_no_dead_button_when_stripe_answers_500(
    transactional_db, live_server, campaign, fake_stripe, browser_page, settings
):
    from pressroom.site.models import SiteSettings

    SiteSettings.objects.create(
        id=1, name="Pressroom News", organisation_name="Pressroom News", **WAYS
    )
    settings.FUNDRAISING_PROCESSOR_FAILURES = 2
    fake_stripe.fail_with = 500
    page = browser_page
    for _ in range(2):
        page.goto(live_server.url + "/donate/?amount=25")
        page.locator("#id_email").fill("dana@example.org")
        page.get_by_role("button", name="Continue to secure payment").click()
        expect(page.locator("body")).to_contain_text("could not reach our payment processor")
        assert page.locator("#id_email").input_value() == "dana@example.org"
    page.goto(live_server.url + "/donate/")
    assert page.get_by_role("button", name="Continue to secure payment").count() == 0
    expect(page.get_by_text("IBAN DE89 3704 0044 0532 0130 00")).to_be_visible()
    assert "not answering right now" in page.content()
    assert serious_violations(page) == []


def test_giving_paused_the_banner_leads_to_the_ways_to_give(
    transactional_db, live_server, campaign, browser_page, settings
):
    from pressroom.site.models import SiteSettings

    settings.STRIPE_SECRET_KEY = "sk_test_pressroom"
    SiteSettings.objects.create(
        id=1,
        name="Pressroom News",
        organisation_name="Pressroom News",
        online_giving_paused=True,
        **WAYS,
    )
    page = browser_page
    page.goto(live_server.url + "/")
    banner = page.locator("#campaign-banner")
    assert banner.get_by_role("link", name="Donate").count() == 0
    banner.get_by_role("link", name="How to give").click()
    page.wait_for_url(f"**/donate/{campaign.slug}/")
    expect(page.get_by_text("Online giving is paused for now.")).to_be_visible()
    expect(page.locator(".ways-to-give").get_by_text("PO Box 12")).to_be_visible()
    assert page.get_by_role("button", name="Continue to secure payment").count() == 0
    assert serious_violations(page) == []
