"""Regressions from the review of one-off sends (issue #16): a cancel that wins or loses
cleanly against the start task, a stale start task after a reschedule, a segment that never
widens when a topic or the earlier appeal is deleted, the "View in your browser" link of a
private send, and a private send that leaves the page cache alone."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from pressroom.lib.pagecache.generation import generation_store
from pressroom.newsletter import digests, fanout, segments, sending, services, tasks
from pressroom.newsletter.models import Delivery, Digest, OneOffEmail, SubscriptionStateError
from pressroom.newsletter.tests.conftest import run_worker
from pressroom.newsletter.tests.test_one_off_sends import campaign, give  # noqa: F401
from pressroom.publishing.models import Topic

pytestmark = pytest.mark.django_db


def draft(**fields) -> OneOffEmail:
    now = timezone.now()
    values = {
        "kind": Digest.Kind.APPEAL,
        "subject": "Appeal",
        "body": "<p>Give.</p>",
        "status": Digest.Status.DRAFT,
        "date": now.date(),
        "covers_from": now,
        "covers_until": now,
        **fields,
    }
    return OneOffEmail.objects.create(**values)


def received(smtp_server) -> set[str]:
    return {recipient for message in smtp_server.messages for recipient in message.recipients}


# 1. Cancel against the start task.


def test_a_send_cancelled_before_its_rows_are_written_is_not_mailed(smtp_server, make_subscriber):
    """The reviewer's interleaving: the start task passed its check, then the editor cancels,
    then the task goes on. The fan-out sees the draft under the row lock and writes nothing."""
    make_subscriber("rosa@example.org")
    send = draft()
    services.start_send(send.pk, timezone.now() + timedelta(seconds=30))
    services.cancel_send(send.pk)
    tasks.fan_out_and_queue(send.pk)
    sending.send_all_batches(send.pk)
    send.refresh_from_db()
    assert send.status == Digest.Status.DRAFT
    assert send.deliveries.count() == 0
    assert smtp_server.messages == []


def test_once_the_start_task_has_begun_a_cancel_is_refused(make_subscriber):
    """The worker's clock is ahead of the web host's: its start task begins while the web host
    still thinks the send is in the future. The cancel takes the same row lock and loses."""
    make_subscriber("rosa@example.org")
    send = draft()
    send_at = timezone.now() + timedelta(seconds=30)
    services.start_send(send.pk, send_at)
    worker_now = timezone.now() + timedelta(minutes=1)
    assert fanout.begin_send(send.pk, send_at.isoformat(), now=worker_now)  # at its time
    with pytest.raises(SubscriptionStateError):
        services.cancel_send(send.pk)  # the web host, 30 s "before" the send
    send.refresh_from_db()
    assert send.status == Digest.Status.SENDING


def test_batches_of_a_send_that_is_no_longer_sending_are_skipped(smtp_server, make_subscriber):
    make_subscriber("rosa@example.org")
    make_subscriber("ana@example.org")
    send = draft()
    services.start_send(send.pk)
    list(fanout.fan_out(send.pk))
    assert send.deliveries.count() == 2
    Digest.objects.filter(pk=send.pk).update(status=Digest.Status.DRAFT)  # stopped meanwhile
    assert sending.send_all_batches(send.pk) == 0
    assert smtp_server.messages == []
    states = set(send.deliveries.values_list("state", flat=True))
    assert states == {Delivery.State.SKIPPED}


def test_the_review_page_offers_no_cancel_once_the_start_task_has_begun(
    audience_client, make_subscriber
):
    make_subscriber("rosa@example.org")
    send = draft()
    send_at = timezone.now() + timedelta(minutes=5)
    services.start_send(send.pk, send_at)
    page = audience_client.get(f"/admin/newsletter/oneoffemail/{send.pk}/send/")
    assert page.context["may_cancel"] is True
    worker_now = timezone.now() + timedelta(minutes=10)
    assert fanout.begin_send(send.pk, send_at.isoformat(), now=worker_now)
    page = audience_client.get(f"/admin/newsletter/oneoffemail/{send.pk}/send/")
    assert page.context["may_cancel"] is False
    assert b"Sending" in page.content
    answer = audience_client.post(
        f"/admin/newsletter/oneoffemail/{send.pk}/send/", {"_cancel": "1"}, follow=True
    )
    assert "Only a scheduled send that has not started can be cancelled." in (
        answer.content.decode()
    )
    send.refresh_from_db()
    assert send.status == Digest.Status.SENDING


# 6. Cancel, then reschedule later: the first start task does nothing.


@pytest.mark.django_db(transaction=True)  # the worker opens and closes connections
def test_cancel_then_reschedule_later_the_first_start_task_does_nothing(
    smtp_server, make_subscriber, django_capture_on_commit_callbacks
):
    make_subscriber("rosa@example.org")
    send = draft()
    first = timezone.now() + timedelta(seconds=1)
    second = timezone.now() + timedelta(seconds=3)
    with django_capture_on_commit_callbacks(execute=True):
        services.start_send(send.pk, first)
    services.cancel_send(send.pk)
    with django_capture_on_commit_callbacks(execute=True):
        services.start_send(send.pk, second)

    time.sleep(max(0.0, (first - timezone.now()).total_seconds()) + 0.2)
    with django_capture_on_commit_callbacks(execute=True):
        run_worker()  # the real worker runs the first start task at the first time
    run_worker()
    send.refresh_from_db()
    assert send.deliveries.count() == 0
    assert smtp_server.messages == []
    assert send.status == Digest.Status.SENDING
    assert send.send_after == second
    services.cancel_send(send.pk)  # still the editor's to cancel before the second time
    with django_capture_on_commit_callbacks(execute=True):
        services.start_send(send.pk, second + timedelta(seconds=1))
    third = second + timedelta(seconds=1)

    time.sleep(max(0.0, (third - timezone.now()).total_seconds()) + 0.2)
    with django_capture_on_commit_callbacks(execute=True):
        run_worker()  # the start task queued for the current time starts it
    run_worker()  # its batches
    send.refresh_from_db()
    assert received(smtp_server) == {"rosa@example.org"}
    assert send.status == Digest.Status.SENT


# 2. A segment never widens.


def test_deleting_a_segment_topic_after_scheduling_mails_no_one_outside_it(
    make_subscriber, smtp_server
):
    peru = Topic.objects.create(name="Peru", slug="peru")
    chile = Topic.objects.create(name="Chile", slug="chile")
    make_subscriber("peru@example.org", topics=[peru])
    make_subscriber("chile@example.org", topics=[chile])
    make_subscriber("all@example.org")
    send = draft()
    send.segment_topics.set([peru])
    send_at = timezone.now() + timedelta(seconds=1)
    services.start_send(send.pk, send_at)
    peru.delete()  # an Editor tidies topics meanwhile
    send.refresh_from_db()
    emails = set(segments.segment_queryset(send).values_list("email", flat=True))
    assert emails == {"all@example.org"}  # narrower, never everyone

    time.sleep(max(0.0, (send_at - timezone.now()).total_seconds()) + 0.1)
    assert tasks.start_one_off_send.call(send.pk, send_at.isoformat()) == 0
    send.refresh_from_db()
    assert send.status == Digest.Status.DRAFT
    assert "topic of its segment was deleted" in send.attention
    assert send.deliveries.count() == 0
    assert smtp_server.messages == []


def test_editors_see_a_send_stopped_for_a_deleted_topic(audience_client, make_subscriber):
    peru = Topic.objects.create(name="Peru", slug="peru")
    make_subscriber("peru@example.org", topics=[peru])
    send = draft(subject="For Peru readers")
    send.segment_topics.set([peru])
    send_at = timezone.now() + timedelta(seconds=1)
    services.start_send(send.pk, send_at)
    peru.delete()
    time.sleep(max(0.0, (send_at - timezone.now()).total_seconds()) + 0.1)
    assert not fanout.begin_send(send.pk, send_at.isoformat())

    listing = audience_client.get("/admin/newsletter/oneoffemail/").content.decode()
    assert "Needs attention" in listing
    review = audience_client.get(f"/admin/newsletter/oneoffemail/{send.pk}/send/")
    assert "Needs attention" in review.content.decode()
    # Sent again (the editor checked the segment): it goes, and the note is gone.
    services.start_send(send.pk)
    send.refresh_from_db()
    assert send.attention == ""
    assert send.status == Digest.Status.SENDING


def test_a_reminder_keeps_leaving_out_donors_when_its_appeal_is_deleted(
    make_subscriber,
    campaign,  # noqa: F811
):
    for name in ("after", "none"):
        make_subscriber(f"{name}@example.org")
    appeal = draft()
    services.start_send(appeal.pk, timezone.now() + timedelta(hours=1))
    reminder = draft(subject="A reminder", reminder_of=appeal)
    services.start_send(reminder.pk, timezone.now() + timedelta(hours=2))
    services.cancel_send(appeal.pk)
    Digest.objects.filter(pk=appeal.pk).delete()  # the appeal, a draft again, is deleted
    give("after@example.org", None, "A1", at=timezone.now() + timedelta(hours=1, minutes=5))
    reminder.refresh_from_db()
    assert reminder.reminder_of_id is None
    emails = {s.email for s in segments.segment_queryset(reminder)}
    assert emails == {"none@example.org"}


# 5. "View in your browser" only where there is a page.


@pytest.mark.parametrize("is_public", [True, False])
def test_view_in_your_browser_is_offered_only_where_the_page_opens(
    client, settings, make_subscriber, is_public
):
    settings.SITE_URL = "http://testserver"
    make_subscriber("rosa@example.org")
    send = draft(is_public=is_public)
    services.start_send(send.pk)
    list(fanout.fan_out(send.pk))
    send.refresh_from_db()
    Digest.objects.filter(pk=send.pk).update(status=Digest.Status.SENT)
    _subject, text, html = digests.render_preview(send)
    path = send.get_absolute_url()
    if is_public:
        assert "View in your browser" in html
        assert path in html
        assert path in text
        assert client.get(path).status_code == 200
    else:
        assert "View in your browser" not in html
        assert "View in your browser" not in text
        assert path not in html
        assert path not in text
        assert client.get(path).status_code == 404


# 8. Only a send that changes a public page empties the page cache.


@pytest.mark.parametrize("is_public", [True, False])
def test_only_a_public_send_empties_the_page_cache_when_it_finishes(
    smtp_server, make_subscriber, is_public
):
    make_subscriber("rosa@example.org")
    send = draft(is_public=is_public)
    services.start_send(send.pk)
    list(fanout.fan_out(send.pk))
    before = generation_store().current()
    sending.send_all_batches(send.pk)
    send.refresh_from_db()
    assert send.status == Digest.Status.SENT
    assert (generation_store().current() != before) is is_public


# 7. One mailbox, whichever way its domain is spelled.


def test_a_donor_at_an_internationalised_domain_counts_as_a_donor(
    make_subscriber,
    campaign,  # noqa: F811
):
    make_subscriber(services.normalize_email("ana@bücher.example"))  # kept as xn--bcher-kva
    make_subscriber("rosa@example.org")
    give("Ana@Bücher.example", campaign, "B1")  # the donor record keeps the Unicode domain
    donors = draft(givers=Digest.Givers.DONORS, giving_campaign_id=campaign.pk)
    non_donors = draft(givers=Digest.Givers.NON_DONORS, giving_campaign_id=campaign.pk)
    assert {s.email for s in segments.segment_queryset(donors)} == {"ana@xn--bcher-kva.example"}
    assert {s.email for s in segments.segment_queryset(non_donors)} == {"rosa@example.org"}


@pytest.mark.django_db(transaction=True)
def test_a_cancel_and_the_start_task_at_the_same_moment_exactly_one_wins(make_subscriber):
    """Two connections (the web host's cancel, the worker's start, its clock a minute ahead)
    wait on the same row lock; whichever gets it first, the other sees its result. Real row
    locks: PostgreSQL (the test database of SQLite is a shared in-memory one, whose table locks
    do not wait)."""
    import threading

    from django.db import connection, transaction

    if connection.vendor != "postgresql":
        pytest.skip("row locks between connections: run with DATABASE_URL=postgres://…")
    make_subscriber("rosa@example.org")
    send = draft()
    send_at = timezone.now() + timedelta(minutes=5)
    services.start_send(send.pk, send_at)
    outcomes: dict[str, object] = {}
    ready = threading.Barrier(3)

    def cancel() -> None:
        ready.wait()
        try:
            services.cancel_send(send.pk)
            outcomes["cancel"] = True
        except SubscriptionStateError:
            outcomes["cancel"] = False
        finally:
            connection.close()

    def start() -> None:
        ready.wait()
        try:
            worker_now = timezone.now() + timedelta(minutes=6)
            outcomes["start"] = fanout.begin_send(send.pk, send_at.isoformat(), now=worker_now)
        finally:
            connection.close()

    threads = [threading.Thread(target=cancel), threading.Thread(target=start)]
    with transaction.atomic():
        Digest.objects.select_for_update().get(pk=send.pk)  # both wait for this lock
        for thread in threads:
            thread.start()
        ready.wait()
    for thread in threads:
        thread.join(timeout=60)
    send.refresh_from_db()
    assert sorted(outcomes) == ["cancel", "start"]
    assert outcomes["cancel"] is not outcomes["start"]  # exactly one won
    if outcomes["start"]:
        assert send.status == Digest.Status.SENDING
        assert send.fanned_out_at is not None
    else:
        assert send.status == Digest.Status.DRAFT
        assert send.fanned_out_at is None
