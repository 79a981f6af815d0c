"""Operators and editors: commands, admin history and progress, test sends, bounce webhooks."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from anymail.signals import AnymailTrackingEvent, tracking
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from pressroom.newsletter import digests, recovery, sending, tasks
from pressroom.newsletter.models import Delivery, DeliveryBatch, Digest, Subscriber
from pressroom.newsletter.tests.conftest import build_digest
from pressroom.publishing import services as publishing
from pressroom.publishing.models import Topic
from pressroom.workers.models import last_worker_heartbeat


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.mark.django_db
def test_send_digest_sync_sends_to_every_reader_and_reports(
    smtp_server, make_subscriber, make_article
):
    make_article()
    for n in range(3):
        make_subscriber(f"reader{n}@example.org")

    output = run("send_digest", "--sync")

    assert "1 articles, 3 recipients" in output
    assert "3 sent, 0 failed" in output
    assert sorted(m.recipients[0] for m in smtp_server.messages) == [
        f"reader{n}@example.org" for n in range(3)
    ]
    assert "already exists and is sent" in run("send_digest", "--sync")
    assert len(smtp_server.messages) == 3
    # The command held its claims under a heartbeat of its own, and is no worker afterwards.
    assert last_worker_heartbeat() is None


@pytest.mark.django_db
def test_send_digest_without_news_says_so(reader):
    assert "no digest today" in run("send_digest", "--now")
    assert not Digest.objects.exists()


@pytest.mark.django_db
def test_queued_digest_waits_for_the_scheduled_time_unless_sent_now(
    reader, make_article, settings, django_capture_on_commit_callbacks
):
    from django_tasks_db.models import DBTaskResult

    settings.DIGEST_SEND_AT = (6, 0)
    settings.DIGEST_TIMEZONE = "America/Lima"
    yesterday = timezone.now().astimezone(digests.digest_timezone()) - timedelta(days=1)
    early = yesterday.replace(hour=3, minute=0, second=0, microsecond=0)
    make_article(published_at=early - timedelta(hours=1))

    with django_capture_on_commit_callbacks(execute=True):
        digest, created = tasks.build_and_queue_digest(early, send_now=False)

    assert created
    assert digest.send_after == early.replace(hour=6)
    [task] = DBTaskResult.objects.all()
    assert task.run_after == digest.send_after
    assert task.args_kwargs["args"] == [digest.pk, 0]


@pytest.mark.django_db
def test_import_reports_added_present_and_invalid_rows(tmp_path, make_subscriber):
    publishing.save_topic(Topic(name="Chile"))
    make_subscriber("known@example.org")
    path = tmp_path / "list.csv"
    path.write_text(
        "email,topics,consent_date\n"
        "Ana@Example.org,chile,2024-05-01\n"
        "known@example.org,,\n"
        "not-an-address,,\n"
        "beto@example.org,atlantis,\n"
        "carla@example.org,,yesterday\n"
        "dora@example.org,,\n"
    )

    output = run("import_subscribers", str(path), "--confirmed")

    assert "2 added, 1 already present, 3 invalid" in output
    assert "line 4" in output
    assert "atlantis" in output
    ana = Subscriber.objects.get(email="ana@example.org")
    assert ana.status == Subscriber.Status.CONFIRMED
    assert [t.slug for t in ana.topics.all()] == ["chile"]
    assert ana.consented_at.date().isoformat() == "2024-05-01"
    assert Subscriber.objects.get(email="dora@example.org").all_topics


@pytest.mark.django_db
def test_import_refuses_a_file_it_cannot_use(tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        run("import_subscribers", str(tmp_path / "missing.csv"))
    path = tmp_path / "wrong.csv"
    path.write_text("name,address\nAna,ana@example.org\n")
    with pytest.raises(CommandError, match="no 'email' column"):
        run("import_subscribers", str(path))


@pytest.mark.django_db
def test_export_writes_every_subscriber_with_status_topics_and_dates(make_subscriber, tmp_path):
    chile = publishing.save_topic(Topic(name="Chile"))
    make_subscriber("ana@example.org", topics=[chile])
    make_subscriber("beto@example.org", status="bounced")
    make_subscriber("carla@example.org", status="pending")

    rows = list(csv.DictReader(io.StringIO(run("export_subscribers"))))
    assert [(r["email"], r["status"], r["topics"]) for r in rows] == [
        ("ana@example.org", "confirmed", "chile"),
        ("beto@example.org", "bounced", ""),
        ("carla@example.org", "pending", ""),
    ]
    assert rows[0]["created_at"]

    target = tmp_path / "out.csv"
    call_command(
        "export_subscribers", "-o", str(target), stdout=io.StringIO(), stderr=io.StringIO()
    )
    assert target.read_text().count("\n") == 4


@pytest.mark.django_db
def test_esp_hard_bounce_and_complaint_webhooks_suppress_the_reader(make_subscriber):
    bounced = make_subscriber("gone@example.org")
    complained = make_subscriber("angry@example.org")
    soft = make_subscriber("busy@example.org")
    for recipient, event_type in [
        ("Gone@example.org", "bounced"),
        ("angry@example.org", "complained"),
        ("busy@example.org", "deferred"),
    ]:
        event = AnymailTrackingEvent(event_type=event_type, recipient=recipient, message_id="x")
        tracking.send(sender=object, event=event, esp_name="Postmark")
    for subscriber in (bounced, complained, soft):
        subscriber.refresh_from_db()
    assert bounced.status == Subscriber.Status.BOUNCED
    assert complained.status == Subscriber.Status.COMPLAINED
    assert soft.status == Subscriber.Status.CONFIRMED


def test_anymail_webhook_urls_are_served():
    url = reverse("newsletter:email-provider-webhook", kwargs={"provider": "postmark"})
    assert url == "/anymail/postmark/tracking/"


@pytest.mark.django_db
def test_audience_staff_sees_digest_history_with_counts_and_live_progress(
    audience_client, smtp_server, make_subscriber, make_article
):
    make_article("Miners march on Lima")
    make_subscriber("rosa@example.org")
    make_subscriber("gone@example.org")
    make_subscriber("paused@example.org", is_paused=True)
    smtp_server.refuse["gone@example.org"] = "550 No such user"
    digest, _ = tasks.build_and_queue_digest()

    progress_url = reverse("admin:newsletter_digest_progress", args=[digest.pk])
    page = audience_client.get(progress_url)
    assert page.status_code == 200
    assert b'http-equiv="refresh"' in page.content  # still sending: it refreshes itself
    assert (
        audience_client.get(progress_url.replace("progress/", "progress.json")).json()["pending"]
        == 2
    )

    sending.send_all_batches(digest.pk)

    listing = audience_client.get(reverse("admin:newsletter_digest_changelist"))
    assert listing.status_code == 200
    assert b"Miners march on Lima" in listing.content
    counts = listing.context["cl"].result_list[0]
    assert (counts.recipient_count, counts.sent_count, counts.bounced_count) == (2, 1, 1)
    done = audience_client.get(progress_url)
    assert b'http-equiv="refresh"' not in done.content
    assert done.context["progress"]["sent"] == 1
    detail = audience_client.get(reverse("admin:newsletter_digest_change", args=[digest.pk]))
    assert detail.status_code == 200


@pytest.mark.django_db
def test_audience_staff_sends_a_test_digest_to_their_own_address(
    audience_client, smtp_server, make_article
):
    make_article("Miners march on Lima")
    digest, _ = build_digest()
    response = audience_client.post(
        reverse("admin:newsletter_digest_changelist"),
        {"action": "send_test_to_me", "_selected_action": [digest.pk]},
        follow=True,
    )
    assert b"Test digest sent to aud@example.org" in response.content
    [received] = smtp_server.to("aud@example.org")
    assert received.message["Subject"].strip().startswith("[Test]")
    assert "Miners march on Lima" in received.text
    assert not Delivery.objects.filter(subscriber__email="aud@example.org").exists()


@pytest.mark.django_db
def test_audience_staff_finds_subscribers_by_address_and_status(audience_client, make_subscriber):
    make_subscriber("rosa@example.org")
    make_subscriber("beto@example.org", status="bounced")
    url = reverse("admin:newsletter_subscriber_changelist")
    found = audience_client.get(url, {"q": "rosa"})
    assert b"rosa@example.org" in found.content
    assert b"beto@example.org" not in found.content
    bounced = audience_client.get(url, {"status__exact": "bounced"})
    assert b"beto@example.org" in bounced.content
    assert b"rosa@example.org" not in bounced.content


@pytest.mark.django_db
def test_recovery_requeues_a_dead_workers_batches_keeps_a_live_ones_and_gives_up_after_max_attempts(
    reader, make_subscriber, make_article, settings
):
    from pressroom.workers.models import WorkerHeartbeat

    make_article()
    other = make_subscriber("beto@example.org")
    busy = make_subscriber("carla@example.org")
    digest, _ = build_digest()
    WorkerHeartbeat.objects.create(worker_id="live")
    WorkerHeartbeat.objects.create(worker_id="dead")
    WorkerHeartbeat.objects.filter(worker_id="dead").update(
        seen_at=timezone.now() - timedelta(seconds=11)  # three beats missed (3 s each) + 1 s
    )
    for number, subscriber, claim, worker, attempts in [
        (0, reader, "a", "dead", 1),
        (1, other, "b", "dead", settings.DIGEST_MAX_ATTEMPTS),
        (2, busy, "c", "live", 1),
    ]:
        Delivery.objects.filter(subscriber=subscriber).update(batch=number)
        DeliveryBatch.objects.update_or_create(
            digest=digest,
            number=number,
            defaults={"claim": claim, "claimed_by": worker, "attempts": attempts},
        )

    result = recovery.recover_deliveries()

    assert (result.requeued_rows, result.given_up_rows) == (1, 1)
    assert result.batches == [(digest.pk, 0)]
    assert Delivery.objects.get(subscriber=reader).state == "pending"
    assert Delivery.objects.get(subscriber=other).state == "failed"
    assert Delivery.objects.get(subscriber=busy).state == "pending"  # its worker is sending it
    claims = dict(DeliveryBatch.objects.filter(digest=digest).values_list("number", "claim"))
    assert claims == {0: "", 1: "", 2: "c"}


@pytest.mark.django_db
def test_recovery_puts_rows_the_previous_release_claimed_for_a_dead_worker_back_to_pending(
    reader, make_subscriber, make_article
):
    """Upgraded while the previous release's worker held rows one by one ('sending')."""
    from pressroom.workers.models import WorkerHeartbeat

    make_article()
    busy = make_subscriber("carla@example.org")
    digest, _ = build_digest()
    WorkerHeartbeat.objects.create(worker_id="live")
    Delivery.objects.filter(subscriber=reader).update(
        state="sending", claim="old", claimed_by="gone", attempts=1
    )
    Delivery.objects.filter(subscriber=busy).update(
        state="sending", claim="older", claimed_by="live", attempts=1
    )
    # The new release's worker found no pending row in the batch and let it go as finished.
    DeliveryBatch.objects.filter(digest=digest).update(finished_at=timezone.now())

    result = recovery.recover_deliveries()

    assert result.batches == [(digest.pk, 0)]
    assert Delivery.objects.get(subscriber=reader).state == "pending"
    assert Delivery.objects.get(subscriber=busy).state == "sending"
    # Open again, so that the queued batch can be claimed and the send cannot finish before it.
    assert DeliveryBatch.objects.get(digest=digest).finished_at is None
    assert sending.finish_if_done(digest.pk) is False


