"""The admin's one-off email: write (the articles' editor and cleaner), review with the segment's
size, preview as HTML and text, a test to oneself, send now or schedule; results and CSV."""

from __future__ import annotations

import io
from csv import reader
from datetime import datetime, timedelta

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from pressroom.newsletter import fanout, sending
from pressroom.newsletter.models import Digest, OneOffEmail, SendVisit

ADD = "/admin/newsletter/oneoffemail/add/"


def form_data(**overrides) -> dict:
    return {
        "kind": "announcement",
        "subject": "Our new podcast",
        "body": '<p>Listen <a href="https://news.example.org/podcast/">here</a>.</p>'
        "<script>alert(1)</script>",
        "with_campaign_block": "on",
        "givers": "",
        "giving_campaign_id": "",
        **overrides,
    }


@pytest.fixture
def draft(audience_client, settings) -> OneOffEmail:
    settings.SITE_URL = "https://news.example.org"
    response = audience_client.post(ADD, form_data())
    send = OneOffEmail.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/admin/newsletter/oneoffemail/{send.pk}/send/"
    return send


@pytest.mark.django_db
def test_audience_writes_in_the_article_editor_and_the_body_is_cleaned(audience_client, draft):
    page = audience_client.get(ADD).content.decode()
    assert "prose-editor" in page  # the same editor widget as articles
    assert draft.status == Digest.Status.DRAFT
    assert draft.kind == Digest.Kind.ANNOUNCEMENT
    assert "<script" not in draft.body
    assert 'href="https://news.example.org/podcast/"' in draft.body
    assert draft.created_by.username == "aud"


