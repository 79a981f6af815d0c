"""Gifts and signups that came from a send, as production serves them: a real received email
(aiosmtpd), its tagged link through `pressroom.wsgi.application` (visit counter, page cache,
Django), the donate page reached from that article, a Stripe checkout (the fake Stripe API on
loopback) completed by a webhook in Stripe's format, then the send's results in the admin.
No cookie is set or read anywhere on the way."""

from __future__ import annotations

import csv
import html
import io
import json
import re
import time
from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlencode, urlsplit
from wsgiref.util import setup_testing_defaults

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.utils import timezone

from pressroom.fundraising.models import Donation, Donor
from pressroom.fundraising.tests import conftest as fundraising_parts
from pressroom.lib import counting
from pressroom.lib.attribution import Source, clean_campaign, clean_path, referring_source
from pressroom.newsletter import fanout, results, sending, services, visits
from pressroom.newsletter.models import Digest, OneOffEmail, Subscriber
from pressroom.newsletter.tests import conftest as newsletter_parts
from pressroom.wsgi import application

pytestmark = pytest.mark.django_db
SITE = "http://testserver"
# The apps' own fixtures: the real SMTP server, readers, campaigns, the fake Stripe API, events.
smtp_server = newsletter_parts.smtp_server
make_subscriber = newsletter_parts.make_subscriber
make_campaign = fundraising_parts.make_campaign
fake_stripe = fundraising_parts.fake_stripe
post_event = fundraising_parts.post_event
checkout_completed = fundraising_parts.checkout_completed


@pytest.fixture(autouse=True)
def _keep_the_test_transaction(monkeypatch, settings):
    """The WSGI handler closes the connection after each request; the test's transaction must
    stay open (its rows are what the application reads)."""
    settings.SITE_URL = SITE
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    visits.forget_started_sends()
    monkeypatch.setattr(counting, "_last_flush", time.monotonic())
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)
    visits.forget_started_sends()


def serve(url: str, *, data: dict | None = None, referer: str = "") -> tuple[str, dict, str]:
    """One request through the production WSGI stack, with no cookie."""
    parts = urlsplit(url)
    body = urlencode(data or {}, doseq=True).encode()
    environ = {
        "REQUEST_METHOD": "POST" if data is not None else "GET",
        "PATH_INFO": parts.path,
        "QUERY_STRING": parts.query,
        "HTTP_HOST": "testserver",
        "HTTP_USER_AGENT": "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0",
        "REMOTE_ADDR": "192.0.2.10",
        "wsgi.input": io.BytesIO(body),
    }
    if data is not None:
        environ["CONTENT_TYPE"] = "application/x-www-form-urlencoded"
        environ["CONTENT_LENGTH"] = str(len(body))
    if referer:
        environ["HTTP_REFERER"] = referer
    setup_testing_defaults(environ)
    answer: dict = {}

    def start_response(status, response_headers, exc_info=None):
        answer["status"], answer["headers"] = status, response_headers

    chunks = application(environ, start_response)
    content = b"".join(chunks)
    if hasattr(chunks, "close"):
        chunks.close()
    headers = answer["headers"]
    assert not [value for name, value in headers if name.lower() == "set-cookie"]
    return answer["status"], dict(headers), content.decode()


def received_links(smtp_server, address: str) -> list[str]:
    [received] = smtp_server.to(address)
    return [html.unescape(link) for link in re.findall(r'href="([^"]+)"', received.html)]


def hidden_value(page: str, name: str) -> str:
    found = re.search(rf'<input type="hidden" name="{name}" value="([^"]*)"', page)
    return html.unescape(found.group(1)) if found else ""


def sent_appeal(article, make_subscriber, reader_email: str) -> OneOffEmail:
    make_subscriber(reader_email)
    now = timezone.now()
    send = OneOffEmail.objects.create(
        kind=Digest.Kind.APPEAL,
        subject="Before the year ends",
        body=f'<p>Read <a href="{SITE}{article.get_absolute_url()}">our reporting</a>.</p>',
        status=Digest.Status.DRAFT,
        date=now.date(),
        covers_from=now,
        covers_until=now,
    )
    services.start_send(send.pk)
    list(fanout.fan_out(send.pk))
    sending.send_all_batches(send.pk)
    send.refresh_from_db()
    return send


