"""`pressroom demo`: a running end-of-year campaign with a few gifts toward its goal."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from pressroom.fundraising import services
from pressroom.fundraising.models import Campaign
from pressroom.fundraising.money import format_amount

DEMO_CAMPAIGN_SLUG = "end-of-year"
DEMO_GIFTS = [
    ("maria@example.org", "María Quispe", "50", "cheque"),
    ("jon@example.org", "Jon Ortiz", "25", "bank_transfer"),
    ("ama@example.org", "Ama Mensah", "100", "bank_transfer"),
    ("lee@example.org", "", "10", "cash"),
]


@transaction.atomic
def create_demo_campaign() -> str:
    now = timezone.now()
    campaign, created = Campaign.objects.get_or_create(
        slug=DEMO_CAMPAIGN_SLUG,
        defaults={
            "title": "End Of Year Fundraising Campaign",
            "heading": "Urgent End Of Year Fundraising Campaign",
            "message": (
                "Online donations are back! After two years without a way to give online, "
                "you can support independent, reader-funded news again.\n\n"
                "We take no money from advertisers or billionaires. Help us reach our goal "
                "before the year ends."
            ),
            "goal_amount": Decimal(25000),
            "currency": "USD",
            "starts_at": now - timedelta(days=7),
            "ends_at": (now + timedelta(days=35)).replace(
                hour=23, minute=59, second=0, microsecond=0
            ),
            "is_active": True,
        },
    )
    if created:
        for index, (email, name, amount, method) in enumerate(DEMO_GIFTS, start=1):
            services.record_offline_donation(
                email=email,
                name=name,
                amount=Decimal(amount),
                currency=campaign.currency,
                method=method,
                reference=f"demo-{index}",
                campaign=campaign,
                received_at=now - timedelta(days=len(DEMO_GIFTS) - index),
                send_receipt=False,
            )
    totals = campaign.totals()
    return (
        f"Fundraising campaign {campaign.title!r}: raised "
        f"{format_amount(totals.raised, campaign.currency)} of "
        f"{format_amount(campaign.goal_amount, campaign.currency)} "
        f"from {totals.donor_count} donors (/donate/{campaign.slug}/)."
    )
