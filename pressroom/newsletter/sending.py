"""Sending a digest batch: claim it, render once per topic selection, send, record, recover.

Crash safety (the lesson of listmonk's lost and doubled campaigns): a batch is claimed
atomically by this worker process, named by its worker id (`pressroom.workers`), and only the
holder of the claim records its rows (pending → sent, guarded by the claim in the same
statement). Each message is recorded as sent as soon as the server accepts it: one
thread watches every SMTP connection of the batch (`_SMTPLoop`), writes what has been answered
in one transaction, and a connection writes its next message only once its previous one is
recorded (the write overlaps the next message's MAIL/RCPT/DATA round trips; an email
provider's API gets a thread per connection instead). So a worker killed at any
moment leaves at most one accepted-but-unrecorded message per SMTP connection. Its heartbeat
stops; within seconds a live worker clears its claim and queues the batch again
(`recovery.release_dead_claims`), whose rows still pending go out from another worker. Nobody
is lost, and at most the messages that were on the wire go twice (with the same Message-ID, so
mail clients can fold them).
"""

from __future__ import annotations

import logging
import selectors
import smtplib
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from datetime import datetime
from email.header import Header
from email.utils import formataddr, parseaddr
from functools import lru_cache, partial
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, mailers
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from pressroom.lib.email import dkim_enabled, dkim_signature
from pressroom.lib.pagecache import forget_cached_pages
from pressroom.newsletter import digests, rawmail, segments, smtp_pool, tokens
from pressroom.newsletter.models import Delivery, DeliveryBatch, Digest, Subscriber
from pressroom.site.current import current_site
from pressroom.workers import heartbeat

logger = logging.getLogger(__name__)

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
    return _domain_of(settings.DKIM_DOMAIN, settings.DEFAULT_FROM_EMAIL)


@lru_cache(maxsize=8)
def _domain_of(dkim_domain: str, from_email: str) -> str:
    # Parsed once per setting's value: a Message-ID is made per recipient.
    return dkim_domain or parseaddr(from_email)[1].rpartition("@")[2]


def list_id() -> str:
    """The List-Id header (RFC 2919): the digest's name after the site settings' name."""
    host = urlsplit(settings.SITE_URL).hostname or "localhost"
    name = f"{current_site().name} Daily Digest".replace('"', "")
    phrase = f'"{name}"' if name.isascii() else Header(name, "utf-8").encode()
    return f"{phrase} <digest.{host}>"


@lru_cache(maxsize=4)
def _list_id_of(key: DigestKey) -> str:
    """list_id() once per digest and process: read before sending starts (the site settings are
    in the database), so a provider's sending threads need none."""
    return list_id()


def message_id(digest_id: int, subscriber_id: int) -> str:
    # The same for a re-send after a crash, so a recipient's mail client can fold duplicates.
    return f"<digest-{digest_id}-{subscriber_id}@{_sender_domain()}>"


