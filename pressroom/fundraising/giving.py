"""Whether readers can give online right now, and how they can give when they cannot.

Online giving is paused on purpose (the site settings' switch, or one campaign's): the banner,
donate pages, the digest's block and receipts then offer the outlet's own ways to give (postal
address, bank transfer details, other ways: site settings) and no link to a checkout. The
donate page offers the same when no processor is configured, and while it rests a processor
that stopped answering (services.processor_is_down).
"""

from __future__ import annotations

from dataclasses import dataclass

from pressroom.fundraising.models import Campaign
from pressroom.site.current import current_site


@dataclass(frozen=True)
class WaysToGive:
    organisation_name: str
    postal_address: str
    bank_transfer_details: str
    other_ways_to_give: str


def ways_to_give() -> WaysToGive:
    site = current_site()
    return WaysToGive(
        organisation_name=site.organisation_name,
        postal_address=site.postal_address,
        bank_transfer_details=site.bank_transfer_details,
        other_ways_to_give=site.other_ways_to_give,
    )


def online_giving_paused(campaign: Campaign | None = None) -> bool:
    """Paused by staff, site-wide or for this campaign. (Without a configured processor the
    donate page, which the banner links to, offers the same ways to give.)"""
    if current_site().online_giving_paused:
        return True
    return campaign is not None and campaign.online_giving_paused
