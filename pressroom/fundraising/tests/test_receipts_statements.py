"""Receipts a tax office accepts, confirmations of refunds and cancellations, copies on demand and
a statement of each year: sent by the real task worker to a real SMTP server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from pressroom.fundraising import services
from pressroom.fundraising.models import Donation, RecurringDonation, YearEndStatement
from pressroom.fundraising.receipts import portal_token
from pressroom.fundraising.tests.conftest import (
    charge_refunded,
    checkout_completed,
    event,
    monthly_gift_started,
    new_id,
    subscription_deleted,
)
from pressroom.site.models import SiteSettings

pytestmark = pytest.mark.django_db(transaction=True)

TAX_WORDING = {
    "legal_name": "Pressroom News Collective, Inc.",
    "tax_id": "EIN 12-3456789",
    "deductibility_statement": "No goods or services were provided in exchange for this gift.",
    "fiscal_sponsor": "Pressroom News is a fiscally sponsored project of Open Commons, a 501(c)(3).",
}


def run_worker() -> None:
    call_command("worker", batch=True, verbosity=0)


def bodies(message) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    return text, html


@pytest.fixture
def tax_wording(db):
    SiteSettings.objects.create(
        id=1, name="Pressroom News", organisation_name="Pressroom News", **TAX_WORDING
    )


def offline(email="maria@example.org", amount="50", reference="1001", **extra) -> Donation:
    values = {
        "email": email,
        "name": "María",
        "amount": Decimal(amount),
        "currency": "USD",
        "method": "cheque",
        "reference": reference,
        "campaign": None,
        "send_receipt": True,
        **extra,
    }
    return services.record_offline_donation(**values)


def test_every_receipt_carries_the_outlets_legal_name_tax_id_and_statements(
    tax_wording, smtp_server
):
    offline(amount="50")
    offline(email="jose@example.org", amount="12", reference="t-9", currency="EUR")
    run_worker()
    [dollars] = smtp_server.to("maria@example.org")
    [euros] = smtp_server.to("jose@example.org")
    assert "$50.00" in dollars["Subject"]
    assert "€12.00" in euros["Subject"]
    for receipt in (dollars, euros):
        for body in bodies(receipt):
            for wording in TAX_WORDING.values():
                assert wording in body.replace("&#x27;", "'"), wording


def test_a_refund_that_arrives_before_its_payment_never_yields_a_thank_you(
    client, campaign, post_event, stripe_keys, smtp_server, tax_wording
):
    payment_intent = new_id("pi")
    post_event(
        event(
            "charge.refunded",
            charge_refunded(payment_intent=payment_intent, amount=5000, amount_refunded=5000),
        )
    )
    post_event(
        event(
            "checkout.session.completed",
            checkout_completed(amount_total=5000, payment_intent=payment_intent),
        )
    )
    run_worker()
    [message] = smtp_server.to("dana@example.org")
    assert message["Subject"] == "Refund of $50.00 from Pressroom News"
    for body in bodies(message):
        assert "Thank you for your" not in body
        assert "The whole gift has been returned to you" in body
    text = bodies(message)[0]
    assert "Refunded: 50.000" not in text
    assert Donation.objects.get().receipt_sent_at is None
    # Nor does the sweep of receipts that never went keep trying to send one.
    later = timezone.now() + timedelta(hours=1)
    assert not Donation.objects.awaiting_receipt(
        older_than=later, newer_than=later - timedelta(days=7)
    ).exists()


def test_a_partial_refund_is_confirmed_and_the_receipt_copy_shows_what_stands(
    client, campaign, post_event, stripe_keys, smtp_server, tax_wording
):
    payment_intent = new_id("pi")
    post_event(
        event(
            "checkout.session.completed",
            checkout_completed(amount_total=5000, payment_intent=payment_intent),
        )
    )
    run_worker()
    post_event(
        event(
            "charge.refunded",
            charge_refunded(payment_intent=payment_intent, amount=5000, amount_refunded=2000),
        )
    )
    run_worker()
    receipt, refund = smtp_server.to("dana@example.org")
    assert receipt["Subject"].startswith("Your receipt: $50.00")
    assert refund["Subject"] == "Refund of $20.00 from Pressroom News"
    text, _ = bodies(refund)
    assert "Your donation now stands at $30.00" in text
    assert TAX_WORDING["tax_id"] in text

    services.resend_receipts([Donation.objects.get().pk])
    run_worker()
    copy = smtp_server.to("dana@example.org")[-1]
    assert copy["Subject"].startswith("Copy of your receipt: $30.00")
    assert "You paid $50.00; $20.00 of it was returned to you." in bodies(copy)[0]


def test_staff_resend_receipts_for_several_gifts_from_the_admin(fundraiser_client, smtp_server):
    first = offline(reference="1001")
    second = offline(reference="1002", amount="25")
    run_worker()
    assert len(smtp_server.to("maria@example.org")) == 2
    response = fundraiser_client.post(
        "/admin/fundraising/donation/",
        {"action": "resend_receipts", "_selected_action": [first.pk, second.pk]},
        follow=True,
    )
    assert "Queued 2 receipt(s) to send again." in response.content.decode()
    run_worker()
    copies = smtp_server.to("maria@example.org")[2:]
    assert sorted(message["Subject"].split(":")[1].split()[0] for message in copies) == [
        "$25.00",
        "$50.00",
    ]
    assert all(message["Subject"].startswith("Copy of your receipt") for message in copies)


def test_a_gift_refunded_in_full_has_no_receipt_to_send_again(fundraiser_client, smtp_server):
    donation = offline(send_receipt=False)
    services.refund_donation(donation.pk, donation.amount)
    response = fundraiser_client.post(
        "/admin/fundraising/donation/",
        {"action": "resend_receipts", "_selected_action": [donation.pk]},
        follow=True,
    )
    assert "1 donation(s) have no receipt to send: refunded in full" in response.content.decode()
    run_worker()
    [refund] = smtp_server.to("maria@example.org")  # only the refund's confirmation
    assert refund["Subject"] == "Refund of $50.00 from Pressroom News"


def test_a_gift_entered_without_a_receipt_gets_one_when_staff_ask(smtp_server):
    donation = offline(send_receipt=False)
    run_worker()
    assert smtp_server.messages == []
    services.resend_receipts([donation.pk])
    run_worker()
    [receipt] = smtp_server.to("maria@example.org")
    assert "Thank you for your donation" in bodies(receipt)[0]


def test_a_monthly_donor_who_cancels_is_told_once(
    client, campaign, post_event, fake_stripe, smtp_server
):
    subscription = new_id("sub")
    post_event(monthly_gift_started(subscription))
    run_worker()
    recurring = RecurringDonation.objects.get()
    client.post(f"/donate/portal/{portal_token(recurring.donor)}/cancel/{recurring.pk}/")
    # Stripe then confirms the deletion; the donor is not told twice.
    post_event(
        event("customer.subscription.deleted", subscription_deleted(subscription=subscription))
    )
    run_worker()
    receipt, stopped = smtp_server.to("dana@example.org")
    assert receipt["Subject"].startswith("Your receipt: $10.00 monthly")
    assert stopped["Subject"] == "Your monthly donation to Pressroom News has stopped"
    text, html = bodies(stopped)
    assert "Your monthly donation of $10.00 (End Of Year Fundraising Campaign) stopped on" in text
    assert "You will not be charged again." in html


def test_a_subscription_ended_at_stripe_is_confirmed_to_the_donor(
    client, campaign, post_event, stripe_keys, smtp_server
):
    subscription = new_id("sub")
    post_event(monthly_gift_started(subscription))
    post_event(
        event("customer.subscription.deleted", subscription_deleted(subscription=subscription))
    )
    run_worker()
    subjects = [message["Subject"] for message in smtp_server.to("dana@example.org")]
    assert "Your monthly donation to Pressroom News has stopped" in subjects


# --- Year-end statements --------------------------------------------------------------------------


def _year_of_gifts() -> Donation:
    """María's 2025: two cheques (one partly refunded in 2026), a gift in euros; and 2026."""
    kept = offline(amount="100", reference="1001", received_at=datetime(2025, 3, 1, 12, tzinfo=UTC))
    refunded = offline(
        amount="40", reference="1002", received_at=datetime(2025, 12, 30, 12, tzinfo=UTC)
    )
    services.refund_donation(refunded.pk, Decimal(15), at=datetime(2026, 1, 5, tzinfo=UTC))
    offline(
        amount="12", reference="t-1", currency="EUR", received_at=datetime(2025, 7, 1, tzinfo=UTC)
    )
    offline(amount="999", reference="1003", received_at=datetime(2026, 1, 2, 12, tzinfo=UTC))
    offline(
        email="jose@example.org",
        amount="5",
        reference="1",
        received_at=datetime(2025, 5, 5, tzinfo=UTC),
    )
    return kept