def personal_headers(
    digest_id: int, subscriber_id: int, unsubscribe_url: str, list_id_header: str | None = None
) -> dict[str, str]:
    unsubscribe = f"<{unsubscribe_url}>"
    if settings.DIGEST_UNSUBSCRIBE_MAILTO:
        unsubscribe += f", <mailto:{settings.DIGEST_UNSUBSCRIBE_MAILTO}?subject=unsubscribe>"
    return {
        "Message-ID": message_id(digest_id, subscriber_id),
        "List-Id": list_id_header if list_id_header is not None else list_id(),
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
        if delay := self.delay():
            time.sleep(delay)
            self.delay()

    def delay(self) -> float:
        """0 and the next message's turn is taken, or how many seconds until it comes."""
        if not self.interval:
            return 0.0
        now = time.monotonic()
        if self.next_at > now:
            return self.next_at - now
        self.next_at = max(now, self.next_at) + self.interval
        return 0.0


class ClaimLost(Exception):
    """This worker no longer holds the batch (it was presumed dead): stop sending it."""


class BatchInterrupted(Exception):
    """The batch stopped with rows still to send while this worker held it (a record found one
    of its rows changed by another process): it is let go and its task queues it again."""


# Claims this process is sending right now; a claim of this worker that is not here was left by
# a task that stopped (an exception, a lost database) and is released by the heartbeat.
# The heartbeat thread reads it while task threads change it: every access holds the lock.
active_claims: set[str] = set()
_active_claims_lock = threading.Lock()


def held_claims() -> list[str]:
    """A copy of this process's active claims, taken under the lock."""
    with _active_claims_lock:
        return list(active_claims)


def _hold(claim: str) -> None:
    with _active_claims_lock:
        active_claims.add(claim)


def _drop(claim: str) -> None:
    with _active_claims_lock:
        active_claims.discard(claim)


def claim_batch(digest_id: int, batch: int) -> str | None:
    """Take the batch for this worker: returns the claim token, or None when another worker
    holds it or it is finished (a batch queued twice)."""
    heartbeat.beat(force=True)  # alive before holding anything
    claim = uuid.uuid4().hex
    _hold(claim)
    changes = {
        "claim": claim,
        "claimed_by": heartbeat.current_worker_id(),
        "claimed_at": timezone.now(),
        "attempts": F("attempts") + 1,
    }
    # Two workers taking the same batch: on PostgreSQL the second waits for the first's row
    # lock and then finds the claim taken; on SQLite writers are serialized.
    free = DeliveryBatch.objects.filter(
        digest_id=digest_id, number=batch, claim="", finished_at__isnull=True
    )
    with transaction.atomic():
        taken = free.update(**changes)
        if not taken:
            # A batch the release before DeliveryBatch fanned out has no row yet.
            DeliveryBatch.objects.bulk_create(
                [DeliveryBatch(digest_id=digest_id, number=batch)], ignore_conflicts=True
            )
            taken = free.update(**changes)
    if not taken:
        _drop(claim)
        return None
    return claim


@dataclass
class Released:
    batches: list[tuple[int, int]]  # (digest, batch) pairs to queue again (not given up)
    pending_rows: int = 0  # their rows still to send
    given_up_rows: int = 0  # rows failed: their batch was taken DIGEST_MAX_ATTEMPTS times
    finished_digests: set[int] = field(default_factory=set)  # of batches it finished


GAVE_UP = "Gave up: the worker sending it stopped repeatedly."


def release_claim(digest_id: int, batch: int, claim: str) -> Released:
    """Let go of this worker's batch: the rows it did not record go out again from whoever
    claims it next (or fail, after the last attempt). Released before the claim leaves this
    process's list, so that its own heartbeat never takes it for abandoned meanwhile."""
    try:
        return release(
            DeliveryBatch.objects.filter(digest_id=digest_id, number=batch, claim=claim),
            skip_locked=False,
        )
    finally:
        _drop(claim)


def release(batches: QuerySet[DeliveryBatch], *, skip_locked: bool = True) -> Released:
    """Clear these batches' claims. On PostgreSQL the rows are locked; recovery skips those
    another worker is releasing (each batch is queued again once). A worker recording messages
    of a batch holds it locked in the same statement, so it is released between two records."""
    with transaction.atomic():
        if connection.features.has_select_for_update_skip_locked and skip_locked:
            batches = batches.select_for_update(skip_locked=True)
        else:
            batches = batches.select_for_update()
        held = list(batches.values_list("pk", "digest_id", "number", "attempts"))
        result = Released(batches=[])
        if not held:
            return result
        finished = []
        for pk, digest_id, number, attempts in sorted(held):
            rows = Delivery.objects.filter(
                digest_id=digest_id, batch=number, state=Delivery.State.PENDING
            )
            if attempts >= settings.DIGEST_MAX_ATTEMPTS:
                result.given_up_rows += rows.update(state=Delivery.State.FAILED, error=GAVE_UP)
            elif pending := rows.count():
                result.pending_rows += pending
                result.batches.append((digest_id, number))
                continue
            finished.append(pk)
            result.finished_digests.add(digest_id)
        DeliveryBatch.objects.filter(pk__in=[pk for pk, *_ in held]).update(claim="", claimed_by="")
        DeliveryBatch.objects.filter(pk__in=finished).update(finished_at=timezone.now())
    return result


def _recipients(digest_id: int, batch: int, send: Digest | None = None) -> list[Recipient]:
    rows = list(
        Delivery.objects.filter(digest_id=digest_id, batch=batch, state=Delivery.State.PENDING)
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
    one_off = send is not None and not send.is_digest
    chosen: dict[int, set[int]] = {}
    # A one-off send is the same for everyone in its segment: readers' topics do not matter.
    choosers = [] if one_off else [row[1] for row in rows if not row[3]]
    for start in range(0, len(choosers), 500):
        for subscriber_id, topic_id in Subscriber.topics.through.objects.filter(
            subscriber_id__in=choosers[start : start + 500]
        ).values_list("subscriber_id", "topic_id"):
            chosen.setdefault(subscriber_id, set()).add(topic_id)
    # A one-off send's donor conditions, again now: who gave since the send was scheduled (or
    # since the appeal it reminds of went out) is left out. One query a batch, none for a digest.
    still_in = (
        segments.still_in_segment(send, [row[1] for row in rows])
        if one_off and send is not None and segments.changes_with_giving(send)
        else None
    )
    recipients = []
    left = []
    for delivery_id, subscriber_id, email, all_topics, status, paused in rows:
        if status != Subscriber.Status.CONFIRMED or paused:
            left.append(delivery_id)  # unsubscribed, paused or bounced since the build
            continue
        if still_in is not None and subscriber_id not in still_in:
            left.append(delivery_id)  # gave since: not asked again
            continue
        topic_ids = (
            None
            if one_off or all_topics or not chosen.get(subscriber_id)
            else frozenset(chosen[subscriber_id])
        )
        recipients.append(Recipient(delivery_id, subscriber_id, email, topic_ids))
    if left:
        Delivery.objects.filter(id__in=left).update(state=Delivery.State.SKIPPED)
    return recipients


class _Outcomes:
    """Per-message results of a batch, written by the thread running its task.

    Only that thread touches the database, so connections never contend with each other
    (SQLite in-memory shared cache, PostgreSQL row locks), and one transaction records whatever
    every connection has handed in since the last one. The SMTP loop records and flushes in
    that same thread. A provider's sending threads hand outcomes in: each gets a ticket, and a
    thread waits for its previous ticket to be recorded before it sends its next message
    (`wait_recorded`), so at most one accepted message per connection is unrecorded.

    Two conditions on one lock, so that an outcome handed in wakes only the batch's thread and a
    commit wakes only the sending threads: with one condition every outcome woke every sending
    thread to find its ticket still unwritten (a fifth of a worker's CPU at 8 connections).
    """

    def __init__(self, digest_id: int, batch: int, claim: str, connections: int) -> None:
        self.digest_id = digest_id
        self.batch = batch
        self.claim = claim
        lock = threading.Lock()
        self.handed_in = threading.Condition(lock)  # the batch's thread waits for outcomes here
        self.written = threading.Condition(lock)  # sending threads wait for their ticket here
        self.count = 0  # messages handed to the server, for the task's result
        self.issued = 0  # tickets handed out
        self.recorded = 0  # tickets written to the database
        self.running = connections  # sending threads still working
        self.stopped = ""  # why the sending threads must stop (the claim was lost, …)
        self._reset()

    def _reset(self) -> None:
        self.sent: list[int] = []
        self.skipped: list[int] = []
        self.failed: dict[str, list[int]] = {}
        self.bounced: list[tuple[int, int, str]] = []
        self.message_ids: list[tuple[int, str]] = []

    def record(self, kind: str, delivery_id: int, detail: str = "", subscriber_id: int = 0) -> int:
        with self.handed_in:
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
            self.issued += 1
            self.handed_in.notify()  # the batch's thread, the only one waiting there
            return self.issued

    def unrecorded(self) -> int:
        with self.handed_in:
            return self.issued - self.recorded

    def wait_recorded(self, ticket: int) -> None:
        """Block a sending thread until outcome `ticket` is in the database."""
        with self.written:
            self.written.wait_for(lambda: self.recorded >= ticket or bool(self.stopped))
            if self.stopped:
                raise ClaimLost(self.stopped)

    def thread_finished(self) -> None:
        with self.handed_in:
            self.running -= 1
            self.handed_in.notify()

    def stop(self, reason: str) -> None:
        with self.written:
            self.stopped = reason
            self.written.notify_all()
            self.handed_in.notify_all()

    def wait_for_outcomes(self, timeout: float) -> None:
        """Block the batch's thread until there is something to write or the threads are done."""
        with self.handed_in:
            self.handed_in.wait_for(
                lambda: self.issued > self.recorded or not self.running, timeout=timeout
            )

    def _held(self, claim: str) -> QuerySet[DeliveryBatch]:
        return DeliveryBatch.objects.filter(
            digest_id=self.digest_id, number=self.batch, claim=claim
        )

    def _mark_sent(self, ids: list[int], now: datetime) -> int:
        """One UPDATE of these rows to sent, if this worker still holds their batch; returns how
        many it wrote.

        Written as SQL because it runs once per message (per connection) while the batch
        sends: the ORM's query building cost as much as the SMTP transaction itself. On
        PostgreSQL the batch's row is locked (FOR SHARE) until the update commits, so recovery
        cannot hand the batch to another worker in between.

        `state IN (pending, sending)`, not `state = pending`: that would let PostgreSQL read the
        rows through `delivery_pending`, which its statistics (taken before the send, when no
        row was pending) call tiny, and it scanned that whole index for every statement. No
        row of this batch is 'sending' (only the release before DeliveryBatch wrote that).
        """
        quote = connection.ops.quote_name
        rows = quote(Delivery._meta.db_table)
        batches = quote(DeliveryBatch._meta.db_table)
        lock = " FOR SHARE" if connection.features.has_select_for_update else ""
        placeholders = ", ".join(["%s"] * len(ids))
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {rows} SET state = %s, sent_at = %s "  # noqa: S608 (no outside text)
                f"WHERE id IN ({placeholders}) AND state IN (%s, %s) AND EXISTS ("
                f"SELECT 1 FROM {batches} WHERE digest_id = %s AND number = %s AND claim = %s"
                f"{lock})",
                [
                    Delivery.State.SENT.value,
                    connection.ops.adapt_datetimefield_value(now),
                    *ids,
                    Delivery.State.PENDING.value,
                    Delivery.State.SENDING.value,
                    self.digest_id,
                    self.batch,
                    self.claim,
                ],
            )
            return cursor.rowcount

    def _record_sent_after_release(self, sent: list[int], now: datetime) -> None:
        """Released meanwhile (this worker was presumed dead): if nobody has claimed the batch
        again, its rows are marked sent, which saves their readers a copy. The batch row is
        locked first, so a worker claiming it now reads these rows once they are recorded."""
        with transaction.atomic():
            if list(self._held("").select_for_update().values_list("pk", flat=True)):
                Delivery.objects.filter(
                    id__in=sent, state__in=[Delivery.State.PENDING, Delivery.State.SENDING]
                ).update(state=Delivery.State.SENT, sent_at=now)

    def _record_others(
        self,
        skipped: list[int],
        failed: dict[str, list[int]],
        bounced: list[tuple[int, int, str]],
        message_ids: list[tuple[int, str]],
    ) -> int:
        """Skips, failures, bounces and provider ids; returns how many rows' states it wrote
        (none when this worker no longer holds the batch: the holder writes them). A bounced
        address is suppressed and a provider's id kept either way. Runs in the flush's
        transaction."""
        held = bool(self._held(self.claim).select_for_update().values_list("pk", flat=True))
        mine = Delivery.objects.filter(state__in=[Delivery.State.PENDING, Delivery.State.SENDING])
        kept = 0
        if held and skipped:
            kept += mine.filter(id__in=skipped).update(state=Delivery.State.SKIPPED)
        for error, ids in failed.items() if held else ():
            kept += mine.filter(id__in=ids).update(state=Delivery.State.FAILED, error=error[:500])
        for delivery_id, subscriber_id, error in bounced:
            if held and mine.filter(id=delivery_id).update(
                state=Delivery.State.BOUNCED, error=error[:500]
            ):
                kept += 1
            subscriber = Subscriber.objects.get(pk=subscriber_id)
            subscriber.suppress(Subscriber.Status.BOUNCED, error)
            subscriber.save()
        for delivery_id, esp_message_id in message_ids:
            # Never over the id of a copy another worker sent after taking the batch over.
            Delivery.objects.filter(id=delivery_id, message_id="").update(
                message_id=esp_message_id[:255]
            )
        return kept

    def flush(self) -> None:
        with self.handed_in:
            sent, skipped, failed = self.sent, self.skipped, self.failed
            bounced, message_ids = self.bounced, self.message_ids
            upto = self.issued
            self._reset()
        if upto == self.recorded:
            return
        now = timezone.now()
        # Messages sent is the common case: one statement, a transaction by itself on
        # PostgreSQL. On SQLite a transaction asks for the write lock every millisecond
        # (pressroom/lib/sqlite3), where a statement alone would wait behind every transaction.
        several = skipped or failed or bounced or message_ids
        with transaction.atomic() if several or connection.vendor == "sqlite" else nullcontext():
            kept = self._mark_sent(sent, now) if sent else 0
            if kept < len(sent):
                self._record_sent_after_release(sent, now)
            if several:
                kept += self._record_others(skipped, failed, bounced, message_ids)
        expected = len(sent) + len(skipped) + sum(map(len, failed.values())) + len(bounced)
        # Fewer rows written than handed in: the batch was taken over, or only some of its rows
        # changed under it (a reader erased meanwhile), and then the batch goes on.
        lost = kept < expected and not self._held(self.claim).exists()
        with self.written:
            # Stopped before the waiting threads see their ticket recorded: none writes again.
            if lost:
                self.stopped = "another worker took over this batch"
            self.recorded = upto
            self.written.notify_all()


@contextmanager
def _quick_commits() -> Iterator[None]:
    """On PostgreSQL, commits that do not wait for the disk while a batch is sent.

    Each message is recorded by its own commit; waiting for the WAL to reach the disk made that
    cost 9 ms (0.4 ms without) on the development machine. A commit is visible to every other
    session at once either way, so a killed worker's records are all kept; only a crash of
    PostgreSQL itself could lose the last fraction of a second of them (about three times
    wal_writer_delay), and those messages would be sent again.
    """
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO OFF")
    try:
        yield
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute("RESET synchronous_commit")
        except DatabaseError:
            connection.close()  # a broken connection: the next use opens a fresh one


def send_batch(digest_id: int, batch: int) -> int:
    """Send one batch of a digest; returns how many messages went out. Safe to run twice.

    The batch is split over DIGEST_SMTP_CONNECTIONS connections, all driven by this thread
    (`_SMTPLoop`; a provider's API gets a thread per connection), which records the outcomes as
    they arrive and keeps the worker's heartbeat going. Finished or not, the batch is let go:
    if it stopped on an error, the error is raised (the task queues the batch again later) and
    its rows still pending go out from whoever claims it next.
    """
    digest = Digest.objects.filter(pk=digest_id).first()
    if digest is None:
        return 0
    if digest.status != Digest.Status.SENDING:
        # Cancelled (or otherwise stopped) after its rows were written: none of it may go out.
        Delivery.objects.filter(
            digest_id=digest_id, batch=batch, state=Delivery.State.PENDING
        ).update(state=Delivery.State.SKIPPED)
        return 0
    claim = claim_batch(digest_id, batch)
    if claim is None:
        return 0  # another worker is sending it, or it is finished
    try:
        with _quick_commits():
            count = _send_claimed(digest, batch, claim)
    finally:
        released = release_claim(digest_id, batch, claim)
    if released.batches:
        raise BatchInterrupted(
            f"Digest {digest_id} batch {batch} stopped with {released.pending_rows} to send"
        )
    finish_if_done(digest_id)
    return count


def _send_claimed(digest: Digest, batch: int, claim: str) -> int:
    recipients = _recipients(digest.pk, batch, digest)
    if not recipients:
        return 0
    key = (digest.pk, digest.created_at.timestamp())
    content = _content(key)
    _list_id_of(key)
    # Render every topic selection of this batch before the first message goes out.
    for topic_ids in {recipient.topic_ids for recipient in recipients}:
        if content.has_content_for(topic_ids):
            _prepared(key, topic_ids)
        # Rendering many selections can outlast the dead-worker timeout: stay seen as alive
        # (at most one write an interval), or another worker would take this batch mid-render.
        heartbeat.beat()
    connections = max(1, min(settings.DIGEST_SMTP_CONNECTIONS, len(recipients)))
    outcomes = _Outcomes(digest.pk, batch, claim, connections)
    backend = mailers["bulk"]
    try:
        if isinstance(backend, SMTPBackend):
            _SMTPLoop(key, recipients, connections, outcomes).run()
        else:
            _send_through_backends(key, recipients, connections, outcomes)
    except ClaimLost as lost:
        logger.warning("Digest %s batch %s: %s", digest.pk, batch, lost)
    return outcomes.count


def _send_through_backends(
    key: DigestKey, recipients: list[Recipient], connections: int, outcomes: _Outcomes
) -> None:
    """An email provider's API (django-anymail): one thread a connection, as each call waits
    for its HTTP answer; this thread records the outcomes they hand in."""
    rate = settings.DIGEST_SEND_RATE / connections
    with ThreadPoolExecutor(connections, thread_name_prefix="digest-esp") as pool:
        futures = [
            pool.submit(_send_slice, key, recipients[start::connections], rate, outcomes)
            for start in range(connections)
        ]
        try:
            while outcomes.running:
                outcomes.wait_for_outcomes(timeout=1.0)
                outcomes.flush()
                heartbeat.beat()  # at most once an interval; a worker's own thread beats too
        except BaseException:
            outcomes.stop("recording the outcomes failed")
            raise
    outcomes.flush()
    for future in futures:
        try:
            future.result()  # a connection that failed for good fails the task
        except ClaimLost as lost:
            logger.warning("Digest %s: %s", key[0], lost)


def _send_slice(
    key: DigestKey, recipients: list[Recipient], rate: float, outcomes: _Outcomes
) -> None:
    """Send to these recipients through one provider connection (a sending thread: no
    database); each message waits until the previous one is recorded."""
    content = _content(key)
    list_id_header = _list_id_of(key)  # read by the batch's thread already
    links = _LinkMaker()
    pacer = _Pacer(rate)
    sender = _BackendSender(mailers["bulk"], outcomes)
    try:
        for recipient in recipients:
            if outcomes.stopped:
                raise ClaimLost(outcomes.stopped)
            if not content.has_content_for(recipient.topic_ids):
                sender.previous = outcomes.record("skipped", recipient.delivery_id)
                continue
            personal_links, headers = _personal_parts(recipient, key[0], links, list_id_header)
            pacer.wait()
            sender.send(recipient, key, personal_links, headers)
    finally:
        try:
            sender.close()
        finally:
            outcomes.thread_finished()


def _personal_parts(
    recipient: Recipient, digest_id: int, links: _LinkMaker, list_id_header: str
) -> tuple[dict[str, str], dict[str, str]]:
    """A recipient's own links and headers."""
    unsubscribe_url = links.unsubscribe_url(recipient.subscriber_id, digest_id)
    personal_links = {
        digests.PREFERENCES_MARKER: links.preferences_url(recipient.subscriber_id),
        digests.UNSUBSCRIBE_MARKER: unsubscribe_url,
    }
    headers = personal_headers(digest_id, recipient.subscriber_id, unsubscribe_url, list_id_header)
    return personal_links, headers


# What a command in flight was: its kind and the recipient it is for.
_Tag = tuple[str, Recipient]


class _Line:
    """One SMTP connection of the loop, and where its share of the batch stands.

    A message goes: envelope announced (MAIL, RCPT, DATA written) → `ready` (the server said
    354) → content written once everything before it is recorded → `unanswered` until the
    server's reply to the final dot. The next recipient's envelope is written with the content.
    """

    def __init__(self, backend: SMTPBackend, recipients: Iterable[Recipient]) -> None:
        self.backend = backend
        self.upcoming = deque(recipients)
        self.conversation: rawmail.Conversation[_Tag] | None = None
        self.codes: list[tuple[int, str]] = []  # replies to the announced envelope so far
        self.ready: Recipient | None = None
        self.unanswered: Recipient | None = None
        self.announced: Recipient | None = None
        self.failures_in_a_row = 0
        # Taken from the idle connections (`smtp_pool`) and not yet answered: the server may
        # have closed it meanwhile, which is no failure of the server.
        self.untested = False
        self.last_heard = time.monotonic()  # the last reply, or the last write

    @property
    def connected(self) -> bool:
        return self.conversation is not None

    @property
    def finished(self) -> bool:
        return (
            not self.upcoming
            and self.ready is None
            and (self.conversation is None or self.conversation.idle)
        )

    @property
    def content_open(self) -> bool:
        """The server waits for a message's content: a QUIT would be read as part of it."""
        return self.ready is not None


# How long the loop waits for more replies before it records what it has (see _gather).
GATHER_SECONDS = 0.001


class _SMTPLoop:
    """The batch over several SMTP connections, from this one thread: no thread wakes another
    per message, and one commit records what every connection has had answered meanwhile.

    Each loop: read the replies that came, record their outcomes (one transaction), then write
    the content of each message whose envelope the server accepted. So a connection writes a
    message only once its previous one is recorded: a worker killed at any moment leaves at
    most one accepted-but-unrecorded message per connection.
    """

    def __init__(
        self, key: DigestKey, recipients: list[Recipient], connections: int, outcomes: _Outcomes
    ) -> None:
        self.key = key
        self.outcomes = outcomes
        self.content = _content(key)
        self.list_id_header = _list_id_of(key)
        self.links = _LinkMaker()
        self.pacer = _Pacer(settings.DIGEST_SEND_RATE)
        self.from_header = rawmail.header("From", _from_header())
        self.envelope_from = (
            settings.DIGEST_RETURN_PATH or parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
        )
        self.signing = dkim_enabled()
        # Readers whose topics had nothing today get no message (and no connection is opened
        # for a share of the batch that is all theirs).
        sendable = []
        for recipient in recipients:
            if self.content.has_content_for(recipient.topic_ids):
                sendable.append(recipient)
            else:
                outcomes.record("skipped", recipient.delivery_id)
        self.lines = [
            _Line(mailers["bulk"], sendable[start::connections]) for start in range(connections)
        ]
        self.selector = selectors.DefaultSelector()
        self.turn = 0

    def run(self) -> None:
        try:
            for line in self.lines:
                if line.upcoming:
                    self._guarded(line, self._connect)
            wait = 1.0
            while not all(line.finished for line in self.lines):
                for key, _events in self.selector.select(timeout=wait):
                    self._hear(key.data)
                self._gather()
                self._check_silence()
                self.outcomes.flush()
                if self.outcomes.stopped:
                    raise ClaimLost(self.outcomes.stopped)
                wait = self._write_contents()
                for line in self.lines:
                    if line.connected and line.finished:
                        self._set_aside(line)
                heartbeat.beat()  # at most once an interval; a worker's own thread beats too
            self.outcomes.flush()  # the skipped, when nobody got a message
        except BaseException as error:
            if not isinstance(error, (ClaimLost, DatabaseError)):
                # What the server has answered is kept: those readers are not sent it again.
                with suppress(DatabaseError):
                    self.outcomes.flush()
            self.outcomes.stop("the batch stopped")
            for line in self.lines:
                self._hang_up(line)
            raise
        finally:
            self.selector.close()

    def _gather(self) -> None:
        """Wait up to GATHER_SECONDS for more replies, until half the messages on the wire have
        one, before recording them: a commit for eight messages costs the worker and the
        database about what a commit for four does. Over 2 × 16 connections to PostgreSQL,
        commits most often recorded 3 to 6 messages without it and 8 with it (bench digest)."""
        deadline = time.monotonic() + GATHER_SECONDS
        while True:
            waiting = sum(1 for line in self.lines if line.unanswered is not None)
            if waiting <= self.outcomes.unrecorded() or (left := deadline - time.monotonic()) <= 0:
                return
            for key, _events in self.selector.select(timeout=left):
                self._hear(key.data)

    def _write_contents(self) -> float:
        """Write every accepted message whose turn has come; returns how long the loop may
        wait for replies before the next turn (DIGEST_SEND_RATE)."""
        # Each pass starts one line further on, so a send rate cannot leave a line waiting.
        self.turn = (self.turn + 1) % len(self.lines)
        for line in self.lines[self.turn :] + self.lines[: self.turn]:
            if line.ready is None:
                continue
            if delay := self.pacer.delay():
                return min(delay, 1.0)
            self._guarded(line, self._write_content)
        return 1.0

    # Connections.

    def _connect(self, line: _Line) -> None:
        """An idle connection kept from an earlier batch, or a new one; then the first
        envelope. A kept connection that fails at once is dropped for the next, not counted."""
        while idle := smtp_pool.take(line.backend):
            line.backend, line.conversation = idle.backend, idle.conversation
            line.untested = True
            try:
                self._begin(line)
                return
            except (smtplib.SMTPException, OSError):
                if line.announced is not None:
                    line.upcoming.appendleft(line.announced)
                    line.announced = None
                self._hang_up(line)
        line.untested = False
        self._open(line)
        self._begin(line)

    def _begin(self, line: _Line) -> None:
        assert line.conversation is not None
        self.selector.register(line.conversation.sock, selectors.EVENT_READ, line)
        self._announce_next(line)
        self._write(line)

    @staticmethod
    def _open(line: _Line) -> None:
        line.backend.open()
        if line.backend.connection is None:  # open() failed silently
            raise smtplib.SMTPServerDisconnected("could not connect")
        try:
            line.conversation = rawmail.Conversation(line.backend.connection)
        except BaseException:  # EHLO failed: the next attempt opens a new connection
            line.backend.connection.close()
            line.backend.connection = None
            raise

    @staticmethod
    def _write(line: _Line) -> None:
        assert line.conversation is not None
        if line.conversation.queued:
            line.last_heard = time.monotonic()  # the server's answer is due from now
            line.conversation.write()

    def _set_aside(self, line: _Line) -> None:
        """A line done with its share keeps its connection open for the next batch, unless the
        connection has carried its share of messages (`smtp_pool.give_back`)."""
        assert line.conversation is not None
        assert line.finished  # idle: nothing queued, no reply awaited, no content due
        if smtp_pool.worn_out(line.conversation):
            self._hang_up(line, quit=True)
            return
        conversation, line.conversation = line.conversation, None
        self.selector.unregister(conversation.sock)
        smtp_pool.give_back(line.backend, conversation)

    def _hang_up(self, line: _Line, *, quit: bool = False) -> None:
        """End the connection: with QUIT when it is idle and `quit` is asked for; otherwise
        dropped (mid-transaction, only that makes the server discard the message)."""
        conversation, line.conversation = line.conversation, None
        if conversation is None:
            return
        with suppress(KeyError, ValueError):  # already closed, or the selector with it
            self.selector.unregister(conversation.sock)
        if quit and conversation.idle and not line.content_open:
            try:
                line.backend.close()  # QUIT
                return
            except (smtplib.SMTPException, OSError):
                pass
        conversation.smtp.close()
        line.backend.connection = None

    def _guarded(self, line: _Line, step) -> None:
        """Run a step of this connection; if the connection fails, open a new one and send
        again what was not answered (once: twice in a row fails the batch, whose unsent rows
        go back to pending and whose task is queued again)."""
        try:
            step(line)
        except (smtplib.SMTPException, OSError):
            # Counted until a transaction ends: a server failing the same message twice fails
            # the batch (and so does one that cannot be connected to twice in a row).
            if not line.untested:
                line.failures_in_a_row += 1
            line.untested = False
            self._hang_up(line)
            if line.failures_in_a_row > 1:
                raise
            # The unanswered message may have arrived: sent again, the only possible duplicate.
            again = [r for r in (line.unanswered, line.ready, line.announced) if r is not None]
            line.unanswered = line.ready = line.announced = None
            line.codes = []
            line.upcoming.extendleft(reversed(again))
            if line.upcoming:  # a line that had finished its share needs no new connection
                self._connect(line)

    def _check_silence(self) -> None:
        """A server that stops answering fails its connection after EMAIL_TIMEOUT."""
        if not any(self._silent(line) for line in self.lines):
            return
        # What came while the loop was busy (a reconnect, a slow commit) is read first.
        for key, _events in self.selector.select(timeout=0):
            self._hear(key.data)
        for line in self.lines:
            if self._silent(line):
                self._guarded(line, self._time_out)

    @staticmethod
    def _silent(line: _Line) -> bool:
        """Waiting for an answer for longer than the mail server's timeout."""
        return (
            line.conversation is not None
            and bool(line.conversation.awaiting)
            and time.monotonic() - line.last_heard > (line.backend.timeout or 30)
        )

    @staticmethod
    def _time_out(line: _Line) -> None:
        raise TimeoutError("the mail server stopped answering")

    # The conversation.

    def _hear(self, line: _Line) -> None:
        self._guarded(line, self._read_replies)

    def _read_replies(self, line: _Line) -> None:
        assert line.conversation is not None
        conversation = line.conversation
        for (kind, recipient), code, text in conversation.read():
            line.last_heard = time.monotonic()
            if code != 421:  # a kept connection's "closing" is no sign of a working server
                line.untested = False
            if kind in ("mail", "rcpt", "data"):
                line.codes.append((code, text))
                if kind == "data":
                    self._envelope_answered(line, recipient)
            elif kind == "end":
                line.unanswered = None
                line.failures_in_a_row = 0
                conversation.messages += 1
                if code == 250:
                    self.outcomes.record("sent", recipient.delivery_id)
                else:
                    # The transaction is over either way (RFC 5321 4.1.1.4).
                    self.outcomes.record("failed", recipient.delivery_id, f"{code} {text}")
            # "dot" and "rset" end a refused transaction: their replies say nothing more.
        if conversation.broken:  # after the good replies before it, which count
            raise smtplib.SMTPServerDisconnected(conversation.broken)
        self._write(line)  # without PIPELINING, the next command waits for a reply

    def _envelope_answered(self, line: _Line, recipient: Recipient) -> None:
        assert line.conversation is not None
        (mail, mail_text), (rcpt, rcpt_text), (data, data_text) = line.codes
        line.codes = []
        line.announced = None
        if mail == 250 and rcpt in (250, 251) and data == 354:
            line.ready = recipient
            return
        line.failures_in_a_row = 0  # a transaction ended (refused, but the server is there)
        if data == 354:  # a server that took DATA anyway: end it empty
            line.conversation.queue(b".\r\n", ("dot", recipient))
        line.conversation.queue(b"RSET\r\n", ("rset", recipient))
        if mail != 250:
            self.outcomes.record("failed", recipient.delivery_id, f"{mail} {mail_text}")
        elif rcpt not in (250, 251):
            if 500 <= rcpt < 600:  # a hard bounce
                self.outcomes.record(
                    "bounced", recipient.delivery_id, f"{rcpt} {rcpt_text}", recipient.subscriber_id
                )
            else:
                self.outcomes.record("failed", recipient.delivery_id, f"{rcpt} {rcpt_text}")
        else:
            self.outcomes.record("failed", recipient.delivery_id, f"{data} {data_text}")
        self._announce_next(line)

    def _announce_next(self, line: _Line) -> None:
        """Queue the envelope of this connection's next recipient."""
        assert line.conversation is not None
        if not line.upcoming:
            return
        recipient = line.upcoming.popleft()
        for kind, command in zip(
            ("mail", "rcpt", "data"),
            rawmail.envelope(self.envelope_from, recipient.email),
            strict=True,
        ):
            line.conversation.queue(command, (kind, recipient))
        line.announced = recipient

    def _write_content(self, line: _Line) -> None:
        """The accepted message's content, then the next envelope, in one write."""
        assert line.conversation is not None
        assert line.ready is not None
        recipient = line.ready
        data = rawmail.content(self._message(recipient))
        line.ready = None
        line.conversation.queue(data, ("end", recipient))
        line.unanswered = recipient
        self._announce_next(line)
        self._write(line)

    def _message(self, recipient: Recipient) -> bytes:
        personal_links, headers = _personal_parts(
            recipient, self.key[0], self.links, self.list_id_header
        )
        compose = partial(
            _prepared(self.key, recipient.topic_ids).compose,
            from_header=self.from_header,
            to=recipient.email,
            headers=headers,
            links=personal_links,
        )
        if self.signing:
            # DKIM signs the message as written; dot-stuffing is transport, undone on receipt.
            plain = compose(stuffed=False)
            return rawmail._stuff(dkim_signature(plain) + plain)
        return compose(stuffed=True)


class _BackendSender:
    """Any Django email backend (django-anymail ESPs): one EmailMessage per recipient."""

    def __init__(self, backend, outcomes: _Outcomes) -> None:
        self.backend = backend
        self.outcomes = outcomes
        self.previous = 0

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
        self.outcomes.wait_recorded(self.previous)  # one unrecorded message at a time
        try:
            message.send()
        except Exception as error:  # any provider error: this message failed, the rest go on
            self.previous = self.outcomes.record("failed", recipient.delivery_id, str(error)[:500])
            return
        status = getattr(message, "anymail_status", None)
        esp_message_id = str(status.message_id) if status and status.message_id else ""
        self.previous = self.outcomes.record("sent", recipient.delivery_id, esp_message_id)

    def close(self) -> None:
        self.backend.close()


def finish_if_done(digest_id: int) -> bool:
    # Batches first: reading the rows' states after every batch of a large send cost more than
    # the batch (the index holds an entry for every row that was pending). The rows decide, once
    # every batch has finished; SENDING: rows the release before DeliveryBatch claimed one by one.
    open_batches = DeliveryBatch.objects.filter(digest_id=digest_id, finished_at__isnull=True)
    if open_batches.exists():
        return False
    unfinished = Delivery.objects.filter(
        digest_id=digest_id, state__in=[Delivery.State.PENDING, Delivery.State.SENDING]
    )
    with transaction.atomic():
        # Checked again under the digest's lock, which the fan-out holds while it writes a
        # chunk: its last chunk's rows are either committed (and seen) or not begun.
        # Until the fan-out is complete, more rows may still come.
        fanned_out = Digest.objects.filter(
            pk=digest_id, status=Digest.Status.SENDING, is_fanned_out=True
        )
        if not list(fanned_out.select_for_update(no_key=True).values_list("pk", flat=True)):
            return False
        if open_batches.exists() or unfinished.exists():
            return False
        finished = bool(fanned_out.update(status=Digest.Status.SENT, finished_at=timezone.now()))
    if (
        finished
        and Digest.objects.filter(pk=digest_id)
        .filter(Q(kind=Digest.Kind.DIGEST) | Q(is_public=True))
        .exists()
    ):
        # The archive (a cached public page) lists only what went out, digests and public sends:
        # it changes now. A private send changes no page, so the cache is left alone.
        forget_cached_pages()
    return finished


def send_all_batches(digest_id: int) -> int:
    """Send every pending batch of a digest in this process (`send_digest --sync`, tests)."""
    digest = Digest.objects.get(pk=digest_id)
    sent = 0
    for batch in digests.batch_numbers(digest):
        try:
            sent += send_batch(digest_id, batch)
        except BatchInterrupted:
            sent += send_batch(digest_id, batch)  # let go with rows left: once more
    return sent
