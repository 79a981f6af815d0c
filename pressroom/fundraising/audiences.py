"""Donors for the newsletter's segments, through the hook in pressroom.lib.audiences (the
newsletter does not import fundraising, nor fundraising the newsletter)."""

from __future__ import annotations

import functools
import operator
from collections.abc import Mapping
from datetime import datetime

from django.db.models import Count, F, Q, QuerySet, Sum

from pressroom.fundraising.models import Campaign, Donation, RecurringDonation
from pressroom.fundraising.money import format_amount
from pressroom.lib.audiences import CampaignGifts, DonorSource


def donor_emails(campaign_id: int | None, since: datetime | None, monthly: bool) -> QuerySet:
    """Donors' addresses (stored lower-case, as the newsletter stores its readers') as one
    column, for `email__in=`: gifts that count (not refunded in full), or active monthly gifts."""
    if monthly:
        monthly_gifts = RecurringDonation.objects.filter(status=RecurringDonation.Status.ACTIVE)
        if campaign_id is not None:
            monthly_gifts = monthly_gifts.filter(campaign_id=campaign_id)
        return monthly_gifts.values("donor__email")
    gifts = Donation.objects.counted()
    if since is not None:
        gifts = gifts.filter(received_at__gte=since)
    if campaign_id is not None:
        gifts = gifts.filter(campaign_id=campaign_id)
    return gifts.values("donor__email")


def campaign_choices() -> list[tuple[int, str]]:
    return list(Campaign.objects.order_by("-starts_at").values_list("pk", "title")[:200])


def gifts_by_campaign(since_by_tag: Mapping[str, datetime]) -> list[CampaignGifts]:
    """Counted gifts per source_campaign and currency, each tag's from its datetime on."""
    if not since_by_tag:
        return []
    started = functools.reduce(
        operator.or_,
        (Q(source_campaign=tag, received_at__gte=since) for tag, since in since_by_tag.items()),
    )
    rows = (
        Donation.objects.counted()
        .filter(source_campaign__in=list(since_by_tag))
        .filter(started)
        .order_by()
        .values("source_campaign", "currency")
        .annotate(donations=Count("id"), net=Sum(F("amount") - F("refunded_amount")))
        .order_by("source_campaign", "currency")
    )
    return [
        CampaignGifts(
            campaign=row["source_campaign"],
            currency=row["currency"],
            donations=row["donations"],
            amount=row["net"],
            shown=format_amount(row["net"], row["currency"], exact=True),
        )
        for row in rows
    ]


DONORS = DonorSource(
    donor_emails=donor_emails,
    campaign_choices=campaign_choices,
    gifts_by_campaign=gifts_by_campaign,
)
