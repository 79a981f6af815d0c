"""Subscribers of the Daily Digest, the digests themselves and one delivery row per recipient."""

from __future__ import annotations

from datetime import datetime

from django.db import models
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from pressroom.publishing.models import Article, Topic


class SubscriptionStateError(Exception):
    """A subscriber was asked to make a change their current state does not allow."""


class SubscriberQuerySet(models.QuerySet["Subscriber"]):
    def receiving(self) -> SubscriberQuerySet:
        """Subscribers a digest goes to: confirmed and not paused."""
        return self.filter(status=Subscriber.Status.CONFIRMED, is_paused=False)


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

    objects = SubscriberQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["status", "is_paused"], name="subscriber_receiving")]

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


class Digest(models.Model):
    class Status(models.TextChoices):
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"

    # One digest per day: several schedulers on several machines may try to build it.
    date = models.DateField(unique=True)
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

    objects = DigestQuerySet.as_manager()

    class Meta:
        ordering = ["-date"]

    def __str__(self) -> str:
        return f"{self.date}: {self.subject}"

    def get_absolute_url(self) -> str:
        return reverse("newsletter:digest-detail", kwargs={"date": self.date.isoformat()})

    def progress(self) -> dict[str, int]:
        """How many deliveries are in each state, every state listed."""
        counts = dict.fromkeys(Delivery.State.values, 0)
        rows = self.deliveries.values("state").annotate(count=Count("id")).order_by()
        for row in rows:
            counts[row["state"]] = row["count"]
        counts["total"] = sum(counts[state] for state in Delivery.State.values)
        return counts


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


class Delivery(models.Model):
    """One digest to one subscriber; its state is the truth about whether it went out."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"  # claimed by a worker; taken over if that worker dies
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        BOUNCED = "bounced", "Bounced"
        COMPLAINED = "complained", "Complained"
        SKIPPED = "skipped", "Skipped"  # nothing matched their topics, or they left meanwhile

    digest = models.ForeignKey(Digest, on_delete=models.CASCADE, related_name="deliveries")
    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, related_name="deliveries")
    batch = models.PositiveIntegerField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    claim = models.CharField(max_length=32, blank=True)
    # The worker process holding the claim (pressroom.workers): when its heartbeat stops, the
    # row goes back to pending and its batch is queued again.
    # db_default: the release before this column inserts deliveries without it (rolling upgrade).
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
        indexes = [
            models.Index(fields=["digest", "batch", "state"], name="delivery_batch_state"),
            # "Is anything of this digest left?" after every batch, and the progress counts.
            models.Index(fields=["digest", "state"], name="delivery_digest_state"),
            models.Index(fields=["state", "claimed_by"], name="delivery_claims"),
            models.Index(fields=["message_id"], name="delivery_message_id"),
        ]

    def __str__(self) -> str:
        return f"{self.digest_id} → {self.subscriber_id}: {self.state}"
