"""Subscribers, the sends (each day's Daily Digest and one-off emails: appeals, breaking news,
announcements), one delivery row per recipient, the editor's edition of a coming digest and the
visits each send brought."""

from __future__ import annotations

from datetime import datetime

from django.db import models
from django.db.models import CharField, Count, OuterRef, Q, Subquery
from django.db.models.functions import Cast, Coalesce, Concat
from django.urls import reverse
from django.utils import timezone

from pressroom.lib.attribution import CAMPAIGN_LENGTH, PATH_LENGTH
from pressroom.publishing.models import Article, Topic


class SubscriptionStateError(Exception):
    """A subscriber was asked to make a change their current state does not allow."""


class SubscriberQuerySet(models.QuerySet["Subscriber"]):
    def receiving(self) -> SubscriberQuerySet:
        """Subscribers a digest goes to: confirmed and not paused."""
        return self.filter(status=Subscriber.Status.CONFIRMED, is_paused=False)

    def signed_up_between(self, start: datetime, end: datetime) -> SubscriberQuerySet:
        """Readers who signed up in [start, end) and know where they started."""
        return self.filter(created_at__gte=start, created_at__lt=end).exclude(
            source_path="", source_campaign=""
        )

    def by_source_path(self, start: datetime, end: datetime) -> models.QuerySet:
        """Signups in [start, end) per page the form was on: rows of {source_path, signups,
        confirmed}, most signups first. Signups that started nowhere known are left out."""
        return self._per_source("source_path", start, end)

    def by_source_campaign(self, start: datetime, end: datetime) -> models.QuerySet:
        """As by_source_path, per campaign tag ("email-123": the send whose link brought the
        reader; a forwarded email brings new readers too)."""
        return self._per_source("source_campaign", start, end)

    def _per_source(self, field: str, start: datetime, end: datetime) -> models.QuerySet:
        return (
            self.signed_up_between(start, end)
            .exclude(**{field: ""})
            .order_by()
            .values(field)
            .annotate(
                signups=models.Count("id"),
                confirmed=models.Count("id", filter=Q(confirmed_at__isnull=False)),
            )
            .order_by("-signups", field)
        )


class Subscriber(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending confirmation"
        CONFIRMED = "confirmed", "Confirmed"
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
        BOUNCED = "bounced", "Bounced"
        COMPLAINED = "complained", "Complained"

    # Addresses that must never be mailed again unless the reader comes back through a link.
    SUPPRESSED_STATUSES = (Status.BOUNCED, Status.COMPLAINED)

    email = models.EmailField(max_length=254, unique=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    all_topics = models.BooleanField(
        default=True, help_text="Receive every article; otherwise only the chosen topics."
    )
    topics = models.ManyToManyField(Topic, blank=True, related_name="subscribers")
    is_paused = models.BooleanField("paused", default=False)
    source = models.CharField(max_length=20, default="form")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    consented_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_from = models.ForeignKey(
        "Digest",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="unsubscribes",
        help_text="The digest whose link the reader unsubscribed from.",
    )
    suppressed_at = models.DateTimeField(null=True, blank=True)
    suppression_reason = models.CharField(max_length=500, blank=True)
    # At most one signup email (confirmation or "already subscribed") per address per day.
    signup_email_sent_at = models.DateTimeField(null=True, blank=True)
    # Where the signup started (pressroom.lib.attribution): the page the form was on, and the
    # tag of the send whose link brought the reader. Never anything about the reader.
    source_path = models.CharField(
        max_length=PATH_LENGTH, blank=True, default="", db_default="", editable=False
    )
    source_campaign = models.CharField(
        max_length=CAMPAIGN_LENGTH, blank=True, default="", db_default="", editable=False
    )

    objects = SubscriberQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["status", "is_paused"], name="subscriber_receiving"),
            models.Index(
                fields=["source_campaign", "created_at"],
                condition=~Q(source_campaign=""),
                name="subscriber_source_campaign",
            ),
        ]

    def __str__(self) -> str:
        return self.email

    # State changes. Services call these; each raises SubscriptionStateError on an illegal one.

    def confirm(self, now: datetime | None = None) -> None:
        now = now or timezone.now()
        self.status = self.Status.CONFIRMED
        self.confirmed_at = now
        self.consented_at = now
        self.unsubscribed_at = None
        self.unsubscribed_from = None
        self.suppressed_at = None
        self.suppression_reason = ""
        self.is_paused = False

    def unsubscribe(self, digest: Digest | None = None) -> None:
        if self.status == self.Status.UNSUBSCRIBED:
            return  # a second click changes nothing, and says so politely
        if self.status in self.SUPPRESSED_STATUSES:
            return  # already receives nothing; keep the stronger reason
        self.status = self.Status.UNSUBSCRIBED
        self.unsubscribed_at = timezone.now()
        self.unsubscribed_from = digest

    def resubscribe(self) -> None:
        """Back on the list through a signed link, which proves the reader owns the address."""
        if self.status == self.Status.CONFIRMED:
            raise SubscriptionStateError("You are already subscribed.")
        self.confirm()

    def suppress(self, status: str, reason: str) -> None:
        if status not in self.SUPPRESSED_STATUSES:
            raise SubscriptionStateError(f"{status!r} is not a suppression.")
        if self.status == self.Status.COMPLAINED:
            return  # a complaint is the strongest signal: never downgrade it to a bounce
        self.status = status
        self.suppressed_at = timezone.now()
        self.suppression_reason = reason[:500]

    @property
    def is_receiving(self) -> bool:
        return self.status == self.Status.CONFIRMED and not self.is_paused


