"""A reader signs up on any (cached) page, confirms by email, and nothing leaks about the list."""

from __future__ import annotations

import re
import time
from unittest import mock

import pytest
from django.test import Client

from pressroom.newsletter.models import Delivery, Subscriber
from pressroom.newsletter.services import normalize_email
from pressroom.newsletter.tests.conftest import build_digest, path_of
from pressroom.publishing import services as publishing
from pressroom.publishing.models import Topic


def confirm_link(received) -> str:
    return re.search(r"https?://\S+/digest/confirm/\S+/", received.text).group(0)


@pytest.mark.django_db
def test_signup_form_is_on_every_page_without_csrf_token_or_cookie(client, make_article):
    article = make_article()
    for url in ("/", article.get_absolute_url(), "/topics/peru/"):
        response = client.get(url)
        html = response.content.decode()
        assert response.status_code == 200
        assert 'action="/digest/"' in html
        assert "Sign Up To Our Daily Digest" in html
        assert "csrfmiddlewaretoken" not in html
        assert not response.cookies


@pytest.mark.django_db(transaction=True)
def test_reader_signs_up_with_topics_confirms_by_link_and_only_then_gets_the_digest(
    client, smtp_server, make_article
):
    chile = publishing.save_topic(Topic(name="Chile"))
    make_article("Students occupy Santiago campus", topics=[chile])

    # Posted from a cached page: no CSRF token, no cookie, and it must still work.
    response = Client(enforce_csrf_checks=True).post(
        "/digest/", {"email": "  Rosa@Example.ORG ", "topics": [chile.pk]}
    )
    assert response.status_code == 302
    assert response["Location"] == "/digest/thanks/"
    assert b"Check your inbox" in client.get(response["Location"]).content
    subscriber = Subscriber.objects.get()
    assert subscriber.email == "rosa@example.org"
    assert subscriber.status == Subscriber.Status.PENDING

    # Not confirmed yet: no digest for her.
    digest, _ = build_digest()
    assert not Delivery.objects.filter(digest=digest).exists()

    [received] = smtp_server.to("rosa@example.org")
    assert received.message["Subject"].startswith("Confirm your subscription")
    assert received.html.count(confirm_link(received)) == 1
    url = path_of(confirm_link(received))
    page = client.get(url)  # a scanner following the link confirms nothing
    assert b"Confirm my subscription" in page.content
    assert "no-cache" in page["Cache-Control"]
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.PENDING

    assert client.post(url).status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.CONFIRMED
    assert subscriber.confirmed_at is not None
    assert list(subscriber.topics.all()) == [chile]
    assert not subscriber.all_topics


@pytest.mark.django_db(transaction=True)
def test_confirmation_link_expires_after_seven_days(client, smtp_server):
    client.post("/digest/", {"email": "rosa@example.org"})
    [received] = smtp_server.to("rosa@example.org")
    url = path_of(confirm_link(received))
    eight_days_later = time.time() + 8 * 86400
    with mock.patch("django.core.signing.time.time", return_value=eight_days_later):
        response = client.post(url)
    assert response.status_code == 404
    assert b"expired" in response.content
    assert Subscriber.objects.get().status == Subscriber.Status.PENDING


@pytest.mark.django_db
def test_tampered_links_are_refused_politely(client, reader):
    for url in (
        "/digest/confirm/nonsense/",
        "/digest/preferences/1:forged/",
        "/digest/unsubscribe/1-0:forged/",
    ):
        assert client.get(url).status_code == 404
        assert client.post(url).status_code == 404
    reader.refresh_from_db()
    assert reader.status == Subscriber.Status.CONFIRMED


@pytest.mark.django_db(transaction=True)
def test_the_answer_is_the_same_whether_or_not_the_address_is_known(
    client, smtp_server, make_subscriber
):
    make_subscriber("known@example.org")
    known = client.post("/digest/", {"email": "known@example.org"}, follow=True)
    unknown = client.post("/digest/", {"email": "new@example.org"}, follow=True)
    assert known.redirect_chain == unknown.redirect_chain
    assert known.content == unknown.content
    # The known reader gets a link to their preferences instead of a second subscription.
    [notice] = smtp_server.to("known@example.org")
    assert "/digest/preferences/" in notice.text
    assert Subscriber.objects.get(email="known@example.org").status == "confirmed"