def test_a_gift_made_from_an_emails_link_is_counted_in_the_sends_results(
    smtp_server,
    make_subscriber,
    make_article,
    make_campaign,
    fake_stripe,
    post_event,
    audience_client,
):
    make_campaign()
    article = make_article(title="Miners march on Lima")
    send = sent_appeal(article, make_subscriber, "rosa@example.org")

    # The reader clicks the link in the email they received.
    link = next(
        url
        for url in received_links(smtp_server, "rosa@example.org")
        if urlsplit(url).path == article.get_absolute_url()
    )
    assert f"ref=email-{send.pk}" in link
    status, _headers, page = serve(link)
    assert status.startswith("200")
    assert f"email-{send.pk}" not in page  # the (cacheable) page never holds the tag
    donate_path = html.unescape(re.search(r'href="(/donate/[^"]*)"', page).group(1))

    # ... follows the page's donate link: the browser names the tagged page as its Referer.
    status, _headers, donate_page = serve(SITE + donate_path, referer=link)
    assert status.startswith("200")
    assert hidden_value(donate_page, "source_path") == article.get_absolute_url()
    assert hidden_value(donate_page, "source_campaign") == f"email-{send.pk}"
    action = re.search(r'<form class="donate-form" method="post" action="([^"]+)"', donate_page)

    # ... and gives: the hidden fields go with the checkout, as its metadata.
    status, _headers, _page = serve(
        SITE + action.group(1),
        data={
            "amount": "25",
            "frequency": "once",
            "email": "rosa@example.org",
            "source_path": hidden_value(donate_page, "source_path"),
            "source_campaign": hidden_value(donate_page, "source_campaign"),
        },
        referer=SITE + donate_path,
    )
    assert status.startswith("303"), status
    [call] = fake_stripe.calls("POST", "/v1/checkout/sessions")
    assert call.params["metadata[source_campaign]"] == f"email-{send.pk}"
    assert call.params["metadata[source_path]"] == article.get_absolute_url()

    # Stripe completes the checkout and sends its event, with the session's metadata.
    session = checkout_completed(amount_total=2500, email="rosa@example.org")
    session["created"] = int(time.time())  # opened by the click above, after the send started
    session["metadata"] = {
        key.removeprefix("metadata[").removesuffix("]"): value
        for key, value in call.params.items()
        if key.startswith("metadata[")
    }
    assert (
        post_event(
            {**_event("checkout.session.completed", session), "created": int(time.time())}
        ).status_code
        == 200
    )
    donation = Donation.objects.get()
    assert (donation.source_campaign, donation.source_path) == (
        f"email-{send.pk}",
        article.get_absolute_url(),
    )

    # The send's results: one visit, one gift of $25.
    visits.flush_visits()
    result = results.result_of(send)
    assert (result.visits, result.donations, result.donated) == (1, 1, "$25.00")
    page = audience_client.get(f"/admin/newsletter/oneoffemail/{send.pk}/results/").content
    text = page.decode()
    assert "<title>Donations: 1 ($25.00)</title>" in text
    assert re.search(r"<td>USD</td><td>1</td><td>\$25.00</td>", text)
    body = b"".join(
        audience_client.get("/admin/newsletter/oneoffemail/results.csv").streaming_content
    )
    rows = list(csv.DictReader(io.StringIO(body.decode().removeprefix("\ufeff"))))
    [row] = [row for row in rows if row["id"] == str(send.pk)]
    assert (row["visits"], row["donations"], row["donated"]) == ("1", "1", "$25.00")
    # The reports another screen builds on: per page, per tag.
    day = timedelta(days=1)
    now = timezone.now()
    assert list(Donation.objects.by_source_path(now - day, now + day)) == [
        {
            "source_path": article.get_absolute_url(),
            "currency": "USD",
            "donations": 1,
            "gross": Decimal(25),
            "net": Decimal(25),
        }
    ]
    assert [
        (row["source_campaign"], row["donations"])
        for row in Donation.objects.by_source_campaign(now - day, now + day)
    ] == [(f"email-{send.pk}", 1)]


def _event(event_type: str, data_object: dict) -> dict:
    return fundraising_parts.event(event_type, data_object)


def test_a_signup_from_a_tagged_article_keeps_the_page_and_the_send(
    smtp_server,
    make_subscriber,
    make_article,
):
    article = make_article(title="Miners march on Lima")
    send = sent_appeal(article, make_subscriber, "rosa@example.org")
    link = next(
        url
        for url in received_links(smtp_server, "rosa@example.org")
        if urlsplit(url).path == article.get_absolute_url()
    )
    _status, _headers, page = serve(link)
    # Forwarded to a friend, who signs up with the form on the article page.
    action = re.search(r'<form method="post" action="([^"]+)"', page).group(1)
    status, _headers, _body = serve(
        SITE + action, data={"email": "friend@example.org"}, referer=link
    )
    assert status.startswith("302")
    friend = Subscriber.objects.get(email="friend@example.org")
    assert (friend.source_path, friend.source_campaign) == (
        article.get_absolute_url(),
        f"email-{send.pk}",
    )
    # Review finding 11: a signup counts for the send once the address is confirmed.
    assert results.result_of(send).signups == 0
    friend.confirm()
    friend.save()
    assert results.result_of(send).signups == 1
    now, day = timezone.now(), timedelta(days=1)
    assert list(Subscriber.objects.by_source_path(now - day, now + day)) == [
        {"source_path": article.get_absolute_url(), "signups": 1, "confirmed": 1}
    ]
    assert [
        (row["source_campaign"], row["signups"])
        for row in Subscriber.objects.by_source_campaign(now - day, now + day)
    ] == [(f"email-{send.pk}", 1)]
    # A signup from another site's page (a forged Referer) names no page and no send.
    serve(
        SITE + action,
        data={"email": "elsewhere@example.org"},
        referer=f"https://elsewhere.example/x/?ref=email-{send.pk}",
    )
    elsewhere = Subscriber.objects.get(email="elsewhere@example.org")
    assert (elsewhere.source_path, elsewhere.source_campaign) == ("", "")


