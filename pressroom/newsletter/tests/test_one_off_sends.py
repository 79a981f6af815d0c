"""One-off sends (appeal, breaking news, announcement) over a real SMTP server: segments with
donors matched at send time and again per batch, the campaign tag on links, the same RFC 8058
headers and ledger as the digest, the admin's write → review → test → send flow."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from pressroom.fundraising import services as fundraising
from pressroom.fundraising.models import Campaign, Donor, RecurringDonation
from pressroom.newsletter import fanout, segments, sending, services, tokens
from pressroom.newsletter.models import Delivery, Digest, OneOffEmail, Subscriber

SITE = "https://news.example.org"


@pytest.fixture
def campaign(db) -> Campaign:
    now = timezone.now()
    return Campaign.objects.create(
        slug="end-of-year",
        title="End of year",
        heading="Keep us independent",
        message="Help us finish the year.",
        goal_amount=Decimal(10000),
        currency="USD",
        starts_at=now - timedelta(days=3),
        ends_at=now + timedelta(days=10),
    )


def give(email: str, campaign: Campaign | None, reference: str, at=None) -> None:
    fundraising.record_offline_donation(
        email=email,
        name="",
        amount=Decimal(25),
        currency="USD",
        method="bank_transfer",
        reference=reference,
        campaign=campaign,
        received_at=at,
        send_receipt=False,
    )


def make_send(**fields) -> OneOffEmail:
    now = timezone.now()
    values = {
        "kind": Digest.Kind.APPEAL,
        "subject": "We need you before the year ends",
        "body": f'<p>Read <a href="{SITE}/articles/2026/11/miners/">our reporting</a> and '
        f'<a href="{SITE}/donate/end-of-year/?amount=25">give</a>.</p>',
        "status": Digest.Status.DRAFT,
        "date": now.date(),
        "covers_from": now,
        "covers_until": now,
        **fields,
    }
    return OneOffEmail.objects.create(**values)


def fan_out_now(send: Digest) -> None:
    """Start the send and write its deliveries, queueing nothing: the test sends the batches."""
    send.refresh_from_db()
    list(fanout.fan_out(send.pk))


@pytest.fixture
def site(settings):
    settings.SITE_URL = SITE


def site_links(received) -> list[str]:
    html_links = re.findall(r'href="([^"]+)"', received.html)
    # In running text an address ends before the punctuation that follows it.
    text_links = [link.rstrip(".,;:!?)") for link in re.findall(r"https?://\S+", received.text)]
    return [link.replace("&amp;", "&") for link in html_links + text_links if link.startswith(SITE)]


@pytest.mark.django_db
def test_appeal_to_non_donors_skips_a_donor_who_gave_between_scheduling_and_sending(
    smtp_server, make_subscriber, campaign, site
):
    make_subscriber("gave-before@example.org")
    make_subscriber("gives-meanwhile@example.org")
    make_subscriber("never@example.org")
    give("gave-before@example.org", campaign, "T1")
    send = make_send(givers=Digest.Givers.NON_DONORS, giving_campaign_id=campaign.pk)
    assert segments.segment_size(send) == 2  # the size the admin shows before sending

    services.start_send(send.pk, timezone.now() + timedelta(hours=1))
    send.refresh_from_db()
    fan_out_now(send)  # the worker takes the segment at the send time ...
    assert send.deliveries.count() == 2
    give("gives-meanwhile@example.org", campaign, "T2")  # ... and a reader gives meanwhile
    sending.send_all_batches(send.pk)

    received = {r for m in smtp_server.messages for r in m.recipients}
    assert received == {"never@example.org"}
    states = dict(send.deliveries.values_list("subscriber__email", "state"))
    assert states == {
        "gives-meanwhile@example.org": Delivery.State.SKIPPED,
        "never@example.org": Delivery.State.SENT,
    }
    send.refresh_from_db()
    assert send.status == Digest.Status.SENT


@pytest.mark.django_db
def test_a_reminder_leaves_out_everyone_who_gave_since_the_appeal_went_out(
    smtp_server, make_subscriber, campaign, site
):
    for name in ("early", "after", "none"):
        make_subscriber(f"{name}@example.org")
    give("early@example.org", campaign, "E1", at=timezone.now() - timedelta(days=2))
    appeal = make_send()
    services.start_send(appeal.pk)
    fan_out_now(appeal)
    sending.send_all_batches(appeal.pk)
    appeal.refresh_from_db()
    appeal.started_at = timezone.now() - timedelta(days=1)
    appeal.save()
    give("after@example.org", None, "A1")  # any campaign counts: they gave since
    reminder = make_send(subject="A reminder", reminder_of=appeal)
    assert {s.email for s in segments.segment_queryset(reminder)} == {
        "early@example.org",
        "none@example.org",
    }


@pytest.mark.django_db
def test_segments_by_topic_date_donors_and_monthly_donors(make_subscriber, topic, campaign):
    from pressroom.publishing import services as publishing
    from pressroom.publishing.models import Topic

    other = publishing.save_topic(Topic(name="Chile"))
    now = timezone.now()
    everything = make_subscriber("all@example.org", confirmed_at=now - timedelta(days=30))
    peru = make_subscriber("peru@example.org", topics=[topic], confirmed_at=now)
    make_subscriber("chile@example.org", topics=[other], confirmed_at=now)
    make_subscriber("pending@example.org", status="pending")
    make_subscriber("paused@example.org", is_paused=True)
    give("peru@example.org", campaign, "P1")
    give("all@example.org", None, "A1")
    RecurringDonation.objects.create(
        donor=Donor.objects.get(email="all@example.org"),
        amount=Decimal(5),
        currency="USD",
        provider="stripe",
        provider_reference="sub_1",
    )

    def emails(**fields) -> set[str]:
        send = make_send(**{k: v for k, v in fields.items() if k != "topics"})
        if "topics" in fields:
            send.segment_topics.set(fields["topics"])
        return {subscriber.email for subscriber in segments.segment_queryset(send)}

    assert emails() == {"all@example.org", "peru@example.org", "chile@example.org"}
    # Readers of every topic get a topic's email too.
    assert emails(topics=[topic]) == {everything.email, peru.email}
    assert emails(subscribed_after=(now - timedelta(days=1)).date()) == {
        "peru@example.org",
        "chile@example.org",
    }
    assert emails(subscribed_before=(now - timedelta(days=1)).date()) == {"all@example.org"}
    assert emails(givers="donors") == {"all@example.org", "peru@example.org"}
    assert emails(givers="donors", giving_campaign_id=campaign.pk) == {"peru@example.org"}
    assert emails(givers="non_donors") == {"chile@example.org"}
    assert emails(givers="non_donors", giving_campaign_id=campaign.pk) == {
        "all@example.org",
        "chile@example.org",
    }
    assert emails(givers="monthly") == {"all@example.org"}


@pytest.mark.django_db
def test_received_appeal_has_list_headers_and_links_tagged_with_the_send_not_the_reader(
    smtp_server, reader, campaign, site, client
):
    send = make_send(is_public=True)
    services.start_send(send.pk)
    fan_out_now(send)
    sending.send_all_batches(send.pk)

    [received] = smtp_server.to("rosa@example.org")
    message = received.message
    assert message["Subject"] == send.subject
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Message-ID"].startswith(f"<digest-{send.pk}-{reader.pk}@")
    unsubscribe = re.search(r"<(https?://[^>]+)>", str(message["List-Unsubscribe"])).group(1)
    assert "our reporting" in received.text
    assert "our reporting" in received.html
    assert "Keep us independent" in received.html  # the campaign block

    personal = {unsubscribe}
    preferences = re.search(r'href="([^"]*/digest/preferences/[^"]*)"', received.html).group(1)
    personal.add(preferences)
    links = [link for link in site_links(received) if link not in personal]
    assert any("/articles/2026/11/miners/" in link for link in links)
    assert any("/donate/end-of-year/" in link for link in links)
    for link in links:
        query = parse_qs(urlsplit(link).query)
        assert query["ref"] == [f"email-{send.pk}"], link
        # Nothing in it names the reader: no address, no personal token, no other parameter.
        assert set(query) <= {"ref", "amount"}, link
        assert "rosa" not in link, link
        assert tokens.preferences_token(reader.pk) not in link, link
        assert tokens.unsubscribe_token(reader.pk, send.pk) not in link, link
    assert "amount=25&ref=" in received.text  # an existing query keeps its values

    # The tag counts a visit for the send (at the WSGI front, moved by the worker; see
    # test_send_visits.py), and the one-click unsubscribe counts for it too.
    from pressroom.newsletter import visits
    from pressroom.newsletter.results import result_of

    assert visits.send_tag(urlsplit(links[0]).query)[0] == send.pk
    visits.forget_started_sends()
    visits.count_visit(send.pk)
    visits.flush_visits()

    assert client.post(urlsplit(unsubscribe).path).status_code == 200
    result = result_of(send)
    assert (result.recipients, result.delivered, result.unsubscribed, result.visits) == (
        1,
        1,
        1,
        1,
    )


@pytest.mark.django_db
def test_a_hard_bounce_of_a_one_off_send_suppresses_the_reader_and_counts_in_its_results(
    smtp_server, make_subscriber, site
):
    make_subscriber("gone@example.org")
    make_subscriber("fine@example.org")
    smtp_server.refuse["gone@example.org"] = "550 5.1.1 No such user"
    send = make_send(kind=Digest.Kind.BREAKING, subject="Breaking: the dam holds")
    services.start_send(send.pk)
    fan_out_now(send)
    sending.send_all_batches(send.pk)
    assert Subscriber.objects.get(email="gone@example.org").status == Subscriber.Status.BOUNCED
    [received] = smtp_server.to("fine@example.org")
    assert received.text.startswith("Breaking news: Breaking: the dam holds")
    from pressroom.newsletter.results import result_of

    result = result_of(send)
    assert (result.recipients, result.delivered, result.bounced) == (2, 1, 1)


@pytest.mark.django_db
def test_addresses_on_the_site_become_absolute_and_only_links_get_the_tag(
    smtp_server, reader, site
):
    send = make_send(
        body='<p><a href="/articles/2026/11/miners/">Read</a></p>'
        '<figure><img src="/media/library/2026/11/march.jpg" alt="The march" '
        'srcset="/media/library/2026/11/march-800.jpg 800w, /media/library/2026/11/march.jpg 1600w">'
        "</figure>"
    )
    services.start_send(send.pk)
    fan_out_now(send)
    sending.send_all_batches(send.pk)
    [received] = smtp_server.messages
    html = received.html
    assert f'href="{SITE}/articles/2026/11/miners/?ref=email-{send.pk}"' in html
    assert f'src="{SITE}/media/library/2026/11/march.jpg"' in html  # an image is not a visit
    assert (
        f'srcset="{SITE}/media/library/2026/11/march-800.jpg 800w, '
        f'{SITE}/media/library/2026/11/march.jpg 1600w"'
    ) in html
    assert f"Read ({SITE}/articles/2026/11/miners/?ref=email-{send.pk})" in received.text