@pytest.mark.django_db
def test_a_stalled_send_whose_batches_the_previous_release_sent_finishes(
    reader, make_subscriber, make_article
):
    """The previous release's workers claimed rows, not batches, and left the batch rows the
    new fan-out wrote unfinished: recovery finishes them, and the send with them."""
    make_article()
    digest, _ = build_digest()
    Delivery.objects.filter(digest=digest).update(state="sent")
    assert DeliveryBatch.objects.filter(digest=digest, finished_at__isnull=True).exists()
    long_ago = timezone.now() - recovery.STALLED_AFTER - timedelta(minutes=1)
    Digest.objects.filter(pk=digest.pk).update(created_at=long_ago, fanned_out_at=long_ago)

    assert sending.finish_if_done(digest.pk) is False  # its batch is not finished
    result = recovery.recover_deliveries()

    assert result.batches == []
    assert DeliveryBatch.objects.get(digest=digest).finished_at is not None
    digest.refresh_from_db()
    assert digest.status == Digest.Status.SENT


@pytest.mark.django_db
def test_digest_goes_through_an_anymail_provider_and_its_bounce_webhook_finds_the_delivery(
    settings, make_subscriber, make_article, mailoutbox
):
    settings.MAILERS = {
        **settings.MAILERS,
        "bulk": {"BACKEND": "anymail.backends.test.EmailBackend", "OPTIONS": {}},
    }
    make_article("Miners march on Lima")
    rosa = make_subscriber("rosa@example.org")
    beto = make_subscriber("beto@example.org")
    digest, _ = tasks.build_and_queue_digest()

    sending.send_all_batches(digest.pk)

    assert sorted(m.to[0] for m in mailoutbox) == ["beto@example.org", "rosa@example.org"]
    message = next(m for m in mailoutbox if m.to == ["beto@example.org"])
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.extra_headers["List-Unsubscribe"].startswith("<http")
    assert "/digest/unsubscribe/" in message.body
    assert "Miners march on Lima" in message.alternatives[0].content
    delivery = Delivery.objects.get(subscriber=beto)
    assert delivery.state == "sent"
    assert delivery.message_id  # the provider's id, for its webhooks

    event = AnymailTrackingEvent(event_type="bounced", recipient="", message_id=delivery.message_id)
    tracking.send(sender=object, event=event, esp_name="Test")
    delivery.refresh_from_db()
    beto.refresh_from_db()
    rosa.refresh_from_db()
    assert delivery.state == "bounced"
    assert beto.status == Subscriber.Status.BOUNCED
    assert rosa.status == Subscriber.Status.CONFIRMED


