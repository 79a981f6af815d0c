"""The running campaign as pages and emails show it, cached briefly.

Every public page carries the banner, so the campaign and its totals are cached for
BANNER_CACHE_SECONDS (and dropped whenever a donation changes): most renders cost no query.
Pages themselves sit in the anonymous page cache for at most a minute, so the figures a reader
sees are at most that old.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from pressroom.fundraising.models import Campaign
from pressroom.fundraising.money import format_amount, normalize_amount
from pressroom.fundraising.services import CURRENT_CAMPAIGN_CACHE_KEY

BANNER_CACHE_SECONDS = 10
_NO_CAMPAIGN = "none"


@dataclass(frozen=True)
class CampaignBanner:
    slug: str
    heading: str
    message: str
    goal: Decimal
    currency: str
    raised: Decimal
    donor_count: int
    ends_at: datetime
    donate_path: str

    @property
    def raised_display(self) -> str:
        return format_amount(self.raised, self.currency)

    @property
    def goal_display(self) -> str:
        return format_amount(self.goal, self.currency)

    @property
    def percent(self) -> int:
        return min(100, int(self.raised * 100 / self.goal)) if self.goal else 0

    @property
    def progress_value(self) -> Decimal:
        return min(self.raised, self.goal)

    @property
    def paragraphs(self) -> list[str]:
        return [part.strip() for part in self.message.split("\n\n") if part.strip()]

    def days_left(self, now: datetime | None = None) -> int:
        remaining = self.ends_at - (now or timezone.now())
        if remaining.total_seconds() <= 0:
            return 0
        return remaining.days + (1 if remaining.seconds or remaining.microseconds else 0)


def _load() -> CampaignBanner | str:
    campaign = Campaign.objects.running().order_by("-starts_at", "-id").first()
    if campaign is None:
        return _NO_CAMPAIGN
    totals = campaign.totals()
    return CampaignBanner(
        slug=campaign.slug,
        heading=campaign.heading,
        message=campaign.message,
        goal=normalize_amount(campaign.goal_amount, campaign.currency),
        currency=campaign.currency,
        raised=normalize_amount(totals.raised, campaign.currency),
        donor_count=totals.donor_count,
        ends_at=campaign.ends_at,
        donate_path=reverse("fundraising:donate-campaign", kwargs={"slug": campaign.slug}),
    )


def current_campaign_banner() -> CampaignBanner | None:
    value = cache.get_or_set(CURRENT_CAMPAIGN_CACHE_KEY, _load, timeout=BANNER_CACHE_SECONDS)
    if not isinstance(value, CampaignBanner) or value.ends_at <= timezone.now():
        return None
    return value
