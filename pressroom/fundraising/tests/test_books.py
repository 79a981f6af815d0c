"""The treasurer's books add up: offline gifts, refunds booked when they happen, donors by
address whatever its case, per-currency totals, exports a spreadsheet reads right."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.db import IntegrityError, transaction
from django.utils import timezone

from pressroom.fundraising import reports, services
from pressroom.fundraising.models import (
    Donation,
    DonationRefund,
    DonationStateError,
    Donor,
    RecurringDonation,
)
from pressroom.fundraising.money import format_amount, format_percent
from pressroom.fundraising.tests.conftest import charge_refunded, checkout_completed, event, new_id

ADD = "/admin/fundraising/donation/add/"


def _cheque(email: str, reference: str, amount: str = "20", **extra) -> dict:
    return {
        "email": email,
        "amount_text": amount,
        "provider": "cheque",
        "provider_reference": reference,
        "received_at_0": "2026-11-20",
        "received_at_1": "10:00:00",
        **extra,
    }


def _offline(email="maria@example.org", amount="40", method="cheque", reference="c-1", **extra):
    values = {
        "email": email,
        "name": "",
        "amount": Decimal(amount),
        "currency": "USD",
        "method": method,
        "reference": reference,
        "campaign": None,
        "send_receipt": False,
        **extra,
    }
    return services.record_offline_donation(**values)


# --- Offline gifts -----------------------------------------------------------------------------


def test_a_second_donors_cheque_with_the_same_number_is_accepted(fundraiser_client, campaign):
    first = fundraiser_client.post(ADD, _cheque("maria@example.org", "1001", campaign=campaign.pk))
    second = fundraiser_client.post(ADD, _cheque("jose@example.org", "1001", campaign=campaign.pk))
    assert first.status_code == second.status_code == 302
    assert Donation.objects.filter(provider_reference="1001").count() == 2
    assert campaign.totals().raised == Decimal(40)


def test_cash_needs_no_reference_and_two_cash_gifts_of_one_donor_both_count(
    fundraiser_client, campaign
):
    for _ in range(2):
        response = fundraiser_client.post(
            ADD,
            {**_cheque("maria@example.org", "", campaign=campaign.pk), "provider": "cash"},
        )
        assert response.status_code == 302, response.content.decode()[:2000]
    assert Donation.objects.filter(provider="cash", provider_reference="").count() == 2
    assert campaign.totals().raised == Decimal(40)


def test_the_database_keeps_one_live_cheque_per_donor_and_number(db):
    donation = _offline(reference="1001")
    duplicate = Donation(
        donor=donation.donor,
        amount=Decimal(5),
        currency="USD",
        provider="cheque",
        provider_reference="1001",
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        duplicate.save()
    with pytest.raises(DonationStateError, match="already has a gift by Cheque"):
        _offline(reference="1001")


def test_a_bounced_cheque_marked_refunded_can_be_entered_again(db):
    bounced = _offline(reference="1001")
    services.refund_donation(bounced.pk, bounced.amount)
    again = _offline(reference="1001")
    assert again.pk != bounced.pk
    assert Donation.objects.counted().get() == again


def test_processor_payments_stay_unique_across_donors(db):
    Donation.objects.create(
        donor=Donor.objects.create(email="a@example.org"),
        amount=Decimal(5),
        currency="USD",
        provider="stripe",
        provider_reference="pi_1",
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Donation.objects.create(
            donor=Donor.objects.create(email="b@example.org"),
            amount=Decimal(5),
            currency="USD",
            provider="stripe",
            provider_reference="pi_1",
        )


def test_a_mistyped_cheque_is_corrected_in_the_admin_until_it_is_reconciled(
    fundraiser_client, campaign
):
    donation = _offline(amount="400", reference="1010")
    url = f"/admin/fundraising/donation/{donation.pk}/change/"
    form = {
        "amount_text": "40.00",
        "currency": "USD",
        "campaign": campaign.pk,
        "provider": "cheque",
        "provider_reference": "1001",
        "received_at_0": "2026-11-20",
        "received_at_1": "10:00:00",
        "note": "Corrected: the cheque says 40.",
    }
    response = fundraiser_client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:3000]
    donation.refresh_from_db()
    assert (donation.amount, donation.provider_reference) == (Decimal(40), "1001")
    assert donation.campaign == campaign
    assert campaign.totals().raised == Decimal(40)

    fundraiser_client.post(
        "/admin/fundraising/donation/",
        {"action": "mark_reconciled", "_selected_action": [donation.pk]},
    )
    donation.refresh_from_db()
    assert donation.reconciled_at is not None

    page = fundraiser_client.get(url).content.decode()
    assert "can no longer be edited" in page
    fundraiser_client.post(url, {**form, "amount_text": "4000"})
    donation.refresh_from_db()
    assert donation.amount == Decimal(40)  # the reconciled figure stands
    with pytest.raises(DonationStateError, match=r"reconciled on .* can no longer be edited"):
        services.update_offline_donation(donation.pk, amount=Decimal(4000))


def test_an_online_payment_is_never_edited_by_hand(db):
    donation = Donation.objects.create(
        donor=Donor.objects.create(email="a@example.org"),
        amount=Decimal(5),
        currency="USD",
        provider="stripe",
        provider_reference="pi_1",
    )
    with pytest.raises(DonationStateError, match="processor's events"):
        services.update_offline_donation(donation.pk, amount=Decimal(50))


def test_a_gift_with_refunds_keeps_its_amount_and_currency(db):
    """Refunds are booked against them (and in their months): a $50 cheque with $20 refunded
    corrected to $20 would count a $0 gift; corrected upward when fully refunded, its net would
    vanish from every total."""
    gift = _offline(amount="50", reference="1001")
    services.refund_donation(gift.pk, Decimal(20))
    for change in ({"amount": Decimal(20)}, {"amount": Decimal(80)}, {"currency": "EUR"}):
        with pytest.raises(DonationStateError, match="refunds booked"):
            services.update_offline_donation(gift.pk, **change)
    gift.refresh_from_db()
    assert (gift.amount, gift.currency, gift.refunded_amount) == (Decimal(50), "USD", Decimal(20))
    # What the refunds do not depend on can still be corrected.
    services.update_offline_donation(gift.pk, provider_reference="1001-b")


def test_a_correction_cannot_take_a_number_the_donor_already_used(db):
    _offline(reference="1001")
    other = _offline(reference="1002")
    with pytest.raises(DonationStateError, match="already has another gift"):
        services.update_offline_donation(other.pk, provider_reference="1001")
    other.refresh_from_db()
    assert other.provider_reference == "1002"


# --- Refunds booked when they happen --------------------------------------------------------------


def _month_row(rows: list[dict], year: int, month: int, currency: str = "USD") -> dict:
    return next(
        row
        for row in rows
        if (row["month"].year, row["month"].month, row["currency"]) == (year, month, currency)
    )


def test_a_refund_is_booked_in_its_own_month_and_a_closed_month_never_changes(db, settings):
    settings.TIME_ZONE = "UTC"
    january = datetime(2026, 1, 15, 12, tzinfo=UTC)
    gift = _offline(amount="100", received_at=january)
    _offline(email="jose@example.org", amount="50", reference="c-2", received_at=january)
    closed = _month_row(reports.monthly_totals(), 2026, 1)
    assert (closed["gross"], closed["refunded"], closed["net"]) == (150, 0, 150)

    services.refund_donation(gift.pk, Decimal(30), at=datetime(2026, 3, 3, 9, tzinfo=UTC))
    services.refund_donation(gift.pk, Decimal(100), at=datetime(2026, 4, 1, 9, tzinfo=UTC))
    rows = reports.monthly_totals()
    assert _month_row(rows, 2026, 1) == closed
    march, april = _month_row(rows, 2026, 3), _month_row(rows, 2026, 4)
    assert (march["donations"], march["refunded"], march["net"]) == (0, 30, -30)
    assert (april["refunded"], april["refunded_display"]) == (70, "$70.00")
    gift.refresh_from_db()
    assert gift.refunded_at == datetime(2026, 4, 1, 9, tzinfo=UTC)
    assert list(gift.refunds.values_list("amount", flat=True)) == [30, 70]


def test_a_stripe_refund_is_dated_when_it_happened_however_late_it_arrives(
    campaign, post_event, stripe_keys
):
    payment_intent = new_id("pi")
    post_event(
        event(
            "checkout.session.completed",
            checkout_completed(amount_total=5000, payment_intent=payment_intent),
        )
    )
    refunded = event(
        "charge.refunded",
        charge_refunded(payment_intent=payment_intent, amount=5000, amount_refunded=2000),
    )
    two_days_ago = int(timezone.now().timestamp()) - 2 * 86400
    refunded["created"] = two_days_ago
    post_event(refunded)
    post_event(refunded)  # a replay books nothing more
    donation = Donation.objects.get()
    assert donation.refunded_at == datetime.fromtimestamp(two_days_ago, tz=UTC)
    assert [(r.amount, r.refunded_at) for r in DonationRefund.objects.all()] == [
        (Decimal(20), donation.refunded_at)
    ]


# --- Donors ----------------------------------------------------------------------------------------


def test_addresses_differing_only_by_case_are_one_donor(db):
    alice = services.find_or_create_donor("Alice@Example.org", "Alice")
    assert services.find_or_create_donor("alice@example.org") == alice
    assert alice.email == "alice@example.org"
    assert Donor.objects.create(email="Bob@Example.org").email == "bob@example.org"
    # Whatever bypasses the model (an update, raw SQL), the database refuses a second Alice.
    bob = Donor.objects.get(email="bob@example.org")
    with pytest.raises(IntegrityError), transaction.atomic():
        Donor.objects.filter(pk=bob.pk).update(email="ALICE@example.org")


def test_donor_totals_are_net_of_refunds_and_never_add_currencies(fundraiser_client, db):
    _offline(email="ana@example.org", amount="50", reference="c-1")
    refunded = _offline(email="ana@example.org", amount="25", reference="c-2")
    services.refund_donation(refunded.pk, Decimal(15))
    _offline(email="ana@example.org", amount="12", reference="t-1", currency="EUR")
    _offline(email="ana@example.org", amount="1000", reference="t-2", currency="JPY")
    page = fundraiser_client.get("/admin/fundraising/donor/").content.decode()
    # One figure per currency (by code), net of the $15 refunded; $75 given is not shown.
    assert "€12.00 · ¥1,000 · $60.00" in page
    totals = {t.currency: t.net for t in Donor.objects.get().net_totals()}
    assert totals == {"USD": Decimal(60), "EUR": Decimal(12), "JPY": Decimal(1000)}


def test_the_donor_list_shows_gifts_sorts_by_them_and_caps_a_searchs_count(
    fundraiser_client, db, monkeypatch
):
    """The list reads each shown donor's number of gifts and last gift for its page (not for
    every match), sorts by them when asked, and counts a search's matches up to the cap."""
    from pressroom.lib.admin_lists import CappedCountPaginator

    for number in range(3):
        _offline(email="ana@example.org", amount="10", reference=f"a-{number}")
    _offline(email="bea@example.org", amount="10", reference="b-1")
    _offline(email="cruz@example.org", amount="10", reference="c-1")
    _offline(email="cruz@example.org", amount="10", reference="c-2")
    listing = fundraiser_client.get("/admin/fundraising/donor/")
    rows = {donor.email: donor.gift_count for donor in listing.context["cl"].result_list}
    assert rows == {"ana@example.org": 3, "bea@example.org": 1, "cruz@example.org": 2}
    assert all(donor.last_gift_at for donor in listing.context["cl"].result_list)

    columns = listing.context["cl"].list_display
    by_gifts = fundraiser_client.get(
        "/admin/fundraising/donor/", {"o": f"-{columns.index('gifts')}"}
    )
    assert by_gifts.status_code == 200
    assert [donor.email for donor in by_gifts.context["cl"].result_list] == [
        "ana@example.org",
        "cruz@example.org",
        "bea@example.org",
    ]

    monkeypatch.setattr(CappedCountPaginator, "COUNT_CAP", 2)
    monkeypatch.setattr(admin.site._registry[Donor], "list_per_page", 1)
    search = fundraiser_client.get("/admin/fundraising/donor/", {"q": "example.org"})
    assert search.context["cl"].result_count_capped
    assert "2+ donors" in search.content.decode()


