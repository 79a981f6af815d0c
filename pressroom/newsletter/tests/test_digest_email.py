"""The digest as a reader receives it over real SMTP, and the links in it, followed."""

from __future__ import annotations

import base64
import re
import subprocess
from datetime import timedelta

import dkim
import pytest
from django.test import Client
from django.utils import timezone

from pressroom.newsletter import sending, tasks
from pressroom.newsletter.models import Delivery, Digest, Subscriber
from pressroom.newsletter.tests.conftest import build_digest, path_of
from pressroom.publishing import services as publishing
from pressroom.publishing.models import Topic


def send_today() -> Digest:
    digest, created = tasks.build_and_queue_digest()
    assert created
    sending.send_all_batches(digest.pk)
    digest.refresh_from_db()
    return digest


def unsubscribe_url(received) -> str:
    header = str(received.message["List-Unsubscribe"])
    return re.search(r"<(https?://[^>]+)>", header).group(1)


@pytest.mark.django_db(transaction=False)
def test_reader_receives_digest_with_list_headers_both_parts_and_campaign_slot(
    smtp_server, reader, make_article, settings
):
    settings.SITE_URL = "https://news.example.org"
    make_article("Miners march on Lima", editor_excerpt="Thousands marched & sang.")

    digest = send_today()

    [received] = smtp_server.to("rosa@example.org")
    message = received.message
    assert message["To"] == "rosa@example.org"
    assert message["Subject"] == digest.subject
    assert "Miners march on Lima" in digest.subject
    assert message["Message-ID"].startswith(f"<digest-{digest.pk}-{reader.pk}@")
    assert message["Date"] is not None
    assert message["List-Id"].endswith("<digest.news.example.org>")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert unsubscribe_url(received).startswith("https://news.example.org/digest/unsubscribe/")
    # Both parts: titles, excerpts (not HTML-escaped in text), links, visible unsubscribe.
    assert "Miners march on Lima" in received.text
    assert "Thousands marched & sang." in received.text
    assert "Thousands marched &amp; sang." in received.html
    assert "https://news.example.org/articles/" in received.text
    assert 'href="https://news.example.org/articles/' in received.html
    assert unsubscribe_url(received) in received.text
    assert unsubscribe_url(received) in received.html
    assert f"https://news.example.org/digest/{digest.date.isoformat()}/" in received.html
    assert "Peru" in received.html  # grouped under the article's topic
    assert digest.status == Digest.Status.SENT
    assert Delivery.objects.get(digest=digest, subscriber=reader).state == Delivery.State.SENT