def test_worker_schedule_has_the_daily_digest_at_the_configured_time_and_the_recovery(settings):
    import importlib

    from crontask import scheduler

    import pressroom.newsletter.tasks

    settings.DIGEST_SEND_AT = (7, 30)
    settings.DIGEST_TIMEZONE = "Europe/Paris"
    importlib.reload(pressroom.newsletter.tasks)  # what `pressroom worker` does at start-up

    jobs = {job.name: job for job in scheduler.get_jobs()}  # the last registration wins
    digest_job = jobs["send_daily_digest"]
    fields = {field.name: str(field) for field in digest_job.trigger.fields}
    assert (fields["hour"], fields["minute"]) == ("7", "30")
    assert str(digest_job.trigger.timezone) == "Europe/Paris"
    assert "recover_deliveries" in jobs


@pytest.mark.django_db
def test_audience_staff_adding_a_subscriber_gets_the_address_normalized_or_an_error(
    audience_client,
):
    url = reverse("admin:newsletter_subscriber_add")
    fields = {"status": "pending", "all_topics": "on", "source": "admin"}
    response = audience_client.post(url, {**fields, "email": " Ana@Example.ORG "})
    assert response.status_code == 302
    assert Subscriber.objects.get().email == "ana@example.org"
    invalid = audience_client.post(url, {**fields, "email": "not an address"})
    assert invalid.status_code == 200
    assert b"Enter a valid email address" in invalid.content