def test_a_donors_page_lists_every_gift(fundraiser_client, db):
    for number in range(1, 13):
        _offline(email="ana@example.org", amount=str(number), reference=f"c-{number}")
    donor = Donor.objects.get()
    page = fundraiser_client.get(f"/admin/fundraising/donor/{donor.pk}/change/").content.decode()
    for number in range(1, 13):
        assert f">c-{number}<" in page
    assert "$78.00 (given $78.00, refunded $0.00)" in page


def test_staff_merge_two_records_of_one_donor_and_the_merge_is_in_its_history(
    fundraiser_client, campaign
):
    kept = Donor.objects.create(email="ana@example.org", name="")
    other = Donor.objects.create(email="ana.q@example.org", name="Ana Quispe")
    services.record_offline_donation(
        email="ana@example.org",
        name="",
        amount=Decimal(10),
        currency="USD",
        method="cash",
        reference="",
        campaign=campaign,
        send_receipt=False,
    )
    services.record_offline_donation(
        email="ana.q@example.org",
        name="",
        amount=Decimal(15),
        currency="USD",
        method="cash",
        reference="",
        campaign=campaign,
        send_receipt=False,
    )
    RecurringDonation.objects.create(
        donor=other,
        amount=Decimal(5),
        currency="USD",
        provider="stripe",
        provider_reference="sub_1",
    )
    assert campaign.totals().donor_count == 2
    selection = {"action": "merge_donors", "_selected_action": [kept.pk, other.pk]}
    confirm = fundraiser_client.post("/admin/fundraising/donor/", selection)
    assert confirm.status_code == 200
    assert "Keep this donor" in confirm.content.decode()
    assert Donor.objects.count() == 2  # nothing happens before the choice

    response = fundraiser_client.post(
        "/admin/fundraising/donor/", {**selection, "kept": str(kept.pk)}
    )
    assert response.status_code == 302
    assert list(Donor.objects.all()) == [kept]
    kept.refresh_from_db()
    assert kept.name == "Ana Quispe"
    assert kept.donations.count() == 2
    assert kept.recurring_donations.get().provider_reference == "sub_1"
    assert campaign.totals().donor_count == 1
    history = LogEntry.objects.get(object_id=str(kept.pk))
    assert "Merged ana.q@example.org into ana@example.org" in history.get_change_message()


