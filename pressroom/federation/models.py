"""What federation keeps: our actors' keys, who follows them, the instances we deliver to,
the activities we sent and each delivery of them, and what followers were last told about each
article (so a save becomes a Create, an Update or a Delete)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.db import IntegrityError, models, transaction
from django.utils import timezone

from pressroom.federation import signatures

SITE_ACTOR = "site"  # ActorKey.name and Follower.followed of the site's actor


def topic_actor(topic_id: int) -> str:
    return f"topic-{topic_id}"


class ActorKey(models.Model):
    """One RSA-2048 key pair per actor of ours, made the first time it is needed. The private
    half signs our deliveries and is never served."""

    name = models.CharField(max_length=100, unique=True)
    public_key_pem = models.TextField()
    private_key_pem = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.name

    @classmethod
    def for_actor(cls, name: str) -> ActorKey:
        found = cls.objects.filter(name=name).first()
        if found is not None:
            return found
        private, public = signatures.new_private_key_pem()
        try:
            with transaction.atomic():
                return cls.objects.create(name=name, public_key_pem=public, private_key_pem=private)
        except IntegrityError:
            # Another process made it first: everyone signs with that one.
            return cls.objects.get(name=name)


class FollowerQuerySet(models.QuerySet["Follower"]):
    def of_site(self) -> FollowerQuerySet:
        return self.filter(followed=SITE_ACTOR)

    def of_topics(self, topic_ids: list[int]) -> FollowerQuerySet:
        return self.filter(followed__in=[topic_actor(pk) for pk in topic_ids])

    def delivery_inboxes(self) -> dict[str, str]:
        """{inbox: domain}, one per shared inbox (a server with many followers gets one)."""
        return {
            shared or inbox: domain
            for shared, inbox, domain in self.values_list(
                "shared_inbox_url", "inbox_url", "domain"
            ).iterator(chunk_size=5000)
        }


class Follower(models.Model):
    """A remote actor following the site (`followed` = "site") or one topic ("topic-<id>")."""

    followed = models.CharField(max_length=100)
    topic = models.ForeignKey(
        "publishing.Topic", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    actor_url = models.URLField("actor", max_length=500)
    inbox_url = models.URLField("inbox", max_length=500)
    shared_inbox_url = models.URLField("shared inbox", max_length=500, blank=True)
    domain = models.CharField(max_length=260, db_index=True)
    follow_activity_id = models.CharField(max_length=500, blank=True)
    # Kept to check the signature of the actor's own Delete, once its key is gone from its server.
    public_key_pem = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = FollowerQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["followed", "actor_url"], name="federation_follow_once")
        ]

    def __str__(self) -> str:
        return f"{self.actor_url} follows {self.followed}"


class Instance(models.Model):
    """A server we deliver to. After FEDERATION_RETRY_HOURS of failures it is dead: nothing is
    delivered to it until it posts to us again (or an operator revives it)."""

    domain = models.CharField(max_length=260, unique=True)
    failing_since = models.DateTimeField(null=True, blank=True)
    dead_since = models.DateTimeField(null=True, blank=True)
    last_delivered_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["domain"]

    def __str__(self) -> str:
        return self.domain

    @property
    def is_dead(self) -> bool:
        return self.dead_since is not None


class Activity(models.Model):
    """An activity as we signed and sent it: its JSON is kept exactly, for every retry."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=20)
    actor_name = models.CharField(max_length=100)
    article_id = models.IntegerField(null=True, blank=True, db_index=True)
    document = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "activities"

    def __str__(self) -> str:
        return f"{self.kind} {self.id}"


class Delivery(models.Model):
    """One activity to one (shared) inbox."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped (dead instance)"

    activity = models.ForeignKey(Activity, on_delete=models.CASCADE, related_name="deliveries")
    inbox_url = models.URLField(max_length=500)
    domain = models.CharField(max_length=260, db_index=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    first_failure_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)

    class Meta:
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["activity", "inbox_url"], name="federation_deliver_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.activity_id} to {self.inbox_url}"

    def retry_delay(self, first: float) -> timedelta:
        """Exponential backoff: first, 2×, 4×, ... capped at six hours between attempts."""
        return timedelta(seconds=min(first * 2 ** max(self.attempts - 1, 0), 6 * 3600))

    def gives_up(self, now: datetime, window: timedelta) -> bool:
        return self.first_failure_at is not None and now - self.first_failure_at >= window


class FederatedArticle(models.Model):
    """What followers were last told about an article: it is public (with this content) or
    it was deleted. No foreign key: the row outlives a deleted article, whose Delete is sent."""

    class State(models.TextChoices):
        PUBLIC = "public", "Public"
        DELETED = "deleted", "Deleted"

    article_id = models.IntegerField(unique=True)
    state = models.CharField(max_length=10, choices=State.choices)
    content_hash = models.CharField(max_length=64, blank=True)
    topic_ids = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"article {self.article_id}: {self.state}"
