"""The donate page: a reader picks an amount and a frequency and is sent to Stripe Checkout."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from pressroom.fundraising.money import AmountError, from_minor_units, parse_amount, to_minor_units


def test_amounts_convert_exactly_to_minor_units_for_each_kind_of_currency():
    assert to_minor_units(Decimal("25.50"), "USD") == 2550
    assert to_minor_units(Decimal("0.10"), "EUR") == 10
    assert to_minor_units(Decimal("2500"), "JPY") == 2500
    assert to_minor_units(Decimal("1.234"), "KWD") == 1234
    assert from_minor_units(2550, "usd") == Decimal("25.50")
    assert from_minor_units(2500, "JPY") == Decimal("2500")
    with pytest.raises(AmountError, match="whole numbers"):
        parse_amount("25.5", "JPY")
    with pytest.raises(AmountError, match="at most 2 decimals"):
        parse_amount("25.505", "USD")


def test_reader_sees_preset_amounts_frequency_email_and_name_fields(client, campaign, stripe_keys):
    response = client.get("/donate/")
    page = response.content.decode()
    assert response.status_code == 200
    assert "Urgent End Of Year Fundraising Campaign" in page
    for preset in ("10", "25", "50", "100"):
        assert f'name="amount" value="{preset}"' in page
    assert 'name="custom_amount"' in page
    assert 'value="monthly"' in page
    assert 'value="once"' in page
    assert 'name="email"' in page
    assert 'name="name"' in page
    assert "no-store" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


def test_query_string_prefills_amount_and_monthly_frequency(client, campaign, stripe_keys):
    page = client.get("/donate/?amount=25&frequency=monthly").content.decode()
    assert 'name="amount" value="25" checked' in page
    assert 'value="monthly" checked' in page


def test_query_string_with_an_amount_outside_the_presets_fills_the_other_amount(
    client, campaign, stripe_keys
):
    page = client.get("/donate/?amount=37.50").content.decode()
    assert 'value="other" checked' in page
    assert 'id="id_custom_amount" value="37.50"' in page


def test_one_time_gift_opens_a_payment_checkout_session_carrying_the_campaign(
    client, campaign, fake_stripe
):
    response = client.post(
        "/donate/",
        {"amount": "25", "frequency": "once", "email": "dana@example.org", "name": "Dana"},
    )
    assert response.status_code == 303
    assert response["Location"].startswith("https://checkout.stripe.com/c/pay/cs_test_")
    [call] = fake_stripe.calls("POST", "/v1/checkout/sessions")
    assert call.headers["Authorization"] == "Bearer sk_test_pressroom"
    params = call.params
    assert params["mode"] == "payment"
    assert params["line_items[0][price_data][unit_amount]"] == "2500"
    assert params["line_items[0][price_data][currency]"] == "usd"
    assert params["line_items[0][quantity]"] == "1"
    assert "line_items[0][price_data][recurring][interval]" not in params
    assert params["customer_email"] == "dana@example.org"
    assert params["client_reference_id"] == "end-of-year"
    assert params["metadata[campaign]"] == "end-of-year"
    assert params["payment_intent_data[metadata][campaign]"] == "end-of-year"
    assert params["success_url"].endswith("/donate/thanks/?session_id={CHECKOUT_SESSION_ID}")
    assert params["cancel_url"].endswith("/donate/cancelled/")


def test_monthly_gift_opens_a_subscription_checkout_with_a_monthly_price(
    client, campaign, fake_stripe
):
    response = client.post(
        "/donate/end-of-year/",
        {
            "amount": "other",
            "custom_amount": "12.50",
            "frequency": "monthly",
            "email": "ana@example.org",
        },
    )
    assert response.status_code == 303
    [call] = fake_stripe.calls("POST", "/v1/checkout/sessions")
    assert call.params["mode"] == "subscription"
    assert call.params["line_items[0][price_data][unit_amount]"] == "1250"
    assert call.params["line_items[0][price_data][recurring][interval]"] == "month"
    assert call.params["subscription_data[metadata][campaign]"] == "end-of-year"


def test_zero_decimal_currency_amount_is_sent_as_whole_units(client, make_campaign, fake_stripe):
    make_campaign(
        slug="nenmatsu", currency="JPY", goal_amount=Decimal(1000000), preset_amounts="1000, 3000"
    )
    response = client.post("/donate/nenmatsu/", {"amount": "3000", "email": "kenji@example.org"})
    assert response.status_code == 303
    [call] = fake_stripe.calls("POST", "/v1/checkout/sessions")
    assert call.params["line_items[0][price_data][unit_amount]"] == "3000"
    assert call.params["line_items[0][price_data][currency]"] == "jpy"


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("abc", "Enter an amount as a number"),
        ("-5", "greater than zero"),
        ("0", "greater than zero"),
        ("25.555", "at most 2 decimals"),
        ("0.20", "below the smallest gift"),
        ("", "Choose or enter an amount"),
    ],
)
def test_bad_amount_re_renders_the_form_with_a_message_and_charges_nothing(
    client, campaign, fake_stripe, amount, message
):
    response = client.post(
        "/donate/", {"amount": "other", "custom_amount": amount, "email": "dana@example.org"}
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert message in page
    assert 'value="dana@example.org"' in page
    assert fake_stripe.calls("POST", "/v1/checkout/sessions") == []


def test_fractional_yen_is_refused_with_a_clear_message(client, make_campaign, fake_stripe):
    make_campaign(
        slug="nenmatsu", currency="JPY", goal_amount=Decimal(1000000), preset_amounts="1000"
    )
    response = client.post("/donate/nenmatsu/", {"amount": "1500.50", "email": "kenji@example.org"})
    assert response.status_code == 400
    assert "JPY amounts are whole numbers" in response.content.decode()
    assert fake_stripe.calls("POST", "/v1/checkout/sessions") == []


def test_missing_email_re_renders_with_a_message(client, campaign, fake_stripe):
    response = client.post("/donate/", {"amount": "25", "email": "not-an-address"})
    assert response.status_code == 400
    assert "Enter a valid email address" in response.content.decode()


def test_partner_site_can_post_without_a_csrf_token(campaign, fake_stripe):
    partner_browser = Client(enforce_csrf_checks=True)
    response = partner_browser.post(
        "/donate/", {"amount": "50", "frequency": "once", "email": "partner-reader@example.org"}
    )
    assert response.status_code == 303


def test_without_stripe_keys_the_page_says_online_giving_is_not_configured(
    client, campaign, settings
):
    settings.STRIPE_SECRET_KEY = ""
    page = client.get("/donate/").content.decode()
    assert "Online giving is not configured" in page
    response = client.post("/donate/", {"amount": "25", "email": "dana@example.org"})
    assert response.status_code == 503
    assert "Online giving is not configured" in response.content.decode()


def test_when_stripe_is_down_the_reader_is_told_and_nothing_is_lost(client, campaign, fake_stripe):
    fake_stripe.fail_with = 500
    response = client.post(
        "/donate/", {"amount": "25", "email": "dana@example.org", "name": "Dana"}
    )
    assert response.status_code == 503
    page = response.content.decode()
    assert "could not reach our payment processor" in page
    assert 'value="dana@example.org"' in page


def test_donating_without_a_running_campaign_still_works(client, fake_stripe, db):
    response = client.post("/donate/", {"amount": "10", "email": "dana@example.org"})
    assert response.status_code == 303
    [call] = fake_stripe.calls("POST", "/v1/checkout/sessions")
    assert "client_reference_id" not in call.params
    assert call.params["metadata[campaign]"] == ""


def test_thank_you_and_cancel_pages_are_personal_and_never_cached(client, db):
    for path, text in (
        ("/donate/thanks/", "Thank you"),
        ("/donate/cancelled/", "Nothing was charged"),
    ):
        response = client.get(path)
        assert response.status_code == 200
        assert text in response.content.decode()
        assert "no-cache" in response["Cache-Control"]


def test_unknown_campaign_is_a_404(client, db):
    assert client.get("/donate/no-such-campaign/").status_code == 404


def test_donate_posts_are_limited_per_address_before_reaching_the_processor(
    client, campaign, fake_stripe, settings
):
    settings.DONATE_CHECKOUTS_PER_IP_PER_HOUR = 3
    gift = {"amount": "25", "frequency": "once", "email": "dana@example.org"}
    for _ in range(3):
        assert client.post("/donate/", gift).status_code == 303
    refused = client.post("/donate/", gift)
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert "Too many donation attempts" in refused.content.decode()
    assert len(fake_stripe.calls("POST", "/v1/checkout/sessions")) == 3
    # Another reader, elsewhere, still gives.
    assert client.post("/donate/", gift, REMOTE_ADDR="198.51.100.9").status_code == 303


@pytest.mark.django_db(transaction=True)
def test_a_slow_processor_holds_at_most_half_the_threads_of_a_process(campaign, settings):
    """With 4 threads, 2 donations may wait on the processor; a third is told at once."""
    import threading
    import time

    from pressroom.fundraising import services
    from pressroom.fundraising.tests.conftest import running_fake_stripe

    settings.WEB_THREADS = 4
    # Only the processor slots here (the per-address count is tested above, and SQLite's
    # in-memory test database cannot take writes from several threads at once).
    settings.DONATE_CHECKOUTS_PER_IP_PER_HOUR = 0
    services._processor_slots.cache_clear()
    gift = {"amount": "25", "frequency": "once", "email": "dana@example.org"}
    held = threading.Semaphore(0)
    with running_fake_stripe(gate=held) as slow:
        settings.STRIPE_SECRET_KEY = "sk_test_pressroom"
        settings.STRIPE_API_BASE = slow.base_url
        answers: list[int] = []

        def donate() -> None:
            answers.append(Client().post("/donate/", gift).status_code)

        waiting = [threading.Thread(target=donate) for _ in range(2)]
        for thread in waiting:
            thread.start()
        deadline = time.monotonic() + 10
        while slow.in_flight < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert slow.in_flight == 2, "both donations wait at the processor"
        started = time.monotonic()
        refused = Client().post("/donate/", gift)
        assert time.monotonic() - started < 4, "refused without waiting for the processor"
        assert refused.status_code == 503
        assert "answering slowly" in refused.content.decode()
        # The processor answers the held donations one after the other.
        for answered in (1, 2):
            held.release()
            deadline = time.monotonic() + 30
            while len(answers) < answered and time.monotonic() < deadline:
                time.sleep(0.02)
        for thread in waiting:
            thread.join(timeout=30)
        assert answers == [303, 303]
        assert len(slow.calls("POST", "/v1/checkout/sessions")) == 2
    services._processor_slots.cache_clear()