# --- Exports and figures -------------------------------------------------------------------------


def test_csv_export_starts_with_a_byte_order_mark_and_writes_iso_dates(fundraiser_client, db):
    settings_zone = timezone.get_current_timezone()
    gift = _offline(
        name="Zoë", amount="25", received_at=datetime(2026, 2, 3, 4, 5, 6, 789, tzinfo=UTC)
    )
    services.refund_donation(gift.pk, Decimal(5), at=datetime(2026, 3, 1, 8, tzinfo=UTC))
    body = b"".join(
        fundraiser_client.get("/admin/fundraising/campaign/reports/export.csv").streaming_content
    )
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0]["donor_name"] == "Zoë"
    received = datetime.fromisoformat(rows[0]["received_at"])
    assert received == datetime(2026, 2, 3, 4, 5, 6, tzinfo=UTC)
    assert rows[0]["received_at"] == received.astimezone(settings_zone).isoformat()
    assert datetime.fromisoformat(rows[0]["refunded_at"]) == datetime(2026, 3, 1, 8, tzinfo=UTC)
    assert rows[0]["reconciled_at"] == ""


@pytest.mark.parametrize(
    ("part", "whole", "shown"),
    [
        (Decimal("95"), Decimal(10000), "1.0%"),  # 0.95%: never 0%
        (Decimal("94"), Decimal(10000), "0.9%"),
        (Decimal("5"), Decimal(10000), "<0.1%"),
        (Decimal("0.01"), Decimal(10000), "<0.1%"),
        (Decimal(0), Decimal(10000), "0%"),
        (Decimal(10000), Decimal(10000), "100.0%"),
        (Decimal(12500), Decimal(10000), "125.0%"),
    ],
)
def test_percentages_keep_one_decimal_and_never_show_a_small_share_as_nothing(part, whole, shown):
    assert format_percent(part, whole) == shown


