"""Fundraising staff record offline gifts, run campaigns and read fundraising reports in the admin."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from pressroom.fundraising import services
from pressroom.fundraising.models import Campaign, Donation


def test_fundraiser_records_a_cheque_that_counts_toward_the_campaign(fundraiser_client, campaign):
    response = fundraiser_client.post(
        "/admin/fundraising/donation/add/",
        {
            "email": "Maria@Example.org",
            "name": "María Quispe",
            "amount_text": "250.50",
            "currency": "",
            "campaign": campaign.pk,
            "provider": "cheque",
            "provider_reference": "cheque-00412",
            "received_at_0": "2026-11-20",
            "received_at_1": "10:00:00",
            "note": "Posted from Cusco.",
            "send_receipt": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    donation = Donation.objects.get()
    assert donation.amount == Decimal("250.50")
    assert donation.currency == "USD"
    assert donation.provider == "cheque"
    assert donation.donor.email == "maria@example.org"
    assert campaign.totals().raised == Decimal("250.50")
    assert campaign.totals().donor_count == 1


def test_bad_offline_amount_re_renders_with_a_message(fundraiser_client, campaign):
    response = fundraiser_client.post(
        "/admin/fundraising/donation/add/",
        {
            "email": "maria@example.org",
            "amount_text": "12.345",
            "campaign": campaign.pk,
            "provider": "bank_transfer",
            "provider_reference": "tx-1",
            "received_at_0": "2026-11-20",
            "received_at_1": "10:00:00",
        },
    )
    assert response.status_code == 200
    assert "at most 2 decimals" in response.content.decode()
    assert Donation.objects.count() == 0


def test_the_same_cheque_of_one_donor_cannot_be_entered_twice(fundraiser_client, campaign):
    data = {
        "email": "maria@example.org",
        "amount_text": "20",
        "campaign": campaign.pk,
        "provider": "cheque",
        "provider_reference": "cheque-7",
        "received_at_0": "2026-11-20",
        "received_at_1": "10:00:00",
    }
    assert fundraiser_client.post("/admin/fundraising/donation/add/", data).status_code == 302
    response = fundraiser_client.post("/admin/fundraising/donation/add/", data)
    assert response.status_code == 200
    assert "already has a gift by this method with this reference" in response.content.decode()
    assert Donation.objects.count() == 1


def test_offline_refund_action_takes_the_gift_out_of_the_total(fundraiser_client, campaign):
    donation = services.record_offline_donation(
        email="maria@example.org",
        name="",
        amount=Decimal(40),
        currency="USD",
        method="cheque",
        reference="cheque-9",
        campaign=campaign,
        send_receipt=False,
    )
    response = fundraiser_client.post(
        "/admin/fundraising/donation/",
        {"action": "mark_refunded", "_selected_action": [donation.pk]},
    )
    assert response.status_code == 302
    donation.refresh_from_db()
    assert donation.status == Donation.Status.REFUNDED
    assert campaign.totals().raised == 0


def test_fundraiser_creates_a_campaign_and_it_fills_the_banner(fundraiser_client, client, db):
    now = timezone.now()
    response = fundraiser_client.post(
        "/admin/fundraising/campaign/add/",
        {
            "title": "Spring appeal",
            "slug": "spring",
            "heading": "Keep the newsroom open",
            "message": "Online donations are back!",
            "goal_amount": "5000",
            "currency": "eur",
            "preset_amounts": "5, 10, 20",
            "starts_at_0": (now - timedelta(days=1)).strftime("%Y-%m-%d"),
            "starts_at_1": "00:00:00",
            "ends_at_0": (now + timedelta(days=20)).strftime("%Y-%m-%d"),
            "ends_at_1": "00:00:00",
            "is_active": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Campaign.objects.get().currency == "EUR"
    page = client.get("/").content.decode()
    assert "Keep the newsroom open" in page
    assert "Raised €0 of €5,000" in page


def test_campaign_that_ends_before_it_starts_is_refused(fundraiser_client, db):
    response = fundraiser_client.post(
        "/admin/fundraising/campaign/add/",
        {
            "title": "Backwards",
            "slug": "backwards",
            "heading": "x",
            "message": "x",
            "goal_amount": "100",
            "currency": "USD",
            "preset_amounts": "10",
            "starts_at_0": "2026-12-01",
            "starts_at_1": "00:00:00",
            "ends_at_0": "2026-11-01",
            "ends_at_1": "00:00:00",
        },
    )
    assert response.status_code == 200
    assert "must end after it starts" in response.content.decode()


def _gifts(campaign):
    now = timezone.now()
    services.record_offline_donation(
        email="a@example.org",
        name="Ana",
        amount=Decimal(100),
        currency="USD",
        method="cheque",
        reference="c-1",
        campaign=campaign,
        received_at=now - timedelta(days=2),
        send_receipt=False,
    )
    services.record_offline_donation(
        email="b@example.org",
        name='=HYPERLINK("http://evil")',
        amount=Decimal("50.25"),
        currency="USD",
        method="bank_transfer",
        reference="t-1",
        campaign=campaign,
        received_at=now - timedelta(days=1),
        send_receipt=False,
    )


def test_reports_show_totals_per_campaign_and_month_and_a_chart_against_the_goal(
    fundraiser_client, campaign
):
    _gifts(campaign)
    response = fundraiser_client.get("/admin/fundraising/campaign/reports/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "End Of Year Fundraising Campaign" in page
    assert "$150.25" in page
    assert "$10,000" in page
    assert "2 donors have given" in page
    # Each month with a gift has its row, named in the site's zone (the gifts are one and two
    # days old, so near a month's start they fall in the previous one).
    for days in (1, 2):
        month = timezone.localtime(timezone.now() - timedelta(days=days)).strftime("%B %Y")
        assert month in page
    assert "<svg" in page
    assert 'class="goal"' in page

    svg = fundraiser_client.get(f"/admin/fundraising/campaign/reports/{campaign.pk}/chart.svg")
    assert svg["Content-Type"] == "image/svg+xml"
    body = svg.content.decode()
    assert body.count('class="day"') >= 3
    assert "Goal $10,000" in body
    assert "$150.25 raised of a $10,000 goal" in body


def test_csv_export_lists_every_donation_safely(fundraiser_client, campaign):
    _gifts(campaign)
    response = fundraiser_client.get("/admin/fundraising/campaign/reports/export.csv")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row["amount"] for row in rows] == ["100.00", "50.25"]
    assert {row["method"] for row in rows} == {"Cheque", "Bank transfer"}
    assert rows[0]["campaign"] == "end-of-year"
    # A name that a spreadsheet would run as a formula is defused.
    assert rows[1]["donor_name"].startswith("'=")


def test_reports_are_for_staff_only(client, campaign):
    response = client.get("/admin/fundraising/campaign/reports/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_staff_who_may_only_view_gifts_cannot_refund_reconcile_or_resend(
    client, django_user_model, campaign
):
    from django.contrib.auth.models import Permission

    auditor = django_user_model.objects.create_user("auditor", "a@example.org", "pw", is_staff=True)
    auditor.user_permissions.add(Permission.objects.get(codename="view_donation"))
    gift = services.record_offline_donation(
        email="m@example.org",
        name="M",
        amount=Decimal(50),
        currency="USD",
        method="cheque",
        reference="1001",
        campaign=campaign,
        send_receipt=False,
    )
    client.force_login(auditor)
    listing = client.get("/admin/fundraising/donation/")
    assert listing.status_code == 200
    for action in ("mark_reconciled", "mark_refunded", "resend_receipts"):
        assert f'value="{action}"' not in listing.content.decode()
        client.post(
            "/admin/fundraising/donation/", {"action": action, "_selected_action": [gift.pk]}
        )
    gift.refresh_from_db()
    assert gift.reconciled_at is None
    assert gift.status == Donation.Status.PAID


def test_staff_who_may_only_view_monthly_gifts_cannot_cancel_them_at_the_processor(
    client, django_user_model, fake_stripe
):
    from django.contrib.auth.models import Permission

    from pressroom.fundraising.models import Donor, RecurringDonation

    auditor = django_user_model.objects.create_user("auditor", "b@example.org", "pw", is_staff=True)
    auditor.user_permissions.add(Permission.objects.get(codename="view_recurringdonation"))
    monthly = RecurringDonation.objects.create(
        donor=Donor.objects.create(email="d@example.org"),
        amount=10,
        currency="USD",
        provider="stripe",
        provider_reference="sub_abc",
    )
    client.force_login(auditor)
    client.post(
        "/admin/fundraising/recurringdonation/",
        {"action": "cancel_selected", "_selected_action": [monthly.pk]},
    )
    monthly.refresh_from_db()
    assert monthly.status == RecurringDonation.Status.ACTIVE
    assert fake_stripe.calls("DELETE", "/v1/subscriptions/sub_abc") == []