def test_forged_and_early_tags_are_not_a_sends_gifts(make_subscriber, make_campaign):
    now = timezone.now()
    send = OneOffEmail.objects.create(
        kind=Digest.Kind.APPEAL,
        subject="Appeal",
        body="<p>Give.</p>",
        status=Digest.Status.SENT,
        date=now.date(),
        covers_from=now,
        covers_until=now,
        started_at=now - timedelta(hours=1),
    )
    draft = OneOffEmail.objects.create(
        kind=Digest.Kind.APPEAL,
        subject="Draft",
        body="<p>Give.</p>",
        status=Digest.Status.DRAFT,
        date=now.date(),
        covers_from=now,
        covers_until=now,
    )
    donor = Donor.objects.create(email="dana@example.org")

    def gift(tag: str, at, reference: str) -> None:
        Donation.objects.create(
            donor=donor,
            amount=Decimal(10),
            currency="EUR",
            provider="stripe",
            provider_reference=reference,
            received_at=at,
            source_campaign=tag,
        )

    gift(f"email-{send.pk}", now - timedelta(hours=2), "pi_early")  # before the send started
    gift(f"email-{draft.pk}", now, "pi_draft")  # a send never started
    gift(f"email-{send.pk}", now, "pi_real")
    gift(f"email-{send.pk}", now, "pi_refunded")
    Donation.objects.filter(provider_reference="pi_refunded").update(
        status=Donation.Status.REFUNDED, refunded_amount=Decimal(10)
    )
    assert (results.result_of(send).donations, results.result_of(send).donated) == (1, "€10.00")
    assert results.result_of(draft).donations == 0


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        ("/articles/2026/11/miners/", "/articles/2026/11/miners/"),
        ("//evil.example/", ""),
        ("/\\evil.example/", ""),
        ("https://evil.example/", ""),
        ("/a?b=1", ""),
        ("/a b", ""),
        ('/a"><script>', ""),
        ("/" + "a" * 299, "/" + "a" * 299),
        ("/" + "a" * 300, ""),
        (None, ""),
    ],
)
def test_a_source_path_is_a_bounded_local_path(value, kept):
    assert clean_path(value) == kept


def test_a_campaign_tag_is_a_bounded_send_tag():
    assert clean_campaign("email-12") == "email-12"
    for forged in ("email-0", "email-" + "9" * 11, "email-12x", "EMAIL-12", "x" * 500, 12):
        assert clean_campaign(forged) == ""
    assert referring_source({"HTTP_REFERER": "http://testserver/a/?ref=email-3"}, "testserver") == (
        Source(path="/a/", campaign="email-3")
    )
    for referer in (
        "http://other/a/?ref=email-3",
        "javascript:alert(1)",
        "http://[::1",
        "x" * 3000,
    ):
        assert referring_source({"HTTP_REFERER": referer}, "testserver") == Source()


def test_a_donate_post_with_forged_hidden_fields_stores_nothing_of_them(
    client,
    make_campaign,
    fake_stripe,
):
    make_campaign()
    response = client.post(
        "/donate/",
        {
            "amount": "25",
            "email": "dana@example.org",
            "source_path": "https://evil.example/" + "x" * 5000,
            "source_campaign": "email-1; drop table",
        },
    )
    assert response.status_code == 303
    [call] = fake_stripe.calls("POST", "/v1/checkout/sessions")
    assert "metadata[source_path]" not in call.params
    assert "metadata[source_campaign]" not in call.params
    assert json.dumps(call.params).count("evil") == 0


@pytest.mark.django_db(transaction=True)  # SQLite's schema editor runs outside a transaction
@pytest.mark.parametrize(("app", "migration"), [("newsletter", "0007"), ("fundraising", "0012")])
def test_the_attribution_migrations_add_columns_without_rebuilding_the_table(app, migration):
    """Review finding 13: on SQLite an AddField rebuilds the table (every row copied under a
    write lock); these add their columns in place, and build the index CONCURRENTLY on
    PostgreSQL."""
    from django.core.management import call_command
    from django.db import connection

    output = io.StringIO()
    call_command("sqlmigrate", app, migration, stdout=output)
    sql = output.getvalue()
    assert "CREATE TABLE" not in sql
    assert sql.count("ADD COLUMN") == 2
    concurrently = "CONCURRENTLY " if connection.vendor == "postgresql" else ""
    assert f'CREATE INDEX {concurrently}"' in sql
