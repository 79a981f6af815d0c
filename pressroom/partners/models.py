"""Partner outlets, their feeds, and the items their feeds bring into the curation queue."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Lower
from django.utils import timezone

from pressroom.partners.parsing import title_key
from pressroom.publishing.models import Article, Author, Topic

# A failing feed waits its interval times 2, 4, 8 ... after each failure in a row, never longer
# than this: a partner whose site is down for a weekend is tried again a few times a day.
MAX_BACKOFF = timedelta(hours=12)
# A feed is fetched at most every 5 minutes and at least once a week (admin, command, model).
MIN_INTERVAL_MINUTES = 5
MAX_INTERVAL_MINUTES = 7 * 24 * 60


class PartnerError(Exception):
    """Input the partners' services refuse; the message is for the person who gave it."""


class PartnerStateError(Exception):
    """An action the item's state does not allow (republish a dismissed item, undo twice)."""


class Partner(models.Model):
    # Unique whatever the case ("NACLA" and "Nacla" are one outlet): the constraint below.
    name = models.CharField(max_length=200)
    site_url = models.URLField("site", max_length=500, blank=True)
    licence = models.CharField(
        max_length=200,
        blank=True,
        help_text='Shown at the foot of each republished piece, e.g. "CC BY-NC-ND 4.0" or '
        '"by agreement".',
    )
    topics = models.ManyToManyField(
        Topic, blank=True, related_name="+", help_text="Given to every piece republished from it."
    )
    full_text = models.BooleanField(
        "feed carries full text",
        default=False,
        help_text="Leave unticked when its feed has only summaries: drafts then open with the "
        "summary and a link, for you to paste the text.",
    )
    allowed_authors = models.TextField(
        blank=True,
        max_length=10_000,
        help_text="One name per line. When given, only pieces by these authors enter the queue.",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                name="partner_name_unique_any_case",
                violation_error_message="There is already a partner of that name.",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def allowed_author_names(self) -> set[str]:
        return {
            " ".join(line.split()).casefold()
            for line in self.allowed_authors.splitlines()
            if line.strip()
        }

    def accepts_authors(self, names: list[str]) -> bool:
        allowed = self.allowed_author_names
        if not allowed:
            return True
        return any(" ".join(name.split()).casefold() in allowed for name in names)


class FeedQuerySet(models.QuerySet["Feed"]):
    def due(self, now: datetime | None = None) -> FeedQuerySet:
        return self.filter(is_active=True, next_fetch_at__lte=now or timezone.now())


class Feed(models.Model):
    class Status(models.TextChoices):
        NEW = "new", "Not fetched yet"
        OK = "ok", "OK"
        NOT_MODIFIED = "not_modified", "Not modified"
        FAILED = "failed", "Failed"

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="feeds")
    url = models.URLField("feed URL", max_length=1000, unique=True)
    interval_minutes = models.PositiveIntegerField(
        "fetch every (minutes)",
        default=30,
        validators=[
            MinValueValidator(MIN_INTERVAL_MINUTES),
            MaxValueValidator(MAX_INTERVAL_MINUTES),
        ],
        help_text="How often the worker fetches it: 5 minutes to a week (10080 minutes).",
    )
    is_active = models.BooleanField(default=True)
    etag = models.CharField(max_length=500, blank=True, editable=False)
    last_modified = models.CharField(max_length=100, blank=True, editable=False)
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.NEW, editable=False
    )
    last_error = models.CharField(max_length=1000, blank=True, editable=False)
    failures = models.PositiveIntegerField(default=0, editable=False)
    last_fetched_at = models.DateTimeField(null=True, blank=True, editable=False)
    next_fetch_at = models.DateTimeField(default=timezone.now, editable=False)
    items_seen = models.PositiveIntegerField("items", default=0, editable=False)
    # SHA-256 of the feed as last read: the same bytes again are not parsed again.
    content_hash = models.CharField(
        max_length=64, blank=True, default="", db_default="", editable=False
    )

    objects = FeedQuerySet.as_manager()

    class Meta:
        ordering = ["partner__name", "url"]
        indexes = [models.Index(fields=["is_active", "next_fetch_at"], name="feed_due")]
        constraints = [
            models.CheckConstraint(
                condition=Q(interval_minutes__gte=MIN_INTERVAL_MINUTES)
                & Q(interval_minutes__lte=MAX_INTERVAL_MINUTES),
                name="feed_interval_5_minutes_to_a_week",
                violation_error_message="Fetch it every 5 minutes to a week (10080 minutes).",
            )
        ]

    def __str__(self) -> str:
        return self.url

    @property
    def interval(self) -> timedelta:
        # Bounded here too: a row written around the form never overflows the back-off.
        minutes = min(max(MIN_INTERVAL_MINUTES, self.interval_minutes), MAX_INTERVAL_MINUTES)
        return timedelta(minutes=minutes)

    def record_success(self, *, etag: str, last_modified: str, not_modified: bool) -> None:
        now = timezone.now()
        self.status = self.Status.NOT_MODIFIED if not_modified else self.Status.OK
        if not not_modified:
            self.etag, self.last_modified = etag[:500], last_modified[:100]
        self.last_error, self.failures = "", 0
        self.last_fetched_at, self.next_fetch_at = now, now + self.interval

    def record_failure(self, error: str) -> None:
        """Keep the error for the admin and wait longer after each failure in a row."""
        now = timezone.now()
        self.status = self.Status.FAILED
        self.last_error = " ".join(error.split())[:1000]
        self.failures += 1
        self.last_fetched_at = now
        self.next_fetch_at = now + self.backoff

    @property
    def backoff(self) -> timedelta:
        """The wait after the failures so far: the interval doubled per failure up to
        MAX_BACKOFF, and never less than the interval itself (a weekly feed stays weekly)."""
        doubled = self.interval * 2 ** min(self.failures, 10)
        return max(self.interval, min(doubled, MAX_BACKOFF))