def test_the_report_shows_a_campaign_at_under_one_percent_as_such(fundraiser_client, campaign):
    _offline(amount="95", campaign=campaign)  # 0.95% of $10,000
    page = fundraiser_client.get("/admin/fundraising/campaign/reports/").content.decode()
    assert "<td>1.0%</td>" in page
    _offline(email="b@example.org", amount="4", campaign=campaign)
    _offline(email="c@example.org", amount="1", campaign=campaign)
    assert (
        "<td>1.0%</td>"
        in fundraiser_client.get("/admin/fundraising/campaign/reports/").content.decode()
    )


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        ("50", "USD", "$50.00"),
        ("12", "EUR", "€12.00"),
        ("1250.5", "EUR", "€1,250.50"),
        ("2500", "JPY", "¥2,500"),
        ("40", "CHF", "CHF 40.00"),
        ("1.5", "KWD", "KWD 1.500"),
    ],
)
def test_books_write_every_amount_with_its_currency_and_decimals(amount, currency, shown):
    assert format_amount(Decimal(amount), currency, exact=True) == shown


def test_an_offline_gift_in_a_made_up_currency_re_renders_with_a_message(
    fundraiser_client, campaign
):
    response = fundraiser_client.post(ADD, {**_cheque("maria@example.org", "1"), "currency": "U$"})
    assert response.status_code == 200
    assert "three-letter ISO currency code" in response.content.decode()
    donation = _offline()
    url = f"/admin/fundraising/donation/{donation.pk}/change/"
    response = fundraiser_client.post(
        url,
        {
            "amount_text": "40",
            "currency": "1$x",
            "provider": "cheque",
            "provider_reference": "c-1",
            "received_at_0": "2026-11-20",
            "received_at_1": "10:00:00",
        },
    )
    assert response.status_code == 200
    assert "three-letter ISO currency code" in response.content.decode()
    donation.refresh_from_db()
    assert donation.currency == "USD"


