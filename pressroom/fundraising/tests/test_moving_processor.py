"""Moving to a new processor: every active monthly donor of the old one is emailed a signed link
(real SMTP, real worker); two clicks restart the gift at the new one; once the new subscription
is active the old one is cancelled at the old processor, or queued until it answers again."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from pressroom.fundraising import receipts, services
from pressroom.fundraising.models import DonationStateError, Donor, RecurringDonation
from pressroom.fundraising.processor_tasks import retry_moved_cancellations
from pressroom.fundraising.providers.paypal.tests.harness import Harness as PayPalHarness
from pressroom.fundraising.providers.stripe.tests.harness import Harness as StripeHarness

# The real worker runs the queued tasks in its own transactions (as in production).
pytestmark = pytest.mark.django_db(transaction=True)


def run_worker() -> None:
    call_command("worker", batch=True, verbosity=0)


@pytest.fixture
def processors(settings, db):
    stripe, paypal = StripeHarness(), PayPalHarness()
    with stripe.running(settings), paypal.running(settings):
        yield stripe, paypal


def monthly(email: str, reference: str, *, provider: str = "stripe", amount: str = "10", **fields):
    donor, _ = Donor.objects.get_or_create(email=email, defaults={"name": "Dana Donor"})
    return RecurringDonation.objects.create(
        donor=donor,
        amount=Decimal(amount),
        currency="USD",
        provider=provider,
        provider_reference=reference,
        **fields,
    )


def move_link(message) -> str:
    text = message.get_body(("plain",)).get_content()
    return re.search(r"http://\S+/donate/move/\S+/", text).group(0)


@pytest.fixture
def deliver(client, django_capture_on_commit_callbacks):
    def post(name: str, deliveries) -> None:
        for body, headers in deliveries:
            with django_capture_on_commit_callbacks(execute=True):
                response = client.post(
                    f"/fundraising/{name}/webhook/",
                    data=body,
                    content_type="application/json",
                    headers=headers,
                )
            assert response.status_code == 200, response.content
        run_worker()

    return post


@pytest.fixture
def move_donors(django_capture_on_commit_callbacks):
    """The command, its queued emails sent on commit as outside a test, then the real worker."""

    def move(*arguments: str) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            call_command("move_monthly_donors", *arguments, verbosity=0)
        run_worker()

    return move


def test_every_active_monthly_donor_of_the_old_processor_gets_one_signed_link(
    processors, smtp_server, settings, move_donors
):
    monthly("dana@example.org", "sub_dana", amount="10")
    monthly("eli@example.org", "sub_eli", amount="25")
    monthly("stopped@example.org", "sub_stopped", status=RecurringDonation.Status.CANCELLED)
    monthly("there@example.org", "I-THERE", provider="paypal")

    move_donors("--from", "stripe", "--to", "paypal")
    move_donors("--from", "stripe", "--to", "paypal")  # run twice: nothing more is sent

    assert sorted(str(message["To"]) for message in smtp_server.messages) == [
        "dana@example.org",
        "eli@example.org",
    ]
    [dana] = smtp_server.to("dana@example.org")
    assert "two clicks" in dana["Subject"]
    text = dana.get_body(("plain",)).get_content()
    assert "$10.00" in text
    assert "PayPal" in text
    assert "Stripe" in text
    assert move_link(dana).startswith(settings.SITE_URL)


def test_two_clicks_restart_the_gift_and_the_old_one_is_cancelled_once_the_new_is_active(
    client, processors, smtp_server, deliver, move_donors
):
    stripe, paypal = processors
    old = monthly("dana@example.org", "sub_dana", amount="10")
    move_donors("--from", "stripe", "--to", "paypal")
    link = move_link(smtp_server.to("dana@example.org")[0])

    confirm = client.get(link)  # click one: the confirm page, amount filled in
    assert confirm.status_code == 200
    assert b"$10.00" in confirm.content
    assert b"Continue to PayPal" in confirm.content
    checkout = client.post(link)  # click two: on to the new processor
    assert checkout.status_code == 303
    assert checkout["Location"].startswith(paypal.checkout_url_prefix())
    reference = paypal.last_checkout()
    assert paypal.checkout_request(reference) == {
        "amount": "10.00",
        "currency": "USD",
        "campaign": "",
        "replaces": str(old.pk),
    }
    old.refresh_from_db()
    assert old.is_active  # nothing stops before the new gift is running

    _subscription, activated = paypal.start_monthly(reference)
    deliver("paypal", activated)
    deliver("paypal", activated)  # delivered twice

    old.refresh_from_db()
    new = RecurringDonation.objects.get(provider="paypal")
    assert new.donor_id == old.donor_id
    assert new.is_active
    assert new.amount == 10
    assert old.status == RecurringDonation.Status.MOVED
    assert old.moved_to == new
    assert old.move_cancelled_at is not None
    assert stripe.cancelled_at_processor() == ["sub_dana"]
    # The old gift's later end event changes nothing more.
    deliver("stripe", stripe.ended("sub_dana"))
    old.refresh_from_db()
    assert old.status == RecurringDonation.Status.MOVED


def test_the_old_cancellation_waits_for_an_unreachable_processor_and_is_retried(
    client, processors, smtp_server, deliver
):
    stripe, paypal = processors
    old = monthly("dana@example.org", "sub_dana", amount="10")
    token = receipts.move_token(old, "paypal")
    client.post(f"/donate/move/{token}/")
    stripe.set_down(True)

    deliver("paypal", paypal.start_monthly(paypal.last_checkout())[1])

    old.refresh_from_db()
    assert old.status == RecurringDonation.Status.MOVED
    assert old.move_cancelled_at is None  # queued, not lost
    stripe.set_down(False)
    retry_moved_cancellations.enqueue()
    run_worker()
    old.refresh_from_db()
    assert old.move_cancelled_at is not None
    assert stripe.cancelled_at_processor()[-1] == "sub_dana"


def test_a_forged_expired_or_used_link_changes_nothing(client, processors, monkeypatch):
    old = monthly("dana@example.org", "sub_dana")
    token = receipts.move_token(old, "paypal")

    forged = client.get(f"/donate/move/{token[:-2]}xx/")
    assert forged.status_code == 404
    monkeypatch.setattr(receipts, "MOVE_LINK_MAX_AGE", timedelta(seconds=-1))
    assert client.post(f"/donate/move/{token}/").status_code == 404
    monkeypatch.undo()
    old.status = RecurringDonation.Status.CANCELLED
    old.save()
    used = client.post(f"/donate/move/{token}/")
    assert used.status_code == 409
    assert b"already moved or stopped" in used.content
    _, paypal = processors
    assert not paypal.fake.calls("POST", "/v1/billing/subscriptions")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--from", "stripe", "--to", "stripe"], "Choose another processor"),
        (["--from", "stripe", "--to", "partnerpay"], "No payment processor is called"),
    ],
)
def test_the_command_refuses_an_impossible_move_with_one_line(processors, arguments, message):
    with pytest.raises(CommandError, match=message):
        call_command("move_monthly_donors", *arguments)


def test_the_command_refuses_a_processor_without_keys(processors, settings):
    settings.PAYPAL_CLIENT_ID = ""

    with pytest.raises(CommandError, match="PayPal is not configured"):
        call_command("move_monthly_donors", "--from", "stripe", "--to", "paypal")


def test_staff_invite_selected_donors_from_the_admin(
    client, processors, smtp_server, django_capture_on_commit_callbacks
):
    dana = monthly("dana@example.org", "sub_dana")
    monthly("eli@example.org", "sub_eli")
    staff = get_user_model().objects.create_superuser("treasurer", "t@example.org", "pw-123456")
    client.force_login(staff)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/fundraising/recurringdonation/",
            {"action": "invite_move_to_paypal", "_selected_action": [dana.pk]},
            follow=True,
        )
    run_worker()

    assert response.status_code == 200
    assert "Queued 1 invitation" in response.content.decode()
    assert [str(message["To"]) for message in smtp_server.messages] == ["dana@example.org"]


def test_a_new_account_under_another_address_still_moves_the_donors_gift(
    client, processors, deliver
):
    stripe, paypal = processors
    old = monthly("dana@example.org", "sub_dana", amount="10")
    client.post(f"/donate/move/{receipts.move_token(old, 'paypal')}/")
    reference = paypal.last_checkout()
    paypal.fake.subscriptions[reference]["subscriber"]["email_address"] = "dana.pp@example.org"

    deliver("paypal", paypal.start_monthly(reference)[1])

    old.refresh_from_db()
    new = RecurringDonation.objects.get(provider="paypal")
    assert old.status == RecurringDonation.Status.MOVED
    assert new.donor_id == old.donor_id  # one person, one donor record
    assert new.donations.get().donor_id == old.donor_id
    assert stripe.cancelled_at_processor() == ["sub_dana"]
    with pytest.raises(DonationStateError, match="moved to another processor"):
        services.cancel_recurring_donation(old.pk)
