"""Who gave: the one hook through which the newsletter's segments learn about donors.

The newsletter and fundraising apps never import each other (pyproject's import-linter
contracts). Fundraising registers a `DonorSource` here in its AppConfig.ready(); the newsletter
asks it for donors' addresses as a lazy query (a subquery of the same database, so a segment of a
million readers is still one SQL statement). Without fundraising installed nothing is registered
and the donor segments are hidden.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class CampaignGifts:
    """Gifts of one currency that started from one campaign tag (pressroom.lib.attribution)."""

    campaign: str
    currency: str
    donations: int
    amount: Decimal  # net of refunds
    shown: str  # the amount as the site writes money ("€75.00")


@dataclass(frozen=True)
class DonorSource:
    # The lower-case email addresses of donors who gave (a counted gift) for this campaign (None:
    # any), at or after `since` (None: ever), and, if `monthly`, whose monthly gift is active.
    # Returns a QuerySet of one column (`values("email")`), used as a subquery.
    donor_emails: Callable[[int | None, datetime | None, bool], Any]
    # (id, title) of the campaigns a segment may name, newest first.
    campaign_choices: Callable[[], list[tuple[int, str]]]
    # Counted gifts per campaign tag and currency, each tag's gifts received at or after its
    # datetime (a send's gifts are those after it started: an earlier gift naming its tag was
    # forged). One query for all the tags given.
    gifts_by_campaign: Callable[[Mapping[str, datetime]], list[CampaignGifts]] | None = None


_sources: list[DonorSource] = []


def register_donor_source(source: DonorSource) -> None:
    if source not in _sources:
        _sources.append(source)


def donor_source() -> DonorSource | None:
    return _sources[0] if _sources else None
