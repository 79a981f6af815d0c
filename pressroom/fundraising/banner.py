"""The running campaign as pages and emails show it.

Every public page carries the banner, so each process keeps the campaign, its totals and the
banner's markup under the content generation, like any other part of a public page
(pressroom/lib/pagecache/memo.py): most renders cost no query. A gift or a campaign change moves
the content generation on after its commit (`forget_campaign_figures`), which drops the banner
and every stored page in every process at once, and a campaign's start and end are moments
registered with the page cache (apps.py): the figures a reader sees are the same in every
process, and the page after a change shows it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import get_script_prefix, reverse
from django.utils import timezone, translation
from django.utils.safestring import mark_safe

from pressroom.fundraising.models import Campaign
from pressroom.fundraising.money import format_amount, format_percent, normalize_amount
from pressroom.lib.pagecache import ContentMemo, forget_cached_pages

_NO_CAMPAIGN = "none"


def forget_campaign_figures() -> None:
    """Make the next render of any public page, in any process, read the figures afresh."""
    forget_cached_pages()


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
    def percent_display(self) -> str:
        return format_percent(self.raised, self.goal)

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


def campaign_figures(campaign: Campaign) -> CampaignBanner:
    """The campaign's goal and what it has raised, as the banner shows them (without its
    markup): the donate page repeats them."""
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


def _load() -> CampaignBanner | str:
    campaign = Campaign.objects.running().order_by("-starts_at", "-id").first()
    if campaign is None:
        return _NO_CAMPAIGN
    banner = campaign_figures(campaign)
    return replace(
        banner,
        page_html=render_to_string(
            "fundraising/_banner.html",
            {"banner": banner, "script": mark_safe(settings.CAMPAIGN_BANNER_SCRIPT)},
        ),
    )


_banners: ContentMemo[CampaignBanner | str] = ContentMemo(max_entries=8)


def current_campaign_banner() -> CampaignBanner | None:
    # Its markup holds URLs (the script prefix) and words (the language) of the request.
    value = _banners.get_or_set((get_script_prefix(), translation.get_language()), _load)
    if not isinstance(value, CampaignBanner) or value.ends_at <= timezone.now():
        return None
    return value