@pytest.mark.django_db
def test_invalid_email_re_renders_with_errors_and_saves_nothing(audience_client):
    response = audience_client.post(
        ADD,
        form_data(body="<p> </p>", subscribed_after="2026-05-02", subscribed_before="2026-05-01"),
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "Write the email: its text is empty." in page
    assert "Must be later than" in page
    assert not OneOffEmail.objects.exists()


@pytest.mark.django_db
def test_other_roles_cannot_write_one(editor_client):
    assert editor_client.get(ADD).status_code == 403


@pytest.mark.django_db
def test_review_shows_the_segment_size_and_previews_in_html_and_text(
    audience_client, draft, make_subscriber
):
    make_subscriber("one@example.org")
    make_subscriber("two@example.org")
    make_subscriber("pending@example.org", status="pending")
    page = audience_client.get(f"/admin/newsletter/oneoffemail/{draft.pk}/send/")
    assert page.status_code == 200
    assert "Segment: <strong>2</strong> readers" in page.content.decode()
    html = audience_client.get(f"/admin/newsletter/oneoffemail/{draft.pk}/preview.html")
    assert "Listen" in html.content.decode()
    assert "sandbox" in html["Content-Security-Policy"]
    text = audience_client.get(f"/admin/newsletter/oneoffemail/{draft.pk}/preview.txt")
    assert text.content.decode().startswith("Subject: Our new podcast")
    assert "Listen here (https://news.example.org/podcast/?ref=email-" in text.content.decode()


@pytest.mark.django_db
def test_a_test_goes_to_the_editor_only(audience_client, draft, smtp_server, make_subscriber):
    make_subscriber("reader@example.org")
    audience_client.post(f"/admin/newsletter/oneoffemail/{draft.pk}/send/", {"_test": "1"})
    [received] = smtp_server.messages
    assert received.recipients == ["aud@example.org"]
    assert received.message["Subject"] == "[Test] Our new podcast"
    draft.refresh_from_db()
    assert draft.status == Digest.Status.DRAFT


@pytest.mark.django_db
def test_schedule_refuses_a_past_time_then_queues_the_start_for_its_time(
    audience_client, draft, django_capture_on_commit_callbacks
):
    url = f"/admin/newsletter/oneoffemail/{draft.pk}/send/"
    past = timezone.localtime() - timedelta(hours=1)
    refused = audience_client.post(
        url,
        {
            "when": "later",
            "send_at_0": past.strftime("%Y-%m-%d"),
            "send_at_1": past.strftime("%H:%M"),
        },
    )
    assert refused.status_code == 400
    assert "That time has passed" in refused.content.decode()
    draft.refresh_from_db()
    assert draft.status == Digest.Status.DRAFT

    later = (timezone.localtime() + timedelta(days=1)).replace(second=0, microsecond=0)
    with django_capture_on_commit_callbacks(execute=True):
        response = audience_client.post(
            url,
            {
                "when": "later",
                "send_at_0": later.strftime("%Y-%m-%d"),
                "send_at_1": later.strftime("%H:%M"),
            },
        )
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.status == Digest.Status.SENDING
    assert draft.send_after == later
    task = DBTaskResult.objects.get(task_path__endswith="start_one_off_send")
    assert task.run_after == later
    assert task.args_kwargs["args"] == [draft.pk, later.isoformat()]
    # Started, it is the record of what was sent: no more editing.
    change = f"/admin/newsletter/oneoffemail/{draft.pk}/change/"
    assert audience_client.post(change, form_data(subject="Changed")).status_code == 403
    # Until its time, it can go back to draft.
    audience_client.post(url, {"_cancel": "1"})
    draft.refresh_from_db()
    assert draft.status == Digest.Status.DRAFT


@pytest.mark.django_db
def test_results_page_has_a_server_drawn_chart_and_the_csv_opens_in_excel(
    audience_client, draft, make_subscriber, smtp_server
):
    make_subscriber("one@example.org")
    audience_client.post(f"/admin/newsletter/oneoffemail/{draft.pk}/send/", {"when": "now"})
    draft.refresh_from_db()
    assert draft.status == Digest.Status.SENDING
    list(fanout.fan_out(draft.pk))
    sending.send_all_batches(draft.pk)
    SendVisit.objects.create(send=draft, day=timezone.localdate(), visits=7)

    page = audience_client.get(f"/admin/newsletter/oneoffemail/{draft.pk}/results/")
    content = page.content.decode()
    assert page.status_code == 200
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in content
    assert "<title>Delivered: 1</title>" in content
    assert "<title>Visits: 7</title>" in content
    body = b"".join(
        audience_client.get("/admin/newsletter/oneoffemail/results.csv").streaming_content
    )
    text = body.decode("utf-8")
    assert text.startswith("\ufeff")  # Excel reads it as UTF-8
    header, row = list(reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert header[:5] == ["id", "kind", "subject", "date", "started_at"]
    assert row[1:3] == ["announcement", "Our new podcast"]
    assert row[6:12] == ["1", "1", "0", "0", "0", "7"]
    assert row[12] == f"email-{draft.pk}"
    assert datetime.fromisoformat(row[4]).tzinfo is not None  # ISO 8601, with its offset


@pytest.mark.django_db
def test_a_reminder_of_a_sent_appeal_to_non_donors_of_a_campaign_is_saved_with_its_segment(
    audience_client, make_subscriber, settings
):
    from decimal import Decimal

    from pressroom.fundraising.models import Campaign

    now = timezone.now()
    campaign = Campaign.objects.create(
        slug="spring",
        title="Spring drive",
        heading="Spring",
        message="Give.",
        goal_amount=Decimal(100),
        currency="USD",
        starts_at=now - timedelta(days=1),
        ends_at=now + timedelta(days=9),
    )
    appeal = OneOffEmail.objects.create(
        kind="appeal",
        subject="The spring appeal",
        body="<p>Give.</p>",
        status=Digest.Status.SENT,
        date=now.date(),
        covers_from=now,
        covers_until=now,
        started_at=now - timedelta(days=1),
    )
    page = audience_client.get(ADD).content.decode()
    assert "Spring drive" in page
    assert "The spring appeal" in page
    response = audience_client.post(
        ADD,
        form_data(
            kind="appeal",
            givers="non_donors",
            giving_campaign_id=str(campaign.pk),
            reminder_of=str(appeal.pk),
        ),
    )
    assert response.status_code == 302
    reminder = OneOffEmail.objects.get(reminder_of=appeal)
    assert (reminder.givers, reminder.giving_campaign_id) == ("non_donors", campaign.pk)
    # A campaign without choosing donors or non-donors is refused, nothing saved.
    refused = audience_client.post(ADD, form_data(giving_campaign_id=str(campaign.pk)))
    assert refused.status_code == 200
    assert "Choose donors, non-donors or monthly donors" in refused.content.decode()
    assert OneOffEmail.objects.count() == 2