@pytest.mark.django_db
def test_one_click_unsubscribe_post_from_the_header_works_and_get_only_asks(
    smtp_server, reader, make_article, client
):
    make_article()
    digest = send_today()
    [received] = smtp_server.to("rosa@example.org")
    url = path_of(unsubscribe_url(received))

    page = client.get(url)  # what a link scanner does
    assert page.status_code == 200
    assert b"Unsubscribe from the Daily Digest?" in page.content
    reader.refresh_from_db()
    assert reader.status == Subscriber.Status.CONFIRMED

    # What the mail client does (RFC 8058): POST, no cookie, no CSRF token.
    mail_client = Client(enforce_csrf_checks=True)
    response = mail_client.post(url, {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    reader.refresh_from_db()
    assert reader.status == Subscriber.Status.UNSUBSCRIBED
    assert reader.unsubscribed_from == digest
    assert Digest.objects.with_counts().get(pk=digest.pk).unsubscribed_count == 1


@pytest.mark.django_db
def test_reader_changes_topics_pauses_and_resubscribes_from_the_preferences_link(
    smtp_server, reader, make_article, client
):
    make_article()
    send_today()
    [received] = smtp_server.to("rosa@example.org")
    link = re.search(r"https?://\S+/digest/preferences/\S+/", received.text).group(0)
    url = path_of(link)
    peru = Topic.objects.get(name="Peru")
    chile = publishing.save_topic(Topic(name="Chile"))

    assert client.get(url).status_code == 200
    response = client.post(url, {"selection": "chosen", "topics": [chile.pk], "is_paused": "on"})
    assert response.status_code == 200
    reader.refresh_from_db()
    assert not reader.all_topics
    assert list(reader.topics.all()) == [chile]
    assert reader.is_paused

    client.post(url, {"selection": "all", "topics": [peru.pk]})
    client.post(url, {"unsubscribe": "1"})
    reader.refresh_from_db()
    assert reader.status == Subscriber.Status.UNSUBSCRIBED
    assert reader.all_topics
    assert not reader.is_paused

    page = client.post(url, {"resubscribe": "1"})
    assert b"Resubscribe" not in page.content
    reader.refresh_from_db()
    assert reader.status == Subscriber.Status.CONFIRMED


@pytest.mark.django_db
def test_preferences_and_unsubscribe_pages_are_never_cached(reader, client):
    from pressroom.newsletter import tokens

    for url in (
        f"/digest/preferences/{tokens.preferences_token(reader.pk)}/",
        f"/digest/unsubscribe/{tokens.unsubscribe_token(reader.pk)}/",
    ):
        response = client.get(url)
        assert response.status_code == 200
        assert "no-cache" in response["Cache-Control"]
        assert "private" in response["Cache-Control"]


@pytest.mark.django_db
def test_reader_who_chose_topics_gets_only_those_and_nothing_when_none_match(
    smtp_server, make_subscriber, make_article
):
    peru = Topic.objects.get_or_create(slug="peru", defaults={"name": "Peru"})[0]
    chile = publishing.save_topic(Topic(name="Chile"))
    bolivia = publishing.save_topic(Topic(name="Bolivia"))
    make_article("Miners march on Lima", topics=[peru])
    make_article("Students occupy Santiago campus", topics=[chile])
    make_subscriber("ana@example.org", topics=[chile])
    make_subscriber("beto@example.org", topics=[bolivia])
    make_subscriber("rosa@example.org")

    send_today()

    [ana] = smtp_server.to("ana@example.org")
    assert "Students occupy Santiago campus" in ana.text
    assert "Miners march on Lima" not in ana.text
    assert "Miners march on Lima" not in ana.html
    assert smtp_server.to("beto@example.org") == []
    [rosa] = smtp_server.to("rosa@example.org")
    assert "Miners march on Lima" in rosa.text
    assert "Santiago" in rosa.text


@pytest.mark.django_db
def test_nobody_unconfirmed_paused_or_suppressed_gets_the_digest(
    smtp_server, make_subscriber, make_article
):
    make_article()
    make_subscriber("pending@example.org", status="pending")
    make_subscriber("paused@example.org", is_paused=True)
    make_subscriber("gone@example.org", status="unsubscribed")
    make_subscriber("bounced@example.org", status="bounced")
    make_subscriber("rosa@example.org")

    send_today()

    assert [m.recipients for m in smtp_server.messages] == [["rosa@example.org"]]


@pytest.mark.django_db
@pytest.mark.parametrize("pipelining", [False, True], ids=["plain-smtp", "pipelining"])
def test_recipient_refused_with_5xx_is_suppressed_and_counted_as_bounced(
    smtp_server, make_subscriber, make_article, pipelining
):
    smtp_server.pipelining = pipelining
    make_article()
    make_subscriber("rosa@example.org")
    gone = make_subscriber("gone@example.org")
    full = make_subscriber("full@example.org")
    smtp_server.refuse["gone@example.org"] = "550 5.1.1 No such user"
    smtp_server.refuse["full@example.org"] = "452 4.2.2 Mailbox full"

    digest = send_today()

    gone.refresh_from_db()
    full.refresh_from_db()
    assert gone.status == Subscriber.Status.BOUNCED
    assert "550" in gone.suppression_reason
    assert full.status == Subscriber.Status.CONFIRMED  # a temporary failure is not a bounce
    counts = Digest.objects.with_counts().get(pk=digest.pk)
    assert (counts.recipient_count, counts.sent_count) == (3, 1)
    assert (counts.bounced_count, counts.failed_count) == (1, 1)
    assert len(smtp_server.to("rosa@example.org")) == 1


@pytest.mark.django_db
def test_digest_is_dkim_signed_when_a_key_is_configured(
    smtp_server, reader, make_article, settings, tmp_path
):
    from pressroom.lib import email as lib_email

    key_path = tmp_path / "dkim.pem"
    subprocess.run(
        ["openssl", "genrsa", "-traditional", "-out", str(key_path), "2048"],
        check=True,
        capture_output=True,
    )
    public = subprocess.run(
        ["openssl", "rsa", "-in", str(key_path), "-pubout", "-outform", "DER"],
        check=True,
        capture_output=True,
    ).stdout
    settings.DKIM_PRIVATE_KEY_PATH = str(key_path)
    settings.DKIM_SELECTOR = "digest"
    settings.DKIM_DOMAIN = "example.org"
    lib_email._dkim_key.cache_clear()
    make_article()
    try:
        send_today()
    finally:
        lib_email._dkim_key.cache_clear()

    [received] = smtp_server.to("rosa@example.org")
    raw = received.raw
    assert b"DKIM-Signature" in raw
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)

    def dns(name: bytes, timeout: int = 5) -> bytes:
        assert name == b"digest._domainkey.example.org."
        return record

    assert dkim.verify(raw, dnsfunc=dns)
    signed = received.message["DKIM-Signature"]
    assert "list-unsubscribe" in signed.lower()

    # The one-off emails (confirmations) are signed too, through the Django mailer.
    lib_email._dkim_key.cache_clear()
    try:
        lib_email.send_email(
            "ana@example.org",
            "newsletter/emails/confirm",
            {"confirm_url": "https://x/", "expires_days": 7},
        )
    finally:
        lib_email._dkim_key.cache_clear()
    [confirmation] = smtp_server.to("ana@example.org")
    assert dkim.verify(confirmation.raw, dnsfunc=dns)


@pytest.mark.django_db
def test_no_digest_when_nothing_new_and_next_digest_covers_since_the_previous(make_article, reader):
    now = timezone.now()
    assert build_digest(now) == (None, False)

    make_article("Old news", published_at=now - timedelta(hours=30))
    make_article("Fresh news", published_at=now - timedelta(hours=2))
    first, created = build_digest(now)
    assert created
    assert [a.title for a in first.articles.all()] == ["Fresh news"]
    assert build_digest(now) == (first, False)  # same date: the same digest

    tomorrow = now + timedelta(days=1)
    make_article("Evening news", published_at=now + timedelta(hours=3))
    second, created = build_digest(tomorrow)
    assert created
    assert [a.title for a in second.articles.all()] == ["Evening news"]
    assert second.covers_from == first.covers_until


@pytest.mark.django_db
def test_digest_archive_page_shows_the_digest_in_the_browser(client, make_article, reader):
    make_article("Miners march on Lima")
    digest, _ = build_digest()
    response = client.get(digest.get_absolute_url())
    assert response.status_code == 200
    assert b"Miners march on Lima" in response.content
    assert client.get("/digest/archive/").status_code == 200
    assert client.get("/digest/2001-01-01/").status_code == 404
    assert client.get("/digest/not-a-date/").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_batch_split_over_several_smtp_connections_reaches_everyone_once(
    smtp_server, make_subscriber, make_article, settings
):
    settings.DIGEST_SMTP_CONNECTIONS = 3
    smtp_server.pipelining = True
    smtp_server.refuse["gone@example.org"] = "550 5.1.1 No such user"
    make_article()
    readers = [f"reader{n}@example.org" for n in range(10)]
    for address in [*readers, "gone@example.org"]:
        make_subscriber(address)

    digest = send_today()

    received = sorted(m.recipients[0] for m in smtp_server.messages)
    assert received == sorted(readers)
    assert digest.status == Digest.Status.SENT
    progress = digest.progress()
    assert (progress["sent"], progress["bounced"], progress["sending"]) == (10, 1, 0)
    assert Subscriber.objects.get(email="gone@example.org").status == "bounced"