def _count_per_digest(queryset: models.QuerySet, field: str = "digest") -> Coalesce:
    """A correlated COUNT subquery: no join, so the counts never multiply each other."""
    counted = (
        queryset.filter(**{field: OuterRef("pk")})
        .order_by()
        .values(field)
        .annotate(count=Count("pk"))
        .values("count")
    )
    return Coalesce(Subquery(counted, output_field=models.IntegerField()), 0)


class DigestQuerySet(models.QuerySet["Digest"]):
    def with_counts(self) -> DigestQuerySet:
        states = Delivery.State
        deliveries = Delivery.objects.all()
        return self.annotate(
            recipient_count=_count_per_digest(deliveries),
            sent_count=_count_per_digest(deliveries.filter(state=states.SENT)),
            failed_count=_count_per_digest(deliveries.filter(state=states.FAILED)),
            bounced_count=_count_per_digest(
                deliveries.filter(state__in=[states.BOUNCED, states.COMPLAINED])
            ),
            unsubscribed_count=_count_per_digest(
                Subscriber.objects.all(), field="unsubscribed_from"
            ),
        )

    def with_results(self) -> DigestQuerySet:
        """with_counts(), bounces and complaints apart, and the visits its links brought."""
        states = Delivery.State
        deliveries = Delivery.objects.all()
        visits = (
            SendVisit.objects.filter(send=OuterRef("pk"))
            .order_by()
            .values("send")
            .annotate(total=models.Sum("visits"))
            .values("total")
        )
        # New readers a send brought (a forwarded email): signups naming its tag, from its start,
        # once confirmed (the form takes any address, and its Referer can be forged).
        signups = (
            Subscriber.objects.filter(
                source_campaign=Concat(models.Value("email-"), Cast(OuterRef("pk"), CharField())),
                created_at__gte=Coalesce(OuterRef("started_at"), OuterRef("created_at")),
                confirmed_at__isnull=False,
            )
            .order_by()
            .values("source_campaign")
            .annotate(total=models.Count("id"))
            .values("total")
        )
        return self.with_counts().annotate(
            signup_count=Coalesce(Subquery(signups, output_field=models.IntegerField()), 0),
            hard_bounced_count=_count_per_digest(deliveries.filter(state=states.BOUNCED)),
            complained_count=_count_per_digest(deliveries.filter(state=states.COMPLAINED)),
            visit_count=Coalesce(Subquery(visits, output_field=models.IntegerField()), 0),
        )

    def digests(self) -> DigestQuerySet:
        return self.filter(kind=Digest.Kind.DIGEST)

    def one_offs(self) -> DigestQuerySet:
        return self.exclude(kind=Digest.Kind.DIGEST)

    def archived(self) -> DigestQuerySet:
        """What the public archive lists: digests that went out, and public one-off sends that
        went out (a digest still sending, or one that waits for its send time, is not there)."""
        return self.filter(status=Digest.Status.SENT).filter(
            Q(kind=Digest.Kind.DIGEST) | Q(is_public=True)
        )


