"""What the site counts of its readers: views per day, page and where they came from, and
monthly totals once the days are rolled up. Nothing here names or follows a reader."""

from __future__ import annotations

from datetime import date

from django.db import models
from django.db.models import Sum


class Kind(models.TextChoices):
    HOME = "home", "Home"
    ARTICLE = "article", "Article"
    TOPIC = "topic", "Topic"
    AUTHOR = "author", "Author"
    PAGE = "page", "Page"
    SEARCH = "search", "Search"


PATH_MAX = 300
DOMAIN_MAX = 100
CAMPAIGN_MAX = 60


class PageViewQuerySet(models.QuerySet):
    def between(self, start: date, end: date) -> PageViewQuerySet:
        return self.filter(day__gte=start, day__lte=end)

    def per_day(self) -> list[tuple[date, int, int]]:
        rows = self.values("day").annotate(views=Sum("views"), visitors=Sum("visitors"))
        return [(row["day"], row["views"], row["visitors"]) for row in rows.order_by("day")]

    def top(self, field: str, limit: int = 20) -> list[tuple[str, int, int]]:
        rows = (
            self.exclude(**{field: ""})
            .values(field)
            .annotate(total=Sum("views"), unique=Sum("visitors"))
            .order_by("-total", field)[:limit]
        )
        return [(row[field], row["total"], row["unique"]) for row in rows]


class PageView(models.Model):
    """Views of one public page on one day, from one referrer domain and campaign."""

    day = models.DateField()
    path = models.CharField(max_length=PATH_MAX)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    # The referring site's host name only (never the page it linked from); "" for none or our own.
    referrer = models.CharField(max_length=DOMAIN_MAX, blank=True, default="")
    # `email-<send id>` from a send's tagged link, or the page address's utm_campaign.
    campaign = models.CharField(max_length=CAMPAIGN_MAX, blank=True, default="")
    source = models.CharField(max_length=CAMPAIGN_MAX, blank=True, default="")
    views = models.PositiveIntegerField(default=0)
    # First views of the page that day by a daily-rotating salted hash (not for DNT/GPC).
    visitors = models.PositiveIntegerField(default=0)

    objects = PageViewQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "path", "referrer", "campaign", "source"], name="one_page_view_row"
            )
        ]
        indexes = [models.Index(fields=["day", "kind"])]
        verbose_name = "reader insight"
        verbose_name_plural = "reader insight"

    def __str__(self) -> str:
        return f"{self.day} {self.path}: {self.views}"


class MonthlyPageView(models.Model):
    """A page's views in one month, once its days are older than INSIGHT_RAW_RETENTION_DAYS."""

    month = models.DateField(help_text="The first day of the month.")
    path = models.CharField(max_length=PATH_MAX)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    views = models.PositiveBigIntegerField(default=0)
    visitors = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["month", "path"], name="one_monthly_page_view_row")
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.path}: {self.views}"
