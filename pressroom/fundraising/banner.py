"""The running campaign as pages and emails show it, kept briefly in each process.

Every public page carries the banner, so each process keeps the campaign, its totals and the
banner's markup for BANNER_CACHE_SECONDS: most renders cost no query. A donation or a campaign
change bumps the "fundraising" generation (pressroom/lib/generations.py), which drops them in
every process at once. A page rendered after a change therefore shows it, and pages sit in the
anonymous page cache for at most PAGE_CACHE_SECONDS (a minute): that is how stale figures can be.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from django.template.loader import render_to_string
from django.urls import get_script_prefix, reverse
from django.utils import timezone, translation

from pressroom.fundraising.models import Campaign
from pressroom.fundraising.money import format_amount, normalize_amount
from pressroom.lib.generations import GenerationMemo, generation

BANNER_CACHE_SECONDS = 10
_NO_CAMPAIGN = "none"


def figures_version() -> str:
    return generation("fundraising").current()


def forget_campaign_figures() -> None:
    """Make the next render of the banner, in any process, read the figures afresh."""
    generation("fundraising").bump()


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
    # The page banner's markup, rendered once with the figures: every public page shows it, and
    # its template cost a sixth of an uncached render.
    page_html: str = ""

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
    banner = CampaignBanner(
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
    return replace(
        banner, page_html=render_to_string("fundraising/_banner.html", {"banner": banner})
    )


_banners: GenerationMemo[CampaignBanner | str] = GenerationMemo(
    figures_version, max_age=BANNER_CACHE_SECONDS, max_entries=8
)


def current_campaign_banner() -> CampaignBanner | None:
    # Its markup holds URLs (the script prefix) and words (the language) of the request.
    value = _banners.get_or_set((get_script_prefix(), translation.get_language()), _load)
    if not isinstance(value, CampaignBanner) or value.ends_at <= timezone.now():
        return None
    return value