class Digest(models.Model):
    """One email to many readers: a day's Daily Digest or a one-off send (`kind`).

    Every kind goes through the same ledger (Delivery rows), fan-out, batches, crash recovery,
    RFC 8058 headers, bounces and complaints; only what is rendered and who receives it differ.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"  # one-off sends being written; nothing is queued
        SENDING = "sending", "Sending"  # queued (at `send_after` if set) or going out
        SENT = "sent", "Sent"

    class Kind(models.TextChoices):
        DIGEST = "digest", "Daily Digest"
        APPEAL = "appeal", "Appeal"
        BREAKING = "breaking", "Breaking news"
        ANNOUNCEMENT = "announcement", "Announcement"

    class Givers(models.TextChoices):
        ANYONE = "", "Donors or not"
        DONORS = "donors", "Donors"
        NON_DONORS = "non_donors", "Non-donors"
        MONTHLY = "monthly", "Monthly donors"

    kind = models.CharField(
        max_length=12, choices=Kind.choices, default=Kind.DIGEST, db_default=Kind.DIGEST
    )
    # A digest's day (one per day, see Meta); a one-off send's day of sending.
    date = models.DateField()
    subject = models.CharField(max_length=300)
    covers_from = models.DateTimeField()
    covers_until = models.DateTimeField()
    articles = models.ManyToManyField(Article, through="DigestArticle", related_name="digests")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SENDING)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    send_after = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Fan-out progress: delivery rows are written in committed chunks in subscriber id order,
    # so sending starts after the first chunk and an interrupted fan-out resumes where it was.
    recipients_through = models.BigIntegerField(default=0, db_default=0, editable=False)
    next_batch = models.PositiveIntegerField(default=0, db_default=0, editable=False)
    is_fanned_out = models.BooleanField(default=False, db_default=False, editable=False)
    fanned_out_at = models.DateTimeField(null=True, blank=True, editable=False)

    # What a one-off send says (cleaned HTML from the articles' editor), and a digest's edition.
    body = models.TextField(blank=True, default="", db_default="")
    with_campaign_block = models.BooleanField(
        "campaign block",
        default=True,
        db_default=True,
        help_text="The running campaign's block (goal, progress, give button) under the text.",
    )
    is_public = models.BooleanField(
        "public",
        default=False,
        db_default=False,
        help_text="Once sent, it has a web page, listed in the archive with the digests.",
    )
    editor_note = models.TextField(blank=True, default="", db_default="")
    lead_article = models.ForeignKey(
        Article, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    # The segment of a one-off send (a digest goes to every receiving reader whose topics match).
    segment_topics = models.ManyToManyField(
        Topic,
        blank=True,
        related_name="+",
        verbose_name="topics",
        help_text="Only readers who chose one of these topics (or every topic). None: everyone.",
    )
    subscribed_after = models.DateField(null=True, blank=True)
    subscribed_before = models.DateField(null=True, blank=True)
    givers = models.CharField(
        "donors",
        max_length=12,
        choices=Givers.choices,
        blank=True,
        default="",
        db_default="",
        help_text="Matched by email address with the donor records.",
    )
    giving_campaign_id = models.PositiveIntegerField(
        "for campaign",
        null=True,
        blank=True,
        help_text="Donors (or non-donors) of this campaign; empty: ever.",
    )
    reminder_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reminders",
        help_text="Leave out everyone who gave since that send went out, checked again as each "
        "batch is sent: a reminder never asks a donor twice.",
    )

    # The segment's parts that other rows hold, taken when the send is started (sent now or
    # scheduled), so deleting a topic or the earlier appeal never widens who receives it: the
    # topics' ids, and when the appeal a reminder follows went out.
    segment_topic_ids = models.JSONField(default=list, db_default=[], blank=True, editable=False)
    reminder_since = models.DateTimeField(null=True, blank=True, editable=False)
    # Why a send did not go out at its time and went back to draft (a chosen topic was deleted):
    # shown to editors on the send's pages until it is started again.
    attention = models.CharField(
        "needs attention", max_length=300, blank=True, default="", db_default="", editable=False
    )

    objects = DigestQuerySet.as_manager()

    class Meta:
        ordering = ["-date", "-id"]
        verbose_name = "digest"
        constraints = [
            # One digest per day: several schedulers on several machines may try to build it.
            models.UniqueConstraint(
                fields=["date"], condition=Q(kind="digest"), name="digest_one_per_date"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["draft", "sending", "sent"]), name="digest_status_known"
            ),
        ]
        indexes = [models.Index(fields=["kind", "status", "date"], name="digest_kind_status")]

    def __str__(self) -> str:
        return f"{self.date}: {self.subject}"

    def get_absolute_url(self) -> str:
        if not self.is_digest:
            return reverse("newsletter:email-detail", kwargs={"pk": self.pk})
        return reverse("newsletter:digest-detail", kwargs={"date": self.date.isoformat()})

    @property
    def is_digest(self) -> bool:
        return self.kind == self.Kind.DIGEST

    @property
    def campaign_ref(self) -> str:
        """The tag on this send's links to the site (`?ref=email-<id>`): the send, not the
        reader, so visits and gifts are counted per send without tracking anyone."""
        return f"email-{self.pk}"

    def attribution_start(self, now: datetime | None = None) -> datetime | None:
        """From when gifts and signups naming this send's tag count as its own: when it
        started (a digest: when it was built). None for a draft or a send waiting for its time:
        whatever names it then was forged."""
        if self.status == self.Status.DRAFT:
            return None
        start = self.started_at or self.created_at
        return start if start <= (now or timezone.now()) else None

    def start(self, send_after: datetime | None, now: datetime | None = None) -> None:
        """Draft → sending (at `send_after`, or now); raises SubscriptionStateError otherwise."""
        if self.is_digest or self.status != self.Status.DRAFT:
            raise SubscriptionStateError("Only a draft one-off email can be sent.")
        now = now or timezone.now()
        if send_after is not None and send_after <= now:
            send_after = None
        self.status = self.Status.SENDING
        self.send_after = send_after
        self.started_at = send_after or now
        self.date = timezone.localdate(self.started_at)
        self.covers_from = self.covers_until = self.started_at
        self.segment_topic_ids = sorted(self.segment_topics.values_list("pk", flat=True))
        earlier = self.reminder_of
        self.reminder_since = (earlier.started_at or earlier.created_at) if earlier else None
        self.attention = ""

    def stop_for_attention(self, reason: str) -> None:
        """Sending → draft, not sent, with the reason editors see on its pages."""
        self.status = self.Status.DRAFT
        self.send_after = None
        self.started_at = None
        self.attention = reason[:300]

    def missing_segment_topics(self) -> list[int]:
        """Ids of topics the send was started with that no longer exist."""
        if not self.segment_topic_ids:
            return []
        existing = set(
            Topic.objects.filter(pk__in=self.segment_topic_ids).values_list("pk", flat=True)
        )
        return [pk for pk in self.segment_topic_ids if pk not in existing]

    def progress(self) -> dict[str, int]:
        """How many deliveries are in each state, every state listed."""
        counts = dict.fromkeys(Delivery.State.values, 0)
        rows = self.deliveries.values("state").annotate(count=Count("id")).order_by()
        for row in rows:
            counts[row["state"]] = row["count"]
        counts["total"] = sum(counts[state] for state in Delivery.State.values)
        return counts


class OneOffManager(models.Manager["OneOffEmail"]):
    def get_queryset(self) -> DigestQuerySet:  # type: ignore[override]  # of its proxy's rows
        return DigestQuerySet(self.model, using=self._db).one_offs()


class OneOffEmail(Digest):
    """The admin's view of one-off sends (appeals, breaking news, announcements): the same rows
    as the digests, so the same ledger, recovery and results."""

    objects = OneOffManager()  # type: ignore[assignment,misc]

    class Meta:
        proxy = True
        verbose_name = "one-off email"

    def save(self, *args: object, **kwargs: object) -> None:
        if self.kind == Digest.Kind.DIGEST:
            raise SubscriptionStateError("A one-off email cannot be a Daily Digest.")
        super().save(*args, **kwargs)  # type: ignore[arg-type]


class DigestArticle(models.Model):
    """An article in a digest, in reading order, under its section (its primary topic)."""

    digest = models.ForeignKey(Digest, on_delete=models.CASCADE, related_name="entries")
    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="digest_entries")
    section = models.ForeignKey(Topic, null=True, blank=True, on_delete=models.SET_NULL)
    position = models.PositiveIntegerField()

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["digest", "article"], name="digest_article_unique")
        ]

    def __str__(self) -> str:
        return f"{self.digest_id}/{self.article_id}"


class DigestEdition(models.Model):
    """What an editor adds to a coming day's digest: a note on top and a chosen lead article.

    Written before the digest is built (at DIGEST_SEND_AT); the build copies it into the digest.
    With DIGEST_WAIT_FOR_NOTE_UNTIL set, the day's digest waits for a note until that time.
    """

    date = models.DateField(unique=True, help_text="The day of the digest it goes on top of.")
    note = models.TextField(
        "editor's note",
        blank=True,
        max_length=4000,
        help_text="Plain text; a blank line starts a new paragraph.",
    )
    lead_article = models.ForeignKey(
        Article,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Put first in the digest (added if it is not among the day's articles).",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-date"]

    def __str__(self) -> str:
        return f"Edition of {self.date}"


class SendVisit(models.Model):
    """Visits to the site through a send's tagged links, per day: a count, never a person."""

    send = models.ForeignKey(Digest, on_delete=models.CASCADE, related_name="visits")
    day = models.DateField()
    visits = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["send", "day"], name="send_visit_one_per_day")
        ]

    def __str__(self) -> str:
        return f"{self.send_id} {self.day}: {self.visits}"


