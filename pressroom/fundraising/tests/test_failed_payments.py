"""Failed monthly payments (issue #19, point 4): the donor is asked once to update their card
through a signed link that opens Stripe's billing portal, staff hear of it once, and a gift
Stripe gives up on lapses with one last email inviting the donor back. Stripe's events come
duplicated, delayed and in any order; the real task worker sends to a real SMTP server."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable

import pytest
from django.core import signing
from django.core.management import call_command

from pressroom.fundraising import receipts
from pressroom.fundraising.models import (
    Donation,
    PaymentFailure,
    RecurringDonation,
    WebhookEvent,
)
from pressroom.fundraising.tests.conftest import (
    event,
    invoice_paid,
    invoice_payment_failed,
    monthly_gift_started,
    new_id,
    subscription_ended_by_failed_payments,
)
from pressroom.site.models import SiteSettings

pytestmark = pytest.mark.django_db(transaction=True)

DONOR = "dana@example.org"
STAFF = "treasurer@example.org"
CARD_SUBJECT = "Your monthly donation of $10.00 to Pressroom News did not go through"
LAPSE_SUBJECT = "Your monthly donation to Pressroom News has ended"
CANCELLED_SUBJECT = "Your monthly donation to Pressroom News has stopped"


def run_worker() -> None:
    call_command("worker", batch=True, verbosity=0)


def bodies(message) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    return text, html


def subjects(mailbox, address: str) -> list[str]:
    return [message["Subject"] for message in mailbox.to(address)]


@pytest.fixture
def outlet(db, settings):
    settings.FUNDRAISING_STAFF_EMAILS = [STAFF]
    SiteSettings.objects.create(id=1, name="Pressroom News", organisation_name="Pressroom News")


@pytest.fixture
def gift():
    """The ids of one monthly gift of $10.00 and of its invoice that fails."""
    return {
        "subscription": new_id("sub"),
        "invoice": new_id("in"),
        "customer": "cus_" + new_id("x")[2:16],
    }


def failed(gift: dict, *, attempt: int = 1, event_type: str = "invoice.payment_failed") -> dict:
    return event(
        event_type,
        invoice_payment_failed(
            invoice_id=gift["invoice"],
            subscription=gift["subscription"],
            amount_due=1000,
            customer=gift["customer"],
            attempt_count=attempt,
        ),
    )


def lapsed(gift: dict, *, status: str = "canceled") -> dict:
    event_type = (
        "customer.subscription.deleted" if status == "canceled" else "customer.subscription.updated"
    )
    return event(
        event_type,
        subscription_ended_by_failed_payments(subscription=gift["subscription"], status=status),
    )


def card_link(message) -> str:
    text, _ = bodies(message)
    match = re.search(r"http://\S+/donate/card/(\S+)/", text)
    assert match, text
    return f"/donate/card/{match.group(1)}/"


def test_a_declined_payment_emails_the_donor_a_card_link_and_staff_once(
    client, campaign, post_event, fake_stripe, smtp_server, outlet, gift
):
    post_event(monthly_gift_started(gift["subscription"]))
    declined = failed(gift)
    post_event(declined)
    post_event(declined)  # Stripe delivers it again
    run_worker()
    # Stripe retries: a second attempt fails, and the bank asks for confirmation of the same
    # invoice. The donor already has the link: no more email about this payment.
    post_event(failed(gift, attempt=2))
    post_event(failed(gift, attempt=2, event_type="invoice.payment_action_required"))
    run_worker()

    assert subjects(smtp_server, DONOR).count(CARD_SUBJECT) == 1
    [message] = [m for m in smtp_server.to(DONOR) if m["Subject"] == CARD_SUBJECT]
    text, html = bodies(message)
    assert "your card was declined" in text
    assert "Update your card" in html
    [staff] = smtp_server.to(STAFF)
    assert staff["Subject"] == "Monthly payment failed: $10.00 from dana@example.org"
    staff_text, _ = bodies(staff)
    assert gift["invoice"] in staff_text
    assert "/admin/fundraising/recurringdonation/" in staff_text

    failure = PaymentFailure.objects.get()
    assert failure.attempts == 2
    assert RecurringDonation.objects.get().status == RecurringDonation.Status.ACTIVE
    assert {e.status for e in WebhookEvent.objects.all()} == {WebhookEvent.Status.PROCESSED}
    # The billing portal session is made when the donor opens the link, never in the webhook.
    assert fake_stripe.calls("POST", "/v1/billing_portal/sessions") == []

    response = client.get(card_link(message))
    assert response.status_code == 302
    assert response["Location"].startswith("https://billing.stripe.com/p/session/test_bps_")
    [portal_call] = fake_stripe.calls("POST", "/v1/billing_portal/sessions")
    assert portal_call.params["customer"] == gift["customer"]
    assert portal_call.params["flow_data[type]"] == "payment_method_update"
    assert portal_call.params["return_url"].startswith("http")
    assert "/donate/portal/" in portal_call.params["return_url"]


def test_a_payment_that_needs_the_donors_confirmation_says_so(
    client, campaign, post_event, stripe_keys, smtp_server, outlet, gift
):
    post_event(monthly_gift_started(gift["subscription"]))
    post_event(failed(gift, event_type="invoice.payment_action_required"))
    run_worker()
    [message] = smtp_server.to(DONOR)[1:]
    assert message["Subject"] == "Please confirm your monthly donation of $10.00 to Pressroom News"
    assert "Your bank asks you to confirm" in bodies(message)[0]
    [staff] = smtp_server.to(STAFF)
    assert "awaiting the donor's confirmation" in staff["Subject"]
    assert PaymentFailure.objects.get().kind == PaymentFailure.Kind.ACTION_REQUIRED


def test_the_card_link_never_fails_with_an_error_page(
    client, campaign, post_event, fake_stripe, smtp_server, outlet, gift
):
    post_event(monthly_gift_started(gift["subscription"]))
    post_event(failed(gift))
    run_worker()
    [message] = [m for m in smtp_server.to(DONOR) if m["Subject"] == CARD_SUBJECT]
    link = card_link(message)

    fake_stripe.fail_with = 500
    response = client.get(link)
    assert response.status_code == 503
    assert "could not reach our payment processor" in response.content.decode()

    forged = client.get("/donate/card/" + signing.dumps({"recurring": 1}, salt="other") + "/")
    assert forged.status_code == 404
    assert "does not work any more" in forged.content.decode()

    # Once the gift has lapsed there is no card to update: a clear page, no call to Stripe.
    fake_stripe.fail_with = None
    post_event(lapsed(gift))
    calls_before = len(fake_stripe.calls("POST", "/v1/billing_portal/sessions"))
    response = client.get(link)
    assert response.status_code == 409
    assert "has stopped" in response.content.decode()
    assert len(fake_stripe.calls("POST", "/v1/billing_portal/sessions")) == calls_before


def test_a_failure_reported_after_its_retry_was_paid_emails_nobody(
    client, campaign, post_event, stripe_keys, smtp_server, outlet, gift
):
    post_event(monthly_gift_started(gift["subscription"]))
    post_event(
        event(
            "invoice.paid",
            invoice_paid(
                invoice_id=gift["invoice"], subscription=gift["subscription"], amount_paid=1000
            ),
        )
    )
    post_event(failed(gift))  # delayed: the retry that paid it came first
    run_worker()
    assert CARD_SUBJECT not in subjects(smtp_server, DONOR)
    assert smtp_server.to(STAFF) == []
    assert PaymentFailure.objects.get().recovered_at is not None


def test_a_retry_that_pays_marks_the_failure_recovered(
    client, campaign, post_event, stripe_keys, smtp_server, outlet, gift
):
    post_event(monthly_gift_started(gift["subscription"]))
    post_event(failed(gift))
    post_event(
        event(
            "invoice.paid",
            invoice_paid(
                invoice_id=gift["invoice"], subscription=gift["subscription"], amount_paid=1000
            ),
        )
    )
    failure = PaymentFailure.objects.get()
    assert failure.recovered_at is not None
    assert Donation.objects.filter(provider_reference=gift["invoice"]).count() == 1
    run_worker()
    # The card email was queued before the retry paid; the worker finds it recovered.
    assert CARD_SUBJECT not in subjects(smtp_server, DONOR)


@pytest.mark.parametrize("status", ["canceled", "unpaid"])
def test_a_gift_stripe_gives_up_on_lapses_with_one_last_email(
    client, campaign, post_event, stripe_keys, smtp_server, outlet, gift, status, settings
):
    post_event(monthly_gift_started(gift["subscription"]))
    post_event(failed(gift))
    run_worker()
    ended = lapsed(gift, status=status)
    post_event(ended)
    post_event(ended)  # repeated
    post_event(lapsed(gift))  # and the deletion that follows an "unpaid"
    run_worker()

    recurring = RecurringDonation.objects.get()
    assert recurring.status == RecurringDonation.Status.LAPSED
    assert recurring.lapsed_at is not None
    assert recurring.cancelled_at is None
    donor_subjects = subjects(smtp_server, DONOR)
    assert donor_subjects.count(LAPSE_SUBJECT) == 1
    assert CANCELLED_SUBJECT not in donor_subjects
    [last] = [m for m in smtp_server.to(DONOR) if m["Subject"] == LAPSE_SUBJECT]
    text, html = bodies(last)
    assert "You will not be charged again. You did not cancel it" in text
    donate_url = settings.SITE_URL + campaign.get_absolute_url()
    assert donate_url in text
    assert f'href="{donate_url}"' in html
    # The donor's page says what happened.
    page = client.get(receipts.portal_url(recurring.donor).split("testserver", 1)[-1])
    assert "after payments failed" in page.content.decode()


def test_a_subscription_cancelled_for_another_reason_is_not_a_lapse(
    client, campaign, post_event, stripe_keys, outlet, gift
):
    post_event(monthly_gift_started(gift["subscription"]))
    post_event(
        event(
            "customer.subscription.updated",
            subscription_ended_by_failed_payments(
                subscription=gift["subscription"], status="past_due"
            ),
        )
    )
    assert RecurringDonation.objects.get().status == RecurringDonation.Status.ACTIVE


# Every order of the gift's story: it starts, a payment fails, Stripe gives up. Each event is
# delivered twice, and the worker runs between deliveries (emails go as events arrive).
STORY: dict[str, Callable[[dict], dict]] = {
    "started": lambda gift: monthly_gift_started(gift["subscription"]),
    "failed": failed,
    "lapsed": lapsed,
}


@pytest.mark.parametrize("order", list(itertools.permutations(STORY)), ids="-".join)
def test_events_in_every_order_duplicated_and_delayed(
    client, campaign, post_event, stripe_keys, smtp_server, outlet, gift, order
):
    events = {name: STORY[name](gift) for name in order}
    for name in order:
        post_event(events[name])
        run_worker()
        post_event(events[name])
        run_worker()

    recurring = RecurringDonation.objects.get()
    assert recurring.status == RecurringDonation.Status.LAPSED
    assert recurring.campaign == campaign
    assert PaymentFailure.objects.get().recurring_donation == recurring
    assert not WebhookEvent.objects.filter(status=WebhookEvent.Status.WAITING).exists()
    donor_subjects = subjects(smtp_server, DONOR)
    assert donor_subjects.count(LAPSE_SUBJECT) == 1
    assert CANCELLED_SUBJECT not in donor_subjects
    # The card email goes only while there is a card to update: before the lapse.
    expected_card_emails = 1 if order.index("failed") < order.index("lapsed") else 0
    assert donor_subjects.count(CARD_SUBJECT) == expected_card_emails
    assert len(smtp_server.to(STAFF)) == 1


def test_staff_see_lapsed_gifts_and_failed_payment_counts_in_the_admin(
    fundraiser_client, campaign, post_event, stripe_keys, outlet, gift
):
    post_event(monthly_gift_started(gift["subscription"]))
    post_event(failed(gift))
    second = dict(gift, invoice=new_id("in"))
    post_event(failed(second))
    post_event(lapsed(gift))
    active = new_id("sub")
    post_event(monthly_gift_started(active))

    listing = fundraiser_client.get("/admin/fundraising/recurringdonation/?status__exact=lapsed")
    assert listing.status_code == 200
    page = listing.content.decode()
    assert "Lapsed (payments failed)" in page
    assert 'class="field-failed_payments">2<' in page
    assert listing.context["cl"].result_count == 1
    everything = fundraiser_client.get("/admin/fundraising/recurringdonation/")
    assert everything.context["cl"].result_count == 2
    recurring = RecurringDonation.objects.get(status=RecurringDonation.Status.LAPSED)
    detail = fundraiser_client.get(f"/admin/fundraising/recurringdonation/{recurring.pk}/change/")
    assert detail.status_code == 200
    assert gift["invoice"] in detail.content.decode()
    assert second["invoice"] in detail.content.decode()


def test_a_lapsed_gift_cannot_be_cancelled_again_and_says_why(
    client, campaign, post_event, fake_stripe, outlet, gift
):
    post_event(monthly_gift_started(gift["subscription"]))
    post_event(lapsed(gift))
    recurring = RecurringDonation.objects.get()
    response = client.post(
        f"/donate/portal/{receipts.portal_token(recurring.donor)}/cancel/{recurring.pk}/",
        follow=True,
    )
    assert response.status_code == 200
    assert "already ended after failed payments" in response.content.decode()
    assert fake_stripe.calls("DELETE", "/v1/subscriptions/") == []
    recurring.refresh_from_db()
    assert recurring.status == RecurringDonation.Status.LAPSED
    assert recurring.cancelled_at is None


def test_a_gift_left_unpaid_is_cancelled_at_stripe_so_it_cannot_charge_again(
    client, campaign, post_event, fake_stripe, smtp_server, outlet, gift
):
    """Stripe's "unpaid" keeps the subscription: paying its open invoice later would start the
    monthly charges again while Pressroom shows the gift lapsed and offers no way to stop it."""
    post_event(monthly_gift_started(gift["subscription"]))
    post_event(failed(gift))
    post_event(lapsed(gift, status="unpaid"))
    post_event(lapsed(gift, status="unpaid"))  # delivered again
    run_worker()
    run_worker()

    recurring = RecurringDonation.objects.get()
    assert recurring.status == RecurringDonation.Status.LAPSED
    assert recurring.stop_confirmed_at is not None
    assert recurring.stop_next_attempt_at is None
    assert len(fake_stripe.calls("DELETE", f"/v1/subscriptions/{gift['subscription']}")) == 1
    assert subjects(smtp_server, DONOR).count(LAPSE_SUBJECT) == 1
