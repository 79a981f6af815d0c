"""Giving paused on purpose (issue #19, point 1): one switch in the admin, site-wide or per
campaign; the banner, donate pages, digest block and receipts then give the outlet's own ways to
give (site settings edited in the admin) and nothing links to a checkout."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.template import Context, Template
from django.utils import timezone

from pressroom.fundraising import services
from pressroom.fundraising.models import Campaign
from pressroom.site.tests.test_site_settings_admin import form_data

pytestmark = pytest.mark.django_db(transaction=True)

SETTINGS_URL = "/admin/site/sitesettings/1/change/"
WAYS = {
    "postal_address": "Pressroom News\nPO Box 12\nSpringfield, IL 62701",
    "bank_transfer_details": "Pressroom News Collective\nIBAN DE89 3704 0044 0532 0130 00",
    "other_ways_to_give": "Through our fiscal sponsor, Open Commons: opencommons.example/give",
}
GIFT = {"amount": "25", "email": "dana@example.org", "name": "Dana"}


def banner_of(page: str) -> str:
    match = re.search(r'<section class="campaign-banner".*?</section>', page, re.S)
    assert match, "the banner is on the page"
    return match.group(0)


def digest_blocks() -> tuple[str, str]:
    html = Template('{% load fundraising %}{% campaign_email_block "html" %}').render(Context({}))
    text = Template('{% load fundraising %}{% campaign_email_block "text" %}').render(Context({}))
    return html, text


def assert_gives_the_ways(page: str) -> None:
    assert "IBAN DE89 3704 0044 0532 0130 00" in page
    assert "PO Box 12" in page
    assert "opencommons.example/give" in page
    assert 'class="donate-form"' not in page
    assert "Continue to secure payment" not in page


def pause_site(fundraiser_client, on: bool) -> None:
    data = form_data(**WAYS)
    if on:
        data["online_giving_paused"] = "on"
    response = fundraiser_client.post(SETTINGS_URL, data)
    assert response.status_code == 302, response.content.decode()[:2000]


def test_one_switch_pauses_online_giving_on_every_page_and_email(
    fundraiser_client, client, campaign, fake_stripe, smtp_server
):
    pause_site(fundraiser_client, on=True)

    banner = banner_of(client.get("/").content.decode())
    assert f'<a class="button" href="/donate/{campaign.slug}/">How to give</a>' in banner
    assert ">Donate<" not in banner

    for path in ("/donate/", f"/donate/{campaign.slug}/"):
        response = client.get(path)
        assert response.status_code == 200
        page = response.content.decode()
        assert "Online giving is paused for now." in page
        assert_gives_the_ways(page)
    # A partner site's form that posts anyway is told the same, and nothing reaches Stripe.
    response = client.post("/donate/", GIFT)
    assert response.status_code == 503
    assert_gives_the_ways(response.content.decode())
    assert fake_stripe.calls("POST", "/v1/checkout/sessions") == []

    html, text = digest_blocks()
    for block in (html, text):
        assert "Online giving is paused for now" in block
        assert "IBAN DE89 3704 0044 0532 0130 00" in block
        assert "PO Box 12" in block
    assert "Donate:" not in text
    assert ">Donate<" not in html

    services.record_offline_donation(
        email="maria@example.org",
        name="María",
        amount=Decimal(50),
        currency="USD",
        method="cheque",
        reference="1001",
        campaign=campaign,
    )
    call_command("worker", batch=True, verbosity=0)
    [receipt] = smtp_server.to("maria@example.org")
    for part in ("plain", "html"):
        body = receipt.get_body(preferencelist=(part,)).get_content()
        assert "Online giving is paused for now" in body
        assert "IBAN DE89 3704 0044 0532 0130 00" in body

    # The same switch turns it back on.
    pause_site(fundraiser_client, on=False)
    banner = banner_of(client.get("/").content.decode())
    assert f'<a class="button" href="/donate/{campaign.slug}/">Donate</a>' in banner
    assert "Continue to secure payment" in client.get("/donate/").content.decode()
    assert client.post("/donate/", GIFT).status_code == 303


def test_one_campaign_paused_alone(fundraiser_client, client, campaign, make_campaign, fake_stripe):
    other = make_campaign(slug="spring", starts_at=timezone.now() - timedelta(days=30))
    pause_site(fundraiser_client, on=False)  # the ways to give are set, the site is not paused
    now = timezone.now()
    response = fundraiser_client.post(
        f"/admin/fundraising/campaign/{campaign.pk}/change/",
        {
            "title": campaign.title,
            "slug": campaign.slug,
            "heading": campaign.heading,
            "message": campaign.message,
            "goal_amount": "10000",
            "currency": "USD",
            "preset_amounts": "10, 25, 50, 100",
            "starts_at_0": (now - timedelta(days=3)).strftime("%Y-%m-%d"),
            "starts_at_1": "00:00:00",
            "ends_at_0": (now + timedelta(days=10)).strftime("%Y-%m-%d"),
            "ends_at_1": "00:00:00",
            "is_active": "on",
            "online_giving_paused": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Campaign.objects.get(pk=campaign.pk).online_giving_paused

    assert "How to give</a>" in banner_of(client.get("/").content.decode())
    page = client.get(f"/donate/{campaign.slug}/").content.decode()
    assert "Online giving is paused for now." in page
    assert_gives_the_ways(page)
    assert client.post(f"/donate/{campaign.slug}/", GIFT).status_code == 503
    # Giving to another campaign goes on.
    assert "Continue to secure payment" in client.get(f"/donate/{other.slug}/").content.decode()
    assert client.post(f"/donate/{other.slug}/", GIFT).status_code == 303
    assert len(fake_stripe.calls("POST", "/v1/checkout/sessions")) == 1


def test_without_a_processor_the_donate_page_gives_the_outlets_ways(
    fundraiser_client, client, campaign, settings
):
    pause_site(fundraiser_client, on=False)
    settings.STRIPE_SECRET_KEY = ""
    page = client.get("/donate/").content.decode()
    assert "Online giving is not configured" in page
    assert_gives_the_ways(page)
