"""The running campaign as pages and emails show it, cached briefly.

Every public page carries the banner, so the campaign and its totals are cached for
BANNER_CACHE_SECONDS: most renders cost no query. Whenever a donation or campaign changes the
cached figures are dropped at once, in every process: with a shared cache (Redis) by deleting the
entry; with the per-process default cache by a version file in VAR_DIR that each render stat()s
(microseconds). A page rendered after a change therefore shows it, and pages sit in the anonymous
page cache for at most PAGE_CACHE_SECONDS (a minute): that is how stale figures can be.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from pressroom.fundraising.models import Campaign
from pressroom.fundraising.money import format_amount, normalize_amount

BANNER_CACHE_SECONDS = 10
CACHE_KEY = "fundraising:current-campaign:{version}"
VERSION_FILE_NAME = "fundraising-figures-version"
PER_PROCESS_BACKENDS = (".LocMemCache", ".DummyCache")
_NO_CAMPAIGN = "none"


def _version_file() -> Path | None:
    """The version file when the cache is per process (None when the cache is shared)."""
    if settings.CACHES["default"]["BACKEND"].endswith(PER_PROCESS_BACKENDS):
        return Path(settings.VAR_DIR) / VERSION_FILE_NAME
    return None


def figures_version() -> str:
    path = _version_file()
    if path is None:
        return "shared"
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return "0"
    return f"{stat.st_ino}-{stat.st_mtime_ns}"


def forget_campaign_figures() -> None:
    """Make the next render of the banner, in any process, read the figures afresh."""
    cache.delete(CACHE_KEY.format(version=figures_version()))
    bump_figures_version()


def bump_figures_version() -> None:
    """Tell the other processes (per-process caches only) that their cached figures are old."""
    path = _version_file()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        temporary.write_text(str(timezone.now().timestamp()))
        os.replace(temporary, path)  # a new inode: every process sees a new version


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
    key = CACHE_KEY.format(version=figures_version())
    value = cache.get_or_set(key, _load, timeout=BANNER_CACHE_SECONDS)
    if not isinstance(value, CampaignBanner) or value.ends_at <= timezone.now():
        return None
    return value