@pytest.mark.django_db(transaction=True)
def test_at_most_one_confirmation_email_per_address_per_day(client, smtp_server, settings):
    settings.DIGEST_SIGNUPS_PER_IP_PER_HOUR = 100
    for _ in range(3):
        assert client.post("/digest/", {"email": "rosa@example.org"}).status_code == 302
    assert len(smtp_server.to("rosa@example.org")) == 1
    Subscriber.objects.update(signup_email_sent_at="2000-01-01T00:00:00Z")
    client.post("/digest/", {"email": "rosa@example.org"})
    assert len(smtp_server.to("rosa@example.org")) == 2


@pytest.mark.django_db(transaction=True)
def test_signups_from_one_network_are_rate_limited(client, smtp_server, settings):
    settings.DIGEST_SIGNUPS_PER_IP_PER_HOUR = 2
    for n in range(2):
        assert client.post("/digest/", {"email": f"r{n}@example.org"}).status_code == 302
    response = client.post("/digest/", {"email": "r9@example.org"})
    assert response.status_code == 429
    assert b"Too many signups" in response.content
    assert not Subscriber.objects.filter(email="r9@example.org").exists()
    other = client.post("/digest/", {"email": "r9@example.org"}, REMOTE_ADDR="192.0.2.7")
    assert other.status_code == 302


@pytest.mark.django_db(transaction=True)
def test_a_bot_filling_the_honeypot_gets_the_same_answer_and_no_email(client, smtp_server):
    response = client.post("/digest/", {"email": "bot@example.org", "website": "http://spam"})
    assert response.status_code == 302
    assert response["Location"] == "/digest/thanks/"
    assert not Subscriber.objects.exists()
    assert smtp_server.messages == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    "address", ["", "not-an-address", "a@b", "ü@example.org", "x" * 250 + "@e.org"]
)
def test_invalid_address_shows_the_form_again_with_a_message(client, address):
    response = client.post("/digest/", {"email": address})
    assert response.status_code == 400
    assert b'role="alert"' in response.content
    assert not Subscriber.objects.exists()


def test_addresses_are_normalized():
    assert normalize_email(" Ana.Quispe@Example.ORG ") == "ana.quispe@example.org"
    assert normalize_email("ana@bücher.example") == "ana@xn--bcher-kva.example"


@pytest.mark.django_db(transaction=True)
def test_suppressed_address_gets_no_email_but_the_same_answer(client, smtp_server, make_subscriber):
    make_subscriber("bounced@example.org", status="bounced")
    response = client.post("/digest/", {"email": "bounced@example.org"})
    assert response["Location"] == "/digest/thanks/"
    assert smtp_server.messages == []


@pytest.mark.django_db(transaction=True)
def test_unsubscribed_reader_can_sign_up_again_through_double_opt_in(
    client, smtp_server, make_subscriber
):
    make_subscriber("rosa@example.org", status="unsubscribed")
    client.post("/digest/", {"email": "rosa@example.org"})
    [received] = smtp_server.to("rosa@example.org")
    assert Subscriber.objects.get().status == "unsubscribed"
    client.post(path_of(confirm_link(received)))
    assert Subscriber.objects.get().status == "confirmed"


@pytest.mark.django_db
def test_unknown_topic_in_a_signup_is_explained_not_a_crash(client):
    for topics in (["999999"], ["x"]):
        response = client.post("/digest/", {"email": "rosa@example.org", "topics": topics})
        assert response.status_code == 400
        assert b'<p role="alert">' in response.content
    assert not Subscriber.objects.exists()


@pytest.mark.django_db
def test_preferences_asking_for_chosen_topics_without_any_is_explained(client, make_subscriber):
    from pressroom.newsletter import tokens

    reader = make_subscriber("rosa@example.org")
    url = f"/digest/preferences/{tokens.preferences_token(reader.pk)}/"
    response = client.post(url, {"selection": "chosen"})
    assert response.status_code == 400
    assert b"Choose at least one topic" in response.content
    reader.refresh_from_db()
    assert reader.all_topics