@pytest.mark.django_db
def test_fan_out_interrupted_after_a_chunk_resumes_without_doubles_and_only_then_finishes(
    make_subscriber,
    make_article,
    settings,
    monkeypatch,
    smtp_server,
    django_capture_on_commit_callbacks,
):
    from django_tasks_db.models import DBTaskResult

    from pressroom.newsletter import fanout

    settings.DIGEST_BATCH_SIZE = 2
    monkeypatch.setattr(fanout, "BATCHES_PER_CHUNK", 2)  # chunks of 4 subscribers
    make_article()
    for n in range(9):
        make_subscriber(f"reader{n}@example.org")
    digest, _ = digests.create_digest()

    pairs, finished = fanout.fan_out_chunk(digest.pk)  # …and then the worker died
    assert pairs == [(digest.pk, 0), (digest.pk, 1)]
    assert not finished
    sending.send_all_batches(digest.pk)
    digest.refresh_from_db()
    assert digest.status == Digest.Status.SENDING  # 4 sent, but the list is not all written

    Digest.objects.filter(pk=digest.pk).update(
        fanned_out_at=timezone.now() - recovery.STALLED_AFTER - timedelta(seconds=1)
    )
    result = recovery.recover_deliveries()
    assert result.unfinished_fan_outs == [digest.pk]
    with django_capture_on_commit_callbacks(execute=True):  # batches are queued once committed
        tasks.fan_out_and_queue(digest.pk)
    queued = DBTaskResult.objects.filter(task_path=tasks.send_digest_batch.module_path)
    assert sorted(tuple(task.args_kwargs["args"]) for task in queued) == [
        (digest.pk, 2),
        (digest.pk, 3),
        (digest.pk, 4),
    ]
    sending.send_all_batches(digest.pk)

    digest.refresh_from_db()
    assert digest.status == Digest.Status.SENT
    assert digest.deliveries.count() == 9
    assert sorted(m.recipients[0] for m in smtp_server.messages) == sorted(
        f"reader{n}@example.org" for n in range(9)
    )
