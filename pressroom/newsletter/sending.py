"""Sending a digest batch: claim rows, render once per topic selection, send, record, recover.

Crash safety (the lesson of listmonk's lost and doubled campaigns): a batch's rows are claimed
atomically (pending → sending, with a claim token and a time), progress is recorded every
PROGRESS_EVERY messages (sending → sent) and the claim of the rest is renewed at the same time.
A worker killed mid-batch leaves at most PROGRESS_EVERY rows that went out but still say
'sending'; `recovery.recover_deliveries` puts rows whose claim is older than DIGEST_CLAIM_LEASE back to
'pending' and queues their batches again. So nobody is lost, and at most one worker's in-flight
messages go twice (with the same Message-ID, so mail clients can fold them).
"""

from __future__ import annotations

import logging
import smtplib
import threading
import time
import uuid
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from email.header import Header
from email.utils import formataddr, parseaddr
from functools import lru_cache, partial
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, mailers
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.db import connection, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from pressroom.lib.email import dkim_enabled, dkim_signature
from pressroom.newsletter import digests, rawmail, tokens
from pressroom.newsletter.models import Delivery, Digest, Subscriber

logger = logging.getLogger(__name__)

PROGRESS_EVERY = 100
MARKERS = (digests.PREFERENCES_MARKER, digests.UNSUBSCRIBE_MARKER)


# A digest never changes once built; its creation time tells a reused id apart (tests).
DigestKey = tuple[int, float]


@lru_cache(maxsize=4)
def _content(key: DigestKey) -> digests.DigestContent:
    return digests.load_content(Digest.objects.get(pk=key[0]))


@lru_cache(maxsize=256)
def _rendered(key: DigestKey, topic_ids: frozenset[int] | None) -> tuple[str, str, str]:
    """The digest for one topic selection, rendered once per worker process."""
    content = _content(key)
    return digests.render_digest(content, content.entries_for(topic_ids))


@lru_cache(maxsize=256)
def _prepared(key: DigestKey, topic_ids: frozenset[int] | None) -> rawmail.PreparedMessage:
    """The same, MIME-encoded once with slots for the personal links."""
    subject, text, html = _rendered(key, topic_ids)
    return rawmail.PreparedMessage.build(subject, text, html, MARKERS)


def _sender_domain() -> str:
    return settings.DKIM_DOMAIN or parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2]


def list_id() -> str:
    host = urlsplit(settings.SITE_URL).hostname or "localhost"
    name = f"{settings.SITE_NAME} Daily Digest".replace('"', "")
    phrase = f'"{name}"' if name.isascii() else Header(name, "utf-8").encode()
    return f"{phrase} <digest.{host}>"


def message_id(digest_id: int, subscriber_id: int) -> str:
    # The same for a re-send after a crash, so a recipient's mail client can fold duplicates.
    return f"<digest-{digest_id}-{subscriber_id}@{_sender_domain()}>"


