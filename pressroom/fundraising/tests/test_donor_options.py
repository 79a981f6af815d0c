"""What donors expect (issue #19, point 7): covering the fees, a gift in honour or in memory of
someone with a note sent once, annual gifts, other suggested amounts for monthly gifts (with and
without the page's script), changing a monthly amount in the portal, giving anonymously. The
fake Stripe records what the donate page asks for; its events come back duplicated and late;
the real task worker sends to a real SMTP server."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from pressroom.fundraising import reports
from pressroom.fundraising.gifts import GiftDetails, fee_to_cover
from pressroom.fundraising.models import Donation, RecurringDonation, Tribute
from pressroom.fundraising.receipts import portal_token
from pressroom.fundraising.tests.conftest import (
    checkout_completed,
    event,
    invoice_paid,
    monthly_gift_started,
    new_id,
)
from pressroom.site.models import SiteSettings

pytestmark = pytest.mark.django_db(transaction=True)

DONOR = "dana@example.org"
FRIEND = "sam@example.org"


def run_worker() -> None:
    call_command("worker", batch=True, verbosity=0)


def text_of(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


@pytest.fixture
def outlet(db, settings):
    settings.FUNDRAISING_FEE_PERCENT = 2.9
    settings.FUNDRAISING_FEE_FIXED_CENTS = 30
    SiteSettings.objects.create(id=1, name="Pressroom News", organisation_name="Pressroom News")


def completed_from(call, *, amount_total: int, **options) -> dict:
    """The checkout.session.completed Stripe sends for the session the donate page opened:
    its metadata is what Pressroom put on the session."""
    session = checkout_completed(amount_total=amount_total, **options)
    session["metadata"] = {
        key.removeprefix("metadata[").removesuffix("]"): value
        for key, value in call.params.items()
        if key.startswith("metadata[")
    }
    return event("checkout.session.completed", session)


def test_fee_formula_grosses_the_gift_up_so_the_outlet_keeps_it(settings):
    settings.FUNDRAISING_FEE_PERCENT = 2.9
    settings.FUNDRAISING_FEE_FIXED_CENTS = 30
    # (25 + 0.30) / (1 - 0.029) = 26.0556: the donor adds $1.06 (rounded up, never short).
    assert fee_to_cover(Decimal("25"), "USD") == Decimal("1.06")
    total = Decimal("26.06")
    assert total - (total * Decimal("0.029") + Decimal("0.30")) >= Decimal("25")
    # A currency without cents counts the fixed part in whole units.
    assert fee_to_cover(Decimal("3000"), "JPY") == Decimal("121")
    settings.FUNDRAISING_FEE_PERCENT = 0
    settings.FUNDRAISING_FEE_FIXED_CENTS = 0
    assert fee_to_cover(Decimal("25"), "USD") == Decimal("0.00")


def test_donor_sees_the_fee_before_paying_and_the_books_keep_gross_and_covered_part(
    client, outlet, campaign, fake_stripe, post_event, smtp_server
):
    page = client.get("/donate/end-of-year/").content.decode()
    assert 'Add <span id="fee-amount">$1.06</span> to cover the processing fees' in page

    response = client.post(
        "/donate/end-of-year/",
        {"amount": "25", "frequency": "once", "email": DONOR, "cover_fees": "on"},
    )
    assert response.status_code == 303
    [call] = fake_stripe.calls("POST", "/v1/checkout/sessions")
    assert call.params["line_items[0][price_data][unit_amount]"] == "2606"
    assert (
        "includes $1.06 to cover processing fees"
        in (call.params["line_items[0][price_data][product_data][name]"])
    )
    assert call.params["metadata[covered_fee]"] == "1.06"

    paid = completed_from(call, amount_total=2606, payment_intent=new_id("pi"))
    post_event(paid)
    post_event(paid)  # Stripe delivers it twice
    donation = Donation.objects.get()
    assert (donation.amount, donation.covered_fee) == (Decimal("26.06"), Decimal("1.06"))
    [month] = reports.monthly_totals()
    assert month["gross_display"] == "$26.06"
    assert month["covered_fees_display"] == "$1.06"
    rows = list(reports.donation_csv_rows([donation]))
    assert str(rows[1][rows[0].index("covered_fee")]) == "1.06"
    run_worker()
    [receipt] = smtp_server.to(DONOR)
    assert "of which $1.06 you added to cover the processing fees" in text_of(receipt)


def test_a_gift_in_memory_notifies_the_named_person_once_without_the_amount(
    client, outlet, campaign, fake_stripe, post_event, smtp_server
):
    response = client.post(
        "/donate/end-of-year/",
        {
            "amount": "50",
            "email": DONOR,
            "name": "Dana Donor",
            "tribute_kind": "memory",
            "tribute_name": "Rosa Ortiz",
            "tribute_notify_name": "Sam",
            "tribute_notify_email": FRIEND,
        },
    )
    assert response.status_code == 303
    [call] = fake_stripe.calls("POST", "/v1/checkout/sessions")
    paid = completed_from(call, amount_total=5000, payment_intent=new_id("pi"))
    post_event(paid)
    post_event(paid)
    run_worker()
    run_worker()
    [note] = smtp_server.to(FRIEND)
    assert note["Subject"] == "A gift to Pressroom News in memory of Rosa Ortiz"
    body = text_of(note)
    assert "Dear Sam" in body
    assert "Dana Donor made a gift" in body
    assert "$50" not in body
    tribute = Tribute.objects.get()
    assert tribute.notified_at is not None
    [receipt] = smtp_server.to(DONOR)
    assert "In memory of Rosa Ortiz" in text_of(receipt)


def test_anonymous_gift_hides_the_name_in_public_but_the_receipt_keeps_it(
    client, outlet, campaign, fake_stripe, post_event, smtp_server
):
    client.post(
        "/donate/end-of-year/",
        {
            "amount": "100",
            "email": DONOR,
            "name": "Dana Donor",
            "anonymous": "on",
            "tribute_kind": "honour",
            "tribute_name": "Our editors",
            "tribute_notify_email": FRIEND,
            "tribute_show_amount": "on",
        },
    )
    [call] = fake_stripe.calls("POST", "/v1/checkout/sessions")
    post_event(completed_from(call, amount_total=10000, payment_intent=new_id("pi")))
    donation = Donation.objects.get()
    assert donation.is_anonymous
    assert donation.public_donor_name == "Anonymous"
    rows = list(reports.donation_csv_rows([donation]))
    assert rows[1][rows[0].index("anonymous")] == "yes"
    run_worker()
    [note] = smtp_server.to(FRIEND)
    body = text_of(note)
    assert "Dana" not in body
    assert "Someone who wishes to stay anonymous" in body
    assert "a gift of $100.00" in body  # the donor allowed the amount
    [receipt] = smtp_server.to(DONOR)
    assert "Dear Dana Donor" in text_of(receipt)
    assert "your name is on no public list" in text_of(receipt)


def test_tribute_details_are_bounded_and_validated(client, outlet, campaign, fake_stripe):
    response = client.post(
        "/donate/end-of-year/", {"amount": "10", "email": DONOR, "tribute_kind": "memory"}
    )
    assert response.status_code == 400
    assert "Enter the name of the person the gift honours." in response.content.decode()
    response = client.post(
        "/donate/end-of-year/",
        {
            "amount": "10",
            "email": DONOR,
            "tribute_kind": "honour",
            "tribute_name": "x" * 201,
            "tribute_notify_email": "not an address",
        },
    )
    assert response.status_code == 400
    assert "Enter a valid email address." in response.content.decode()
    assert fake_stripe.calls("POST", "/v1/checkout/sessions") == []
    # An event can carry no more than the form: bad parts are dropped, the payment kept.
    details = GiftDetails.from_strings(
        {
            "tribute_kind": "memory",
            "tribute_name": "R" * 5000,
            "tribute_notify_email": "x@" + "y" * 300 + ".org",
            "covered_fee": "999",
        },
        Decimal("10"),
        "USD",
    )
    assert len(details.tribute_name) == 200
    assert details.tribute_notify_email == ""
    assert details.covered_fee == Decimal(0)


def test_annual_gift_opens_a_yearly_subscription_and_is_recorded_as_annual(
    client, outlet, campaign, fake_stripe, post_event
):
    client.post("/donate/end-of-year/", {"amount": "100", "frequency": "annual", "email": DONOR})
    [call] = fake_stripe.calls("POST", "/v1/checkout/sessions")
    assert call.params["mode"] == "subscription"
    assert call.params["line_items[0][price_data][recurring][interval]"] == "year"
    assert call.params["metadata[frequency]"] == "annual"
    subscription = new_id("sub")
    started = completed_from(
        call,
        amount_total=10000,
        mode="subscription",
        subscription=subscription,
        invoice=new_id("in"),
    )
    # The first invoice arrives before the checkout's event.
    invoice = invoice_paid(invoice_id=new_id("in"), subscription=subscription, amount_paid=10000)
    invoice["parent"]["subscription_details"]["metadata"]["frequency"] = "annual"
    post_event(event("invoice.paid", invoice))
    post_event(started)
    recurring = RecurringDonation.objects.get()
    assert recurring.frequency == "annual"
    assert set(Donation.objects.values_list("frequency", flat=True)) == {"annual"}


def test_monthly_gifts_offer_their_own_amounts_with_or_without_the_script(
    client, outlet, make_campaign, fake_stripe
):
    make_campaign(preset_amounts="25, 50, 100, 250", monthly_preset_amounts="5, 10, 20, 35")
    once = client.get("/donate/end-of-year/").content.decode()
    assert 'value="250"' in once
    assert 'value="35"' not in once
    monthly = client.get("/donate/end-of-year/?frequency=monthly").content.decode()
    assert 'value="35"' in monthly
    assert 'value="250"' not in monthly
    assert 'value="10" checked' in monthly  # the lower middle one is suggested
    # Without the script: "Show amounts" re-renders for the chosen frequency, keeping what
    # the donor typed, opening no checkout and showing no error yet.
    response = client.post(
        "/donate/end-of-year/",
        {"frequency": "monthly", "email": DONOR, "show_amounts": "1", "cover_fees": "on"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert 'value="35"' in html
    assert 'value="250"' not in html
    assert f'value="{DONOR}"' in html
    assert "Please check the form" not in html
    assert fake_stripe.calls("POST", "/v1/checkout/sessions") == []
    # The page's script gets every frequency's amounts to swap them in place.
    assert '"monthly": [{"value": "5"' in html


def test_donor_changes_the_monthly_amount_in_the_portal(
    client, outlet, campaign, fake_stripe, post_event, smtp_server
):
    subscription = new_id("sub")
    post_event(monthly_gift_started(subscription))
    recurring = RecurringDonation.objects.get()
    portal = f"/donate/portal/{portal_token(recurring.donor)}/"
    page = client.get(portal).content.decode()
    assert "Change the amount" in page

    for bad in ["0.50", "10001", "ten", "10"]:
        response = client.post(f"{portal}amount/{recurring.pk}/", {"amount": bad}, follow=True)
        assert response.status_code == 200
    assert fake_stripe.calls("POST", f"/v1/subscriptions/{subscription}") == []
    assert (
        "Choose an amount from $1.00 to $10,000.00"
        in client.post(
            f"{portal}amount/{recurring.pk}/", {"amount": "0.50"}, follow=True
        ).content.decode()
    )

    response = client.post(f"{portal}amount/{recurring.pk}/", {"amount": "15"}, follow=True)
    assert "From your next payment on you give $15.00" in response.content.decode()
    [update] = fake_stripe.calls("POST", f"/v1/subscriptions/{subscription}")
    assert update.params["items[0][price_data][unit_amount]"] == "1500"
    assert update.params["items[0][price_data][recurring][interval]"] == "month"
    assert update.params["items[0][id]"].startswith("si_")
    assert update.params["proration_behavior"] == "none"
    recurring.refresh_from_db()
    assert recurring.amount == Decimal("15")
    run_worker()
    run_worker()
    changed = [m for m in smtp_server.to(DONOR) if "is now $15.00" in m["Subject"]]
    assert len(changed) == 1
    # Late events from before the change (last period's invoice at $10, twice) and Stripe's
    # update event: the gift keeps its new amount; the late payment is recorded as it was.
    late = event(
        "invoice.paid",
        invoice_paid(invoice_id=new_id("in"), subscription=subscription, amount_paid=1000),
    )
    post_event(late)
    post_event(late)
    post_event(
        event(
            "customer.subscription.updated",
            {"id": subscription, "object": "subscription", "status": "active"},
        )
    )
    recurring.refresh_from_db()
    assert recurring.amount == Decimal("15")
    assert sorted(recurring.donations.values_list("amount", flat=True)) == [
        Decimal("10"),
        Decimal("10"),
    ]

    # Stripe down: the amount stays, the donor is told, nothing half-done.
    fake_stripe.fail_with = 500
    response = client.post(f"{portal}amount/{recurring.pk}/", {"amount": "20"}, follow=True)
    assert "your gift keeps its amount" in response.content.decode()
    recurring.refresh_from_db()
    assert recurring.amount == Decimal("15")


@pytest.mark.parametrize("invoice_first", [True, False])
def test_monthly_tribute_is_recorded_once_and_noted_once_whatever_the_order(
    client, outlet, campaign, fake_stripe, post_event, smtp_server, invoice_first
):
    client.post(
        "/donate/end-of-year/",
        {
            "amount": "10",
            "frequency": "monthly",
            "email": DONOR,
            "name": "Dana Donor",
            "anonymous": "on",
            "tribute_kind": "honour",
            "tribute_name": "Our reporters",
            "tribute_notify_email": FRIEND,
        },
    )
    [call] = fake_stripe.calls("POST", "/v1/checkout/sessions")
    metadata = {
        key.removeprefix("metadata[").removesuffix("]"): value
        for key, value in call.params.items()
        if key.startswith("metadata[")
    }
    subscription, first_invoice = new_id("sub"), new_id("in")
    started = completed_from(
        call,
        amount_total=1000,
        mode="subscription",
        subscription=subscription,
        invoice=first_invoice,
    )

    def paid(invoice_id: str) -> dict:
        invoice = invoice_paid(invoice_id=invoice_id, subscription=subscription, amount_paid=1000)
        invoice["parent"]["subscription_details"]["metadata"] = metadata
        return event("invoice.paid", invoice)

    first = [paid(first_invoice), started] if invoice_first else [started, paid(first_invoice)]
    for stripe_event in [*first, first[0], paid(new_id("in"))]:  # a duplicate, a second month
        post_event(stripe_event)
    assert Donation.objects.count() == 2
    assert set(Donation.objects.values_list("is_anonymous", flat=True)) == {True}
    assert RecurringDonation.objects.get().is_anonymous
    assert Tribute.objects.count() == 1
    run_worker()
    run_worker()
    [note] = smtp_server.to(FRIEND)
    assert "Someone who wishes to stay anonymous" in text_of(note)


def test_bad_monthly_amounts_are_refused_and_no_fee_formula_hides_the_option(
    client, outlet, make_campaign, settings, stripe_keys
):
    campaign = make_campaign(monthly_preset_amounts="5, ten")
    with pytest.raises(ValidationError) as raised:
        campaign.full_clean()
    assert "monthly_preset_amounts" in raised.value.message_dict
    campaign.monthly_preset_amounts = ""
    campaign.save()
    assert "cover the processing fees" in client.get("/donate/end-of-year/").content.decode()
    settings.FUNDRAISING_FEE_PERCENT = 0
    settings.FUNDRAISING_FEE_FIXED_CENTS = 0
    assert "cover the processing fees" not in client.get("/donate/end-of-year/").content.decode()


def test_a_processor_that_cannot_change_amounts_says_so_without_an_error(
    client, outlet, campaign, monkeypatch
):
    from pressroom.fundraising.models import Donor

    class NoAmendments:
        """A processor plug-in with subscriptions it cannot amend."""

        name = label = "noamend"

    monkeypatch.setattr("pressroom.fundraising.services.get_provider", lambda name: NoAmendments())
    donor = Donor.objects.create(email=DONOR)
    recurring = RecurringDonation.objects.create(
        donor=donor, amount=Decimal(10), currency="USD", provider="noamend", provider_reference="x"
    )
    response = client.post(
        f"/donate/portal/{portal_token(donor)}/amount/{recurring.pk}/",
        {"amount": "20"},
        follow=True,
    )
    assert response.status_code == 200
    assert "cannot be changed here; stop it and start a new one" in response.content.decode()
    recurring.refresh_from_db()
    assert recurring.amount == Decimal(10)
