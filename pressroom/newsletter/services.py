"""Writes about subscriptions: signup, confirmation, preferences, unsubscribe, suppression, import."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from pressroom.lib.attribution import Source
from pressroom.lib.ratelimit import Limit
from pressroom.newsletter import tokens
from pressroom.newsletter.models import (
    Delivery,
    Digest,
    DigestEdition,
    Subscriber,
    SubscriptionStateError,
)
from pressroom.publishing.models import Topic

logger = logging.getLogger(__name__)

SIGNUP_EMAIL_INTERVAL = timedelta(hours=24)


def normalize_email(raw: str) -> str:
    """One spelling per mailbox: trimmed, lower-cased, domain in IDNA; raises ValidationError."""
    address = (raw or "").strip()
    if not address or len(address) > 254:
        raise ValidationError("Enter a valid email address.")
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        raise ValidationError("Enter a valid email address.")
    if not local.isascii():
        raise ValidationError("Addresses with non-ASCII characters before the @ are not supported.")
    try:
        domain = domain.rstrip(".").encode("idna").decode("ascii")
    except UnicodeError:
        raise ValidationError("Enter a valid email address.") from None
    address = f"{local}@{domain}".lower()
    validate_email(address)
    return address


def signup_limit() -> Limit:
    return Limit("digest-signup", settings.DIGEST_SIGNUPS_PER_IP_PER_HOUR, 3600)


def signup_allowed_from(ip_address: str) -> bool:
    """Count a signup attempt from this address; False once it is over the hourly limit.

    Counted where every web process sees it (pressroom.lib.ratelimit), so the limit holds
    however many workers and servers there are."""
    return signup_limit().hit(ip_address)


def _topic_ids(topics: Iterable[Topic | int] | None) -> list[int] | None:
    if topics is None:
        return None
    ids = sorted({topic if isinstance(topic, int) else topic.pk for topic in topics})
    return ids or None


def request_subscription(
    email: str, topics: Iterable[Topic | int] | None = None, *, source: Source | None = None
) -> None:
    """Handle a signup: mail a confirmation link (or, if already subscribed, a preferences link).
    `source`: where the signup started (kept on a new subscriber only: a known reader's second
    signup was not brought by that page).

    Whatever happens, the caller shows the same answer, so the form never tells anyone whether an
    address is on the list. At most one such email goes to an address per day.
    """
    address = normalize_email(email)
    topic_ids = _topic_ids(topics)
    now = timezone.now()
    with transaction.atomic():
        try:
            with transaction.atomic():
                subscriber, created = Subscriber.objects.select_for_update().get_or_create(
                    email=address,
                    defaults={
                        "all_topics": topic_ids is None,
                        "signup_email_sent_at": now,
                        "source_path": source.path if source else "",
                        "source_campaign": source.campaign if source else "",
                    },
                )
        except IntegrityError:  # a simultaneous signup for the same address created it
            return
        if created:
            if topic_ids:
                subscriber.topics.set(topic_ids)
        else:
            if subscriber.status in Subscriber.SUPPRESSED_STATUSES:
                return  # never mail an address that bounced or complained
            recent = subscriber.signup_email_sent_at
            if recent and now - recent < SIGNUP_EMAIL_INTERVAL:
                return
            subscriber.signup_email_sent_at = now
            subscriber.save(update_fields=["signup_email_sent_at"])
        subscriber_id = subscriber.pk
        # Imported here: importing tasks loads the task backend, which the start-up checks
        # must be able to explain first when TASKS_BACKEND is wrong (admin imports this module).
        from pressroom.newsletter.tasks import send_signup_email

        # Sent by the task worker, so the answer takes the same time whether the address was
        # new or known (and a slow mail server slows no signup).
        transaction.on_commit(lambda: send_signup_email.enqueue(subscriber_id, topic_ids))


@transaction.atomic
def confirm_subscription(token: str) -> Subscriber:
    """Confirm from a signed link; raises tokens.InvalidLink."""
    request = tokens.read_confirmation_token(token)
    subscriber = Subscriber.objects.select_for_update().filter(pk=request.subscriber_id).first()
    if subscriber is None:
        raise tokens.InvalidLink("This confirmation link is no longer valid.")
    if subscriber.status != Subscriber.Status.CONFIRMED:
        subscriber.confirm()
        subscriber.all_topics = request.topic_ids is None
        subscriber.save()
        known = list(Topic.objects.filter(pk__in=request.topic_ids or []))
        subscriber.topics.set(known)
        if request.topic_ids and not known:
            subscriber.all_topics = True  # the chosen topics were deleted meanwhile
            subscriber.save(update_fields=["all_topics"])
    return subscriber


def subscriber_from_preferences_token(token: str) -> Subscriber:
    subscriber = Subscriber.objects.filter(pk=tokens.read_preferences_token(token)).first()
    if subscriber is None:
        raise tokens.InvalidLink("This link is no longer valid.")
    return subscriber


@transaction.atomic
def update_preferences(
    subscriber: Subscriber, *, all_topics: bool, topics: Iterable[Topic], is_paused: bool
) -> Subscriber:
    chosen = list(topics)
    subscriber.all_topics = all_topics or not chosen
    subscriber.is_paused = is_paused
    subscriber.save(update_fields=["all_topics", "is_paused"])
    subscriber.topics.set([] if subscriber.all_topics else chosen)
    return subscriber


@transaction.atomic
def unsubscribe(subscriber: Subscriber, digest_id: int | None = None) -> Subscriber:
    digest = Digest.objects.filter(pk=digest_id).first() if digest_id else None
    subscriber.unsubscribe(digest)
    subscriber.save()
    return subscriber


def unsubscribe_by_token(token: str) -> Subscriber:
    subscriber_id, digest_id = tokens.read_unsubscribe_token(token)
    subscriber = Subscriber.objects.filter(pk=subscriber_id).first()
    if subscriber is None:
        raise tokens.InvalidLink("This unsubscribe link is no longer valid.")
    return unsubscribe(subscriber, digest_id)


@transaction.atomic
def resubscribe(subscriber: Subscriber) -> Subscriber:
    subscriber.resubscribe()
    subscriber.save()
    return subscriber


@transaction.atomic
def suppress_address(
    email: str, status: str, reason: str, *, message_id: str = ""
) -> Subscriber | None:
    """A hard bounce or a complaint: stop mailing this address, and mark the delivery."""
    delivery: Delivery | None = None
    if message_id:
        delivery = (
            Delivery.objects.filter(message_id=message_id)
            .exclude(message_id="")  # the condition of the partial index that holds these ids
            .select_related("subscriber")
            .first()
        )
    subscriber = delivery.subscriber if delivery else None
    if subscriber is None and email:
        try:
            subscriber = Subscriber.objects.filter(email=normalize_email(email)).first()
        except ValidationError:
            subscriber = None
    if subscriber is None:
        return None
    subscriber.suppress(status, reason)
    subscriber.save()
    if delivery is not None:
        delivery.state = status
        delivery.error = reason[:500]
        delivery.save(update_fields=["state", "error"])
    return subscriber


@dataclass
class ImportReport:
    added: int = 0
    already_present: int = 0
    invalid: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)


@dataclass
class ImportRow:
    line: int
    email: str
    topics: list[str]
    consented_at: datetime | None


def import_subscribers(rows: Iterable[ImportRow], *, confirmed: bool) -> ImportReport:
    """Add subscribers from a list; existing addresses are left exactly as they are."""
    report = ImportReport()
    topics_by_key = {}
    for topic in Topic.objects.all():
        topics_by_key[topic.slug.lower()] = topic
        topics_by_key[topic.name.lower()] = topic
    now = timezone.now()
    with transaction.atomic():
        for row in rows:
            try:
                address = normalize_email(row.email)
            except ValidationError as error:
                report.invalid.append((row.line, f"{row.email!r}: {error.messages[0]}"))
                continue
            unknown = [name for name in row.topics if name.lower() not in topics_by_key]
            if unknown:
                report.invalid.append((row.line, f"unknown topic(s): {', '.join(unknown)}"))
                continue
            if Subscriber.objects.filter(email=address).exists():
                report.already_present += 1
                continue
            subscriber = Subscriber.objects.create(
                email=address,
                status=Subscriber.Status.CONFIRMED if confirmed else Subscriber.Status.PENDING,
                all_topics=not row.topics,
                source="import",
                consented_at=row.consented_at or (now if confirmed else None),
                confirmed_at=now if confirmed else None,
            )
            if row.topics:
                subscriber.topics.set({topics_by_key[name.lower()] for name in row.topics})
            report.added += 1
    return report


# One-off sends and the editor's edition of a coming digest.


def start_send(send_id: int, send_after: datetime | None = None) -> Digest:
    """Send a draft one-off email now, or at `send_after` (the worker starts it then).

    Its segment is taken when it starts (the fan-out), and its donor conditions again for each
    batch. Raises SubscriptionStateError for anything but a draft one-off send.
    """
    from pressroom.newsletter.tasks import start_one_off_send  # see request_subscription

    with transaction.atomic():
        send = Digest.objects.select_for_update().get(pk=send_id)
        send.start(send_after)
        send.save(
            update_fields=[
                "status",
                "send_after",
                "started_at",
                "date",
                "covers_from",
                "covers_until",
                "segment_topic_ids",
                "reminder_since",
                "attention",
            ]
        )
        queued = (
            start_one_off_send.using(run_after=send.send_after)
            if send.send_after
            else start_one_off_send
        )
        scheduled_for = send.send_after.isoformat() if send.send_after else ""
        transaction.on_commit(lambda: queued.enqueue(send.pk, scheduled_for))
    return send


def cancel_send(send_id: int) -> Digest:
    """A scheduled send that has not started goes back to draft."""
    with transaction.atomic():
        send = Digest.objects.select_for_update().get(pk=send_id)
        if (
            send.is_digest
            or send.status != Digest.Status.SENDING
            or send.recipients_through
            or send.is_fanned_out
            or send.fanned_out_at is not None  # its start task has begun (fanout.begin_send)
            or not send.send_after
            or send.send_after <= timezone.now()
        ):
            raise SubscriptionStateError(
                "Only a scheduled send that has not started can be cancelled."
            )
        send.status = Digest.Status.DRAFT
        send.send_after = None
        send.started_at = None
        send.save(update_fields=["status", "send_after", "started_at"])
    return send


def save_edition(edition: DigestEdition) -> DigestEdition:
    """Save the editor's edition; if today's digest was waiting for its note, build it now."""
    from pressroom.newsletter import digests
    from pressroom.newsletter.tasks import send_daily_digest

    now = timezone.now()
    with transaction.atomic():
        edition.save()
        waiting = (
            edition.date == digests.digest_date(now)
            and edition.note
            and now >= digests.scheduled_send_time(edition.date)
            and not Digest.objects.digests().filter(date=edition.date).exists()
        )
        if waiting:
            transaction.on_commit(send_daily_digest.enqueue)
    return edition