class ItemQuerySet(models.QuerySet["Item"]):
    def in_queue(self) -> ItemQuerySet:
        return self.filter(state=Item.State.NEW)

    def newest_first(self) -> ItemQuerySet:
        return self.order_by(models.F("published_at").desc(nulls_last=True), "-pk")

    def with_already_have(self) -> ItemQuerySet:
        """Whether an article of ours already points at the item's original, compared by the
        normalised link key the dedup uses (tracking parameters, "www.", scheme, trailing
        slash ignored). An item without a link is had by none."""
        return self.annotate(
            already_have=Exists(ArticleLink.objects.filter(link_key=OuterRef("link_key")))
            & ~Q(link_key="")
        )

    def search(self, text: str) -> ItemQuerySet:
        query = Q()
        for word in text.split()[:10]:
            query &= Q(title__icontains=word) | Q(summary__icontains=word)
        return self.filter(query)


class Item(models.Model):
    class State(models.TextChoices):
        NEW = "new", "In the queue"
        DISMISSED = "dismissed", "Dismissed"
        REPUBLISHED = "republished", "Republished"

    # Protected: the items (dismissed and republished ones too) are how a piece is known again;
    # a partner deleted with them would bring every dismissed piece back if it were re-added.
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="items")
    feed = models.ForeignKey(Feed, null=True, on_delete=models.SET_NULL, related_name="items")
    guid = models.CharField("GUID", max_length=1000)
    link = models.URLField(max_length=1000, blank=True)
    # The link without tracking parameters, fragment or "www.": how a piece is known again.
    link_key = models.CharField(max_length=1000, blank=True, db_index=True, editable=False)
    title = models.CharField(max_length=300)
    # The title folded (case, accents, punctuation): near-identical titles across partners.
    title_key = models.CharField(max_length=300, db_index=True, editable=False)
    summary = models.TextField(blank=True)
    content = models.TextField(blank=True, help_text="The full text, when the feed carries it.")
    authors = models.JSONField(default=list, blank=True)
    categories = models.JSONField(default=list, blank=True)
    # The categories folded like titles, between bars ("|peru|mineria|"): the topic filter
    # matches "Perú" for the topic Peru on every database (JSON text escapes accents on SQLite).
    category_keys = models.TextField(blank=True, default="", db_default="", editable=False)
    published_at = models.DateTimeField(null=True, blank=True)
    fetched_at = models.DateTimeField(default=timezone.now, editable=False)
    state = models.CharField(max_length=12, choices=State.choices, default=State.NEW)
    state_changed_at = models.DateTimeField(null=True, blank=True, editable=False)
    state_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        editable=False,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    article = models.ForeignKey(
        Article, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = ItemQuerySet.as_manager()

    class Meta:
        ordering = ["-published_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["partner", "guid"], name="partner_item_guid"),
        ]
        indexes = [models.Index(fields=["state", "-published_at"], name="item_queue")]
        verbose_name = "queued item"

    def __str__(self) -> str:
        return self.title

    def dismiss(self, by: object = None) -> None:
        if self.state != self.State.NEW:
            raise PartnerStateError(f"“{self.title}” is {self.get_state_display().lower()}.")
        self._move(self.State.DISMISSED, by)

    def undo_dismiss(self, by: object = None) -> None:
        if self.state != self.State.DISMISSED:
            raise PartnerStateError(f"“{self.title}” is not dismissed.")
        self._move(self.State.NEW, by)

    def mark_republished(self, article: Article, by: object = None) -> None:
        if self.state != self.State.NEW:
            raise PartnerStateError(
                f"“{self.title}” is {self.get_state_display().lower()} already."
            )
        self.article = article
        self._move(self.State.REPUBLISHED, by)

    def _move(self, state: str, by: object) -> None:
        self.state = state
        self.state_changed_at = timezone.now()
        self.state_changed_by = by if getattr(by, "pk", None) else None  # type: ignore[assignment]


def category_keys(categories: list[str]) -> str:
    keys = [key for key in (title_key(name) for name in categories) if key]
    return f"|{'|'.join(keys)}|" if keys else ""


class ArticleLink(models.Model):
    """The normalised key of each original or canonical address our articles point at (kept
    by a post_save handler on Article): how the queue knows we already have a piece."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="+")
    link_key = models.CharField(max_length=1000, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["article", "link_key"], name="article_link_once")
        ]

    def __str__(self) -> str:
        return self.link_key


class PartnerAuthor(models.Model):
    """A partner's writer as our byline: an author of their own, kept apart from ours of the
    same name (our Ana Quispe is not the partner's Ana Quispe) and reused for that partner."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="authors")
    name_key = models.CharField(max_length=200)
    author = models.ForeignKey(Author, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["partner", "name_key"], name="partner_author_once")
        ]

    def __str__(self) -> str:
        return f"{self.author_id} for {self.partner_id}"