def test_the_january_task_emails_each_donor_their_year_net_of_refunds_once(
    smtp_server, tax_wording, settings
):
    settings.TIME_ZONE = "UTC"
    _year_of_gifts()
    run_worker()  # the receipts
    smtp_server.messages.clear()
    from pressroom.fundraising.tasks import send_year_end_statements

    for _ in range(2):  # a second scheduler, or a rerun: nobody gets two
        send_year_end_statements.enqueue(2025)
        run_worker()
    [statement] = smtp_server.to("maria@example.org")
    assert len(smtp_server.to("jose@example.org")) == 1
    assert statement["Subject"] == "Your 2025 giving statement from Pressroom News"
    text, html = bodies(statement)
    for body in (text, html):
        assert "Total USD: $125.00" in body.replace("<strong>", "").replace("</strong>", "")
        assert "Total EUR: €12.00" in body.replace("<strong>", "").replace("</strong>", "")
        assert "2025-12-30" in body
        assert "$999.00" not in body  # a 2026 gift
        assert TAX_WORDING["tax_id"] in body
    assert "$25.00 ($40.00 given, $15.00 refunded)" in text
    assert YearEndStatement.objects.filter(year=2025).count() == 2


def test_statements_are_scheduled_for_january(settings):
    import importlib

    from crontask import scheduler

    import pressroom.fundraising.tasks

    importlib.reload(pressroom.fundraising.tasks)  # what `pressroom worker` does at start-up
    job = {job.name: job for job in scheduler.get_jobs()}["send_year_end_statements"]
    fields = {field.name: str(field) for field in job.trigger.fields}
    assert (fields["month"], fields["day"]) == ("1", "15")


def test_the_donor_downloads_a_years_statement_from_the_portal(client, tax_wording, settings):
    settings.TIME_ZONE = "UTC"
    donor = _year_of_gifts().donor
    token = portal_token(donor)
    portal = client.get(f"/donate/portal/{token}/").content.decode()
    assert f"/donate/portal/{token}/statement/2025/" in portal
    response = client.get(f"/donate/portal/{token}/statement/2025/")
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="giving-statement-2025.txt"'
    text = response.content.decode()
    assert "Total USD: $125.00 (given $140.00, refunded $15.00)" in text
    assert TAX_WORDING["fiscal_sponsor"] in text
    assert client.get(f"/donate/portal/{token}/statement/1999/").status_code == 404
    assert client.get(f"/donate/portal/{token}/statement/2024/").status_code == 404
    later = timezone.localdate().year + 1
    assert client.get(f"/donate/portal/{token}/statement/{later}/").status_code == 404
    assert client.get("/donate/portal/forged/statement/2025/").status_code == 404