def personal_headers(digest_id: int, subscriber_id: int, unsubscribe_url: str) -> dict[str, str]:
    unsubscribe = f"<{unsubscribe_url}>"
    if settings.DIGEST_UNSUBSCRIBE_MAILTO:
        unsubscribe += f", <mailto:{settings.DIGEST_UNSUBSCRIBE_MAILTO}?subject=unsubscribe>"
    return {
        "Message-ID": message_id(digest_id, subscriber_id),
        "List-Id": list_id(),
        "List-Unsubscribe": unsubscribe,
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


@dataclass(frozen=True)
class Recipient:
    delivery_id: int
    subscriber_id: int
    email: str
    topic_ids: frozenset[int] | None  # None: all topics


class _LinkMaker:
    """Personal URLs without a reverse() per recipient: the path prefix is computed once."""

    def __init__(self) -> None:
        marker = "TOKEN"
        self.preferences = tokens.absolute(
            reverse("newsletter:preferences", kwargs={"token": marker})
        ).partition(marker)
        self.unsubscribe = tokens.absolute(
            reverse("newsletter:unsubscribe", kwargs={"token": marker})
        ).partition(marker)

    def preferences_url(self, subscriber_id: int) -> str:
        before, _, after = self.preferences
        return f"{before}{tokens.preferences_token(subscriber_id)}{after}"

    def unsubscribe_url(self, subscriber_id: int, digest_id: int) -> str:
        before, _, after = self.unsubscribe
        return f"{before}{tokens.unsubscribe_token(subscriber_id, digest_id)}{after}"


def _from_header() -> str:
    name, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    return formataddr((name, address), charset="utf-8") if name else address


class _Pacer:
    """Keeps this worker under DIGEST_SEND_RATE messages a second (0: no limit)."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.next_at = time.monotonic()

    def wait(self) -> None:
        if not self.interval:
            return
        now = time.monotonic()
        if self.next_at > now:
            time.sleep(self.next_at - now)
        self.next_at = max(now, self.next_at) + self.interval


def claim_batch(digest_id: int, batch: int) -> str:
    """Atomically take the batch's pending rows; returns the claim token naming them."""
    claim = uuid.uuid4().hex
    now = timezone.now()
    pending = Delivery.objects.filter(
        digest_id=digest_id, batch=batch, state=Delivery.State.PENDING
    )
    changes = {
        "state": Delivery.State.SENDING,
        "claim": claim,
        "claimed_at": now,
        "attempts": F("attempts") + 1,
    }
    with transaction.atomic():
        if connection.features.has_select_for_update_skip_locked:
            ids = list(pending.select_for_update(skip_locked=True).values_list("id", flat=True))
            Delivery.objects.filter(id__in=ids).update(**changes)
        else:
            # SQLite: one UPDATE … WHERE state='pending' is atomic; writers are serialized.
            pending.update(**changes)
    return claim


def _recipients(digest_id: int, batch: int, claim: str) -> list[Recipient]:
    rows = list(
        Delivery.objects.filter(
            digest_id=digest_id, batch=batch, claim=claim, state=Delivery.State.SENDING
        )
        .order_by("id")
        .values_list(
            "id",
            "subscriber_id",
            "subscriber__email",
            "subscriber__all_topics",
            "subscriber__status",
            "subscriber__is_paused",
        )
    )
    chosen: dict[int, set[int]] = {}
    choosers = [row[1] for row in rows if not row[3]]
    for start in range(0, len(choosers), 500):
        for subscriber_id, topic_id in Subscriber.topics.through.objects.filter(
            subscriber_id__in=choosers[start : start + 500]
        ).values_list("subscriber_id", "topic_id"):
            chosen.setdefault(subscriber_id, set()).add(topic_id)
    recipients = []
    left = []
    for delivery_id, subscriber_id, email, all_topics, status, paused in rows:
        if status != Subscriber.Status.CONFIRMED or paused:
            left.append(delivery_id)  # unsubscribed, paused or bounced since the build
            continue
        topic_ids = (
            None
            if all_topics or not chosen.get(subscriber_id)
            else frozenset(chosen[subscriber_id])
        )
        recipients.append(Recipient(delivery_id, subscriber_id, email, topic_ids))
    if left:
        Delivery.objects.filter(id__in=left).update(state=Delivery.State.SKIPPED)
    return recipients


class _Outcomes:
    """Per-message results from the sending threads, written by the batch's own thread.

    Only the thread running the task touches the database, so connections never contend with
    each other (SQLite in-memory shared cache, PostgreSQL row locks) and one UPDATE per state
    records many messages at once.
    """

    def __init__(self, claim: str) -> None:
        self.claim = claim
        self.lock = threading.Lock()
        self.count = 0  # messages handed to the server, for the task's result
        self._reset()

    def _reset(self) -> None:
        self.sent: list[int] = []
        self.skipped: list[int] = []
        self.failed: dict[str, list[int]] = {}
        self.bounced: list[tuple[int, int, str]] = []
        self.message_ids: list[tuple[int, str]] = []
        self.unwritten = 0

    def record(self, kind: str, delivery_id: int, detail: str = "", subscriber_id: int = 0) -> None:
        with self.lock:
            if kind == "sent":
                self.sent.append(delivery_id)
                self.count += 1
                if detail:
                    self.message_ids.append((delivery_id, detail))
            elif kind == "skipped":
                self.skipped.append(delivery_id)
            elif kind == "bounced":
                self.bounced.append((delivery_id, subscriber_id, detail))
                self.count += 1
            else:
                self.failed.setdefault(detail, []).append(delivery_id)
                self.count += 1
            self.unwritten += 1

    def flush(self) -> None:
        with self.lock:
            sent, skipped, failed = self.sent, self.skipped, self.failed
            bounced, message_ids = self.bounced, self.message_ids
            self._reset()
        now = timezone.now()
        with transaction.atomic():
            if sent:
                Delivery.objects.filter(id__in=sent).update(state=Delivery.State.SENT, sent_at=now)
            if skipped:
                Delivery.objects.filter(id__in=skipped).update(state=Delivery.State.SKIPPED)
            for error, ids in failed.items():
                Delivery.objects.filter(id__in=ids).update(
                    state=Delivery.State.FAILED, error=error[:500]
                )
            for delivery_id, subscriber_id, error in bounced:
                Delivery.objects.filter(id=delivery_id).update(
                    state=Delivery.State.BOUNCED, error=error[:500]
                )
                subscriber = Subscriber.objects.get(pk=subscriber_id)
                subscriber.suppress(Subscriber.Status.BOUNCED, error)
                subscriber.save()
            for delivery_id, esp_message_id in message_ids:
                Delivery.objects.filter(id=delivery_id).update(message_id=esp_message_id[:255])
            # Renew the lease on what this worker still holds: it is alive and working.
            Delivery.objects.filter(claim=self.claim, state=Delivery.State.SENDING).update(
                claimed_at=now
            )


def send_batch(digest_id: int, batch: int) -> int:
    """Send one batch of a digest; returns how many messages went out. Safe to run twice.

    The batch is split over DIGEST_SMTP_CONNECTIONS connections, each driven by a thread that
    only talks SMTP (sending is mostly waiting for the server, so threads overlap well); this
    thread records progress every PROGRESS_EVERY messages and renews the claim meanwhile.
    """
    digest = Digest.objects.filter(pk=digest_id).first()
    if digest is None:
        return 0
    claim = claim_batch(digest_id, batch)
    recipients = _recipients(digest_id, batch, claim)
    if not recipients:
        finish_if_done(digest_id)
        return 0
    key = (digest.pk, digest.created_at.timestamp())
    content = _content(key)
    # Render every topic selection of this batch here, so the sending threads need no database.
    for topic_ids in {recipient.topic_ids for recipient in recipients}:
        if content.entries_for(topic_ids):
            _prepared(key, topic_ids)
    connections = max(1, min(settings.DIGEST_SMTP_CONNECTIONS, len(recipients)))
    rate = settings.DIGEST_SEND_RATE / connections
    outcomes = _Outcomes(claim)
    renew_every = settings.DIGEST_CLAIM_LEASE / 4  # a slow but live worker never looks dead
    flushed_at = time.monotonic()
    with ThreadPoolExecutor(connections, thread_name_prefix="digest-smtp") as pool:
        futures = [
            pool.submit(_send_slice, key, recipients[start::connections], rate, outcomes)
            for start in range(connections)
        ]
        running = set(futures)
        while running:
            _, running = wait(running, timeout=0.05, return_when=FIRST_EXCEPTION)
            if (
                outcomes.unwritten >= PROGRESS_EVERY
                or time.monotonic() - flushed_at > renew_every
                or not running
            ):
                outcomes.flush()
                flushed_at = time.monotonic()
    outcomes.flush()
    for future in futures:
        future.result()  # a connection that failed for good fails the task; recovery re-queues
    finish_if_done(digest_id)
    return outcomes.count


def _send_slice(
    key: DigestKey, recipients: list[Recipient], rate: float, outcomes: _Outcomes
) -> None:
    """Send to these recipients over one connection (runs in a sending thread: no database)."""
    digest_id = key[0]
    content = _content(key)
    links = _LinkMaker()
    pacer = _Pacer(rate)
    backend = mailers["bulk"]
    sender = (
        _SMTPSender(backend, outcomes)
        if isinstance(backend, SMTPBackend)
        else _BackendSender(backend, outcomes)
    )
    try:
        for recipient in recipients:
            if not content.entries_for(recipient.topic_ids):
                outcomes.record("skipped", recipient.delivery_id)
                continue
            unsubscribe_url = links.unsubscribe_url(recipient.subscriber_id, digest_id)
            personal_links = {
                digests.PREFERENCES_MARKER: links.preferences_url(recipient.subscriber_id),
                digests.UNSUBSCRIBE_MARKER: unsubscribe_url,
            }
            headers = personal_headers(digest_id, recipient.subscriber_id, unsubscribe_url)
            pacer.wait()
            sender.send(recipient, key, personal_links, headers)
    finally:
        backend.close()


class _SMTPSender:
    """Raw SMTP on one connection per batch; a 5xx refusal of the recipient is a hard bounce."""

    def __init__(self, backend: SMTPBackend, outcomes: _Outcomes) -> None:
        self.backend = backend
        self.outcomes = outcomes
        self.from_header = rawmail.header("From", _from_header())
        self.envelope_from = (
            settings.DIGEST_RETURN_PATH or parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
        )
        self.signing = dkim_enabled()

    def send(
        self,
        recipient: Recipient,
        key: DigestKey,
        links: dict[str, str],
        headers: dict[str, str],
    ) -> None:
        prepared = _prepared(key, recipient.topic_ids)
        compose = partial(
            prepared.compose,
            from_header=self.from_header,
            to=recipient.email,
            headers=headers,
            links=links,
        )
        if self.signing:
            # DKIM signs the message as written; dot-stuffing is transport, undone on receipt.
            plain = compose(stuffed=False)
            data = rawmail._stuff(dkim_signature(plain) + plain)
        else:
            data = compose(stuffed=True)
        for attempt in (1, 2):
            try:
                self.backend.open()
                if self.backend.connection is None:  # open() failed silently
                    raise smtplib.SMTPServerDisconnected("could not connect")
                rawmail.transact(self.backend.connection, self.envelope_from, recipient.email, data)
            except rawmail.RecipientRefused as refusal:
                if 500 <= refusal.code < 600:
                    self.outcomes.record(
                        "bounced", recipient.delivery_id, str(refusal), recipient.subscriber_id
                    )
                else:
                    self.outcomes.record("failed", recipient.delivery_id, str(refusal))
                return
            except rawmail.MessageRefused as refusal:
                self.outcomes.record("failed", recipient.delivery_id, str(refusal))
                return
            except (smtplib.SMTPException, OSError):
                # The server hung up (idle timeout, restart): reconnect once, then give up and
                # leave the rest claimed for recovery to re-queue.
                self._drop_connection()
                if attempt == 2:
                    raise
                continue
            self.outcomes.record("sent", recipient.delivery_id)
            return

    def _drop_connection(self) -> None:
        try:
            self.backend.close()
        except (smtplib.SMTPException, OSError):
            self.backend.connection = None


class _BackendSender:
    """Any Django email backend (django-anymail ESPs): one EmailMessage per recipient."""

    def __init__(self, backend, outcomes: _Outcomes) -> None:
        self.backend = backend
        self.outcomes = outcomes

    def send(
        self,
        recipient: Recipient,
        key: DigestKey,
        links: dict[str, str],
        headers: dict[str, str],
    ) -> None:
        subject, text, html = _rendered(key, recipient.topic_ids)
        for marker, url in links.items():
            text = text.replace(marker, url)
            html = html.replace(marker, url)
        message = EmailMultiAlternatives(
            subject=subject,
            body=text,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[recipient.email],
            headers=headers,
            connection=self.backend,
        )
        message.attach_alternative(html, "text/html")
        try:
            message.send()
        except Exception as error:  # any provider error: this message failed, the rest go on
            self.outcomes.record("failed", recipient.delivery_id, str(error)[:500])
            return
        status = getattr(message, "anymail_status", None)
        esp_message_id = str(status.message_id) if status and status.message_id else ""
        self.outcomes.record("sent", recipient.delivery_id, esp_message_id)


def finish_if_done(digest_id: int) -> bool:
    unfinished = Delivery.objects.filter(
        digest_id=digest_id, state__in=[Delivery.State.PENDING, Delivery.State.SENDING]
    )
    if unfinished.exists():
        return False
    # Until the fan-out is complete, more rows may still come.
    return bool(
        Digest.objects.filter(
            pk=digest_id, status=Digest.Status.SENDING, is_fanned_out=True
        ).update(status=Digest.Status.SENT, finished_at=timezone.now())
    )


def send_all_batches(digest_id: int) -> int:
    """Send every pending batch of a digest in this process (`send_digest --sync`, tests)."""
    digest = Digest.objects.get(pk=digest_id)
    return sum(send_batch(digest_id, batch) for batch in digests.batch_numbers(digest))
