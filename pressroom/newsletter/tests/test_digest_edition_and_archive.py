"""The digest, edited (a note on top, a chosen lead article, a bounded wait for the note); the
archive lists only what went out, public one-off sends have a page; visits per send."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from pressroom.newsletter import digests, sending, services, tasks
from pressroom.newsletter.models import Digest, DigestEdition, OneOffEmail


def today() -> object:
    return digests.digest_date()


@pytest.mark.django_db
def test_editors_note_goes_on_top_and_the_chosen_lead_article_first(
    smtp_server, reader, make_article, settings
):
    settings.SITE_URL = "https://news.example.org"
    older = make_article("An older investigation", published_at=timezone.now() - timedelta(days=3))
    make_article("News of the day")
    DigestEdition.objects.create(
        date=today(), note="Good morning.\n\nWe have a correction today.", lead_article=older
    )
    digest, created = tasks.build_and_queue_digest()
    assert created
    sending.send_all_batches(digest.pk)

    assert digest.editor_note.startswith("Good morning.")
    assert list(digest.entries.values_list("article__title", flat=True)) == [
        "An older investigation",
        "News of the day",
    ]
    [received] = smtp_server.to("rosa@example.org")
    assert "An older investigation" in digest.subject  # the lead names the digest
    html = received.html.partition("<body")[2]
    assert html.index("We have a correction today.") < html.index("An older investigation")
    assert html.index("An older investigation") < html.index("News of the day")
    assert "Good morning." in received.text


@pytest.mark.django_db
def test_the_digest_waits_for_the_note_until_it_is_written_or_the_cutoff(
    make_article, settings, django_capture_on_commit_callbacks
):
    now = timezone.now().astimezone(digests.digest_timezone())
    if now.hour >= 22:
        pytest.skip("needs an hour of the day left for the cutoff")
    settings.DIGEST_SEND_AT = (now.hour, 0)
    settings.DIGEST_WAIT_FOR_NOTE_UNTIL = (now.hour + 2, 0)
    make_article("News of the day")

    assert tasks.send_daily_digest.call() is None  # waiting: no note yet
    assert not Digest.objects.exists()

    edition = DigestEdition(date=today(), note="Our election coverage starts today.")
    with django_capture_on_commit_callbacks(execute=True) as queued:
        services.save_edition(edition)
    assert len(queued) == 1  # the waiting digest's task is queued by the note
    digest_id = tasks.send_daily_digest.call()
    assert Digest.objects.get(pk=digest_id).editor_note == "Our election coverage starts today."


@pytest.mark.django_db
def test_past_the_cutoff_the_digest_goes_without_a_note(make_article, settings):
    now = timezone.now().astimezone(digests.digest_timezone())
    if now.hour < 1:
        pytest.skip("needs an hour of the day behind for the cutoff")
    settings.DIGEST_SEND_AT = (now.hour - 1, 0)
    settings.DIGEST_WAIT_FOR_NOTE_UNTIL = (now.hour, 0)
    make_article("News of the day")
    assert tasks.send_daily_digest.call() is not None


def one_off(**fields) -> OneOffEmail:
    now = timezone.now()
    values = {
        "kind": Digest.Kind.ANNOUNCEMENT,
        "subject": "Our new podcast",
        "body": "<p>Listen now.</p>",
        "status": Digest.Status.SENT,
        "date": now.date(),
        "covers_from": now,
        "covers_until": now,
        **fields,
    }
    return OneOffEmail.objects.create(**values)


@pytest.mark.django_db
def test_archive_lists_only_sent_digests_and_public_sent_emails(client, reader, make_article):
    make_article("News of the day")
    digest, _ = tasks.build_and_queue_digest()
    public = one_off(subject="Public announcement", is_public=True)
    private = one_off(subject="Members only", is_public=False)
    draft = one_off(subject="Draft words", is_public=True, status=Digest.Status.DRAFT)
    scheduled = one_off(
        subject="Tomorrow's news",
        is_public=True,
        status=Digest.Status.SENDING,
        send_after=timezone.now() + timedelta(days=1),
    )

    page = client.get("/digest/archive/").content.decode()
    assert digest.subject not in page  # still sending: not listed yet
    assert "Public announcement" in page
    for hidden in ("Members only", "Draft words", "Tomorrow's news"):
        assert hidden not in page
    # Readers who got the digest can open it while later batches still go out.
    assert client.get(digest.get_absolute_url()).status_code == 200

    sending.send_all_batches(digest.pk)
    page = client.get("/digest/archive/").content.decode()
    assert digest.subject in page
    assert client.get(public.get_absolute_url()).status_code == 200
    assert "Listen now." in client.get(public.get_absolute_url()).content.decode()
    for hidden in (private, draft, scheduled):
        assert client.get(hidden.get_absolute_url()).status_code == 404
    # The footer and the signup block lead to the archive.
    home = client.get("/").content.decode()
    assert home.count('href="/digest/archive/"') >= 2