class Delivery(models.Model):
    """One digest to one subscriber; its state is the truth about whether it went out.

    A row stays pending while a worker sends it: the worker holds the row's batch
    (`DeliveryBatch`), not the row, so each message writes its row once more, when it is sent.
    """

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        # Written only by the release before DeliveryBatch, which claimed rows one by one;
        # recovery puts such rows of a dead worker back to pending.
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        BOUNCED = "bounced", "Bounced"
        COMPLAINED = "complained", "Complained"
        SKIPPED = "skipped", "Skipped"  # nothing matched their topics, or they left meanwhile

    # No index of its own: `delivery_one_per_subscriber` (digest, subscriber) starts with it.
    digest = models.ForeignKey(
        Digest, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, related_name="deliveries")
    batch = models.PositiveIntegerField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    # claim, claimed_by, claimed_at and attempts: the release before DeliveryBatch held rows
    # one by one with them. Unused since, except to recover such rows; dropped in the next
    # release (a column goes in the release after the one that stopped using it).
    claim = models.CharField(max_length=32, blank=True)
    claimed_by = models.CharField(max_length=64, blank=True, default="", db_default="")
    claimed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    message_id = models.CharField(max_length=255, blank=True)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["digest", "subscriber"], name="delivery_one_per_subscriber"
            )
        ]
        # A send writes each row twice (pending, then sent), and every write of `state` adds an
        # entry to every index that holds the row: the pending rows of a batch and providers'
        # message ids are in partial indexes (newsletter 0009).
        indexes = [
            # A batch's rows to send (and to skip when its send is cancelled).
            models.Index(
                fields=["digest", "batch"],
                condition=Q(state="pending"),
                name="delivery_pending",
            ),
            # "Is anything of this digest left?" after every batch, and the progress counts.
            models.Index(fields=["digest", "state"], name="delivery_digest_state"),
            # A provider's bounce or complaint names its own message id; SMTP leaves it blank.
            models.Index(
                fields=["message_id"],
                condition=~Q(message_id=""),
                name="delivery_provider_message_id",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.digest_id} → {self.subscriber_id}: {self.state}"


class DeliveryBatch(models.Model):
    """A batch of one send's deliveries (DIGEST_BATCH_SIZE rows), held by the worker sending it.

    A worker claims the batch, not its rows: one row written per batch instead of one per
    message. While `claim` is set, only the worker process named in `claimed_by` records its
    rows; when that worker's heartbeat stops, recovery clears the claim and queues the batch
    again (`newsletter.recovery`), and the rows still pending go out from another worker.
    """

    digest = models.ForeignKey(
        Digest, on_delete=models.CASCADE, related_name="batches", db_index=False
    )
    number = models.PositiveIntegerField()
    claim = models.CharField(max_length=32, blank=True, default="", db_default="")
    claimed_by = models.CharField(max_length=64, blank=True, default="", db_default="")
    claimed_at = models.DateTimeField(null=True, blank=True)
    # How many times a worker took it: after DIGEST_MAX_ATTEMPTS its rows still pending fail,
    # so an address that crashes every worker sending it cannot loop.
    attempts = models.PositiveSmallIntegerField(default=0, db_default=0)
    # When the batch let go with none of its rows pending (or gave up on them): the send is
    # finished once every batch is, and only then are its rows counted (`finish_if_done`).
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "delivery batches"
        constraints = [
            models.UniqueConstraint(fields=["digest", "number"], name="delivery_batch_one")
        ]
        indexes = [
            # The batches being sent: recovery looks for dead workers' ones every heartbeat.
            models.Index(fields=["claimed_by"], condition=~Q(claim=""), name="delivery_batch_held")
        ]

    def __str__(self) -> str:
        return f"{self.digest_id} batch {self.number}"