def test_merging_refuses_a_selection_too_large_to_be_one_person(fundraiser_client, db):
    donors = [Donor.objects.create(email=f"d{n}@example.org") for n in range(21)]
    response = fundraiser_client.post(
        "/admin/fundraising/donor/",
        {"action": "merge_donors", "_selected_action": [donor.pk for donor in donors]},
        follow=True,
    )
    assert "Select between two and 20 donors to merge." in response.content.decode()
    assert Donor.objects.count() == 21


def test_month_end_lists_the_offline_gifts_not_reconciled_yet(fundraiser_client, db):
    waiting = _offline(reference="1001")
    done = _offline(reference="1002")
    services.reconcile_donations([done.pk])
    assert services.reconcile_donations([done.pk]) == 0  # its date stands
    page = fundraiser_client.get(
        "/admin/fundraising/donation/?reconciled_at__isempty=1&provider=cheque"
    ).content.decode()
    assert f"/admin/fundraising/donation/{waiting.pk}/change/" in page
    assert f"/admin/fundraising/donation/{done.pk}/change/" not in page


def test_merging_two_records_that_both_hold_cheque_1001_is_refused_until_one_is_fixed(
    fundraiser_client, db
):
    first = _offline(email="ana@example.org", reference="1001")
    second = _offline(email="ana.q@example.org", reference="1001")
    kept, other = first.donor, second.donor
    with pytest.raises(DonationStateError, match=r"same reference .*: Cheque 1001"):
        services.merge_donors(kept.pk, [other.pk])
    response = fundraiser_client.post(
        "/admin/fundraising/donor/",
        {"action": "merge_donors", "_selected_action": [kept.pk, other.pk], "kept": kept.pk},
        follow=True,
    )
    assert "Correct or refund one of each first." in response.content.decode()
    assert Donor.objects.count() == 2
    services.update_offline_donation(second.pk, provider_reference="1002")
    assert services.merge_donors(kept.pk, [other.pk]).donations_moved == 1


def test_a_merge_holds_when_the_processor_sends_the_merged_address_again(
    post_event, stripe_keys, campaign
):
    """Stripe keeps the address the gift began with: the next monthly payment (and a failed
    one) must go to the donor the gift now belongs to, not bring the merged record back."""
    from pressroom.fundraising.models import RecurringDonation
    from pressroom.fundraising.tests.conftest import (
        invoice_paid,
        invoice_payment_failed,
        monthly_gift_started,
    )

    subscription = new_id("sub")
    post_event(monthly_gift_started(subscription))
    merged_away = Donor.objects.get(email="dana@example.org")
    kept = Donor.objects.create(email="dana.new@example.org", name="Dana")
    services.merge_donors(kept.pk, [merged_away.pk])

    post_event(
        event(
            "invoice.paid",
            invoice_paid(invoice_id=new_id("in"), subscription=subscription, amount_paid=1000),
        )
    )
    post_event(
        event(
            "invoice.payment_failed",
            invoice_payment_failed(
                invoice_id=new_id("in"),
                subscription=subscription,
                amount_due=1000,
                customer="cus_dana",
            ),
        )
    )

    assert not Donor.objects.filter(email="dana@example.org").exists()
    assert set(Donation.objects.values_list("donor__email", flat=True)) == {"dana.new@example.org"}
    assert RecurringDonation.objects.get().donor == kept
