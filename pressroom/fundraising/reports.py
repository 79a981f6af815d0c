"""Fundraising reports for the admin: totals, a daily chart against the goal, CSV export."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import Count, DecimalField, F, Sum, Value
from django.db.models.functions import Coalesce, TruncDate, TruncMonth
from django.utils import timezone
from django.utils.html import escape

from pressroom.fundraising.models import Campaign, Donation, DonationRefund
from pressroom.fundraising.money import format_amount, format_percent, normalize_amount
from pressroom.fundraising.providers import provider_label
from pressroom.lib.spreadsheets import iso_time, stream_rows

NET = F("amount") - F("refunded_amount")
ZERO = Value(Decimal(0), output_field=DecimalField(max_digits=14, decimal_places=3))


@dataclass(frozen=True)
class CampaignRow:
    campaign: Campaign
    raised: Decimal
    donor_count: int
    donation_count: int

    @property
    def percent(self) -> str:
        return format_percent(self.raised, self.campaign.goal_amount)

    @property
    def raised_display(self) -> str:
        return format_amount(self.raised, self.campaign.currency)

    @property
    def goal_display(self) -> str:
        return format_amount(self.campaign.goal_amount, self.campaign.currency)


def campaign_rows() -> list[CampaignRow]:
    rows = []
    for campaign in Campaign.objects.order_by("-starts_at"):
        figures = (
            Donation.objects.counted()
            .filter(campaign=campaign, currency=campaign.currency)
            .aggregate(
                raised=Coalesce(Sum(NET), ZERO),
                donors=Count("donor", distinct=True),
                donations=Count("id"),
            )
        )
        rows.append(
            CampaignRow(campaign, figures["raised"], figures["donors"], figures["donations"])
        )
    return rows


def monthly_totals() -> list[dict]:
    """Per month and currency, newest month first: gifts received that month (count, donors,
    gross) and refunds made that month, whatever month their gifts came in. A closed month's
    figures never change: a refund next spring is booked next spring."""
    tz = timezone.get_current_timezone()
    rows: dict[tuple[date, str], dict] = {}

    def row(month: date, currency: str) -> dict:
        key = (month, currency)
        if key not in rows:
            rows[key] = {
                "month": month,
                "currency": currency,
                "donations": 0,
                "donors": 0,
                "gross": Decimal(0),
                "covered_fees": Decimal(0),
                "refunded": Decimal(0),
            }
        return rows[key]

    received = (
        Donation.objects.annotate(month=TruncMonth("received_at", tzinfo=tz))
        .values("month", "currency")
        .annotate(
            donations=Count("id"),
            donors=Count("donor", distinct=True),
            gross=Sum("amount"),
            covered_fees=Sum("covered_fee"),
        )
        .order_by()
    )
    for figures in received:
        target = row(_month(figures["month"]), figures["currency"])
        target.update(
            donations=figures["donations"],
            donors=figures["donors"],
            gross=figures["gross"],
            covered_fees=figures["covered_fees"] or Decimal(0),
        )
    refunds = (
        DonationRefund.objects.annotate(month=TruncMonth("refunded_at", tzinfo=tz))
        .values("month", "donation__currency")
        .annotate(refunded=Sum("amount"))
        .order_by()
    )
    for refunded in refunds:
        row(_month(refunded["month"]), refunded["donation__currency"])["refunded"] = refunded[
            "refunded"
        ]
    ordered = sorted(rows.values(), key=lambda item: (item["month"], item["currency"]))
    ordered.sort(key=lambda item: item["month"], reverse=True)
    for item in ordered:
        currency = item["currency"]
        item["net"] = item["gross"] - item["refunded"]
        item["gross_display"] = format_amount(item["gross"], currency, exact=True)
        # Of the gross, what donors added to cover the processor's fees.
        item["covered_fees_display"] = format_amount(item["covered_fees"], currency, exact=True)
        item["refunded_display"] = format_amount(item["refunded"], currency, exact=True)
        item["net_display"] = format_amount(item["net"], currency, exact=True)
    return ordered


def _month(value: date | datetime) -> date:
    """TruncMonth gives a date or an aware datetime depending on the database."""
    if isinstance(value, datetime):
        value = timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return value.replace(day=1)


def daily_totals(campaign: Campaign) -> list[tuple[date, Decimal]]:
    """Net given per day of the campaign (every day, zeros included), up to today or its end."""
    tz = timezone.get_current_timezone()
    by_day = dict(
        Donation.objects.filter(campaign=campaign, currency=campaign.currency)
        .annotate(day=TruncDate("received_at", tzinfo=tz))
        .values("day")
        .annotate(net=Sum(NET))
        .values_list("day", "net")
    )
    first = timezone.localtime(campaign.starts_at, tz).date()
    last = timezone.localtime(min(campaign.ends_at, timezone.now()), tz).date()
    if by_day:
        first = min(first, min(by_day))
        last = max(last, max(by_day))
    days = []
    current = first
    while current <= last:
        days.append((current, by_day.get(current) or Decimal(0)))
        current += timedelta(days=1)
    return days


def daily_chart_svg(campaign: Campaign, width: int = 720, height: int = 300) -> str:
    """Bars of each day's gifts and a line of the running total, against the goal."""
    days = daily_totals(campaign)
    margin_left, margin_right, margin_top, margin_bottom = 70, 20, 20, 40
    plot_width = width - margin_left - margin_right
    plot_height = height - margin_top - margin_bottom
    running, cumulative = Decimal(0), []
    for _, net in days:
        running += net
        cumulative.append(running)
    top = max([campaign.goal_amount, *cumulative]) or Decimal(1)

    def y(value: Decimal) -> float:
        return margin_top + plot_height - float(value / top) * plot_height

    step = plot_width / max(len(days), 1)
    goal_text = format_amount(campaign.goal_amount, campaign.currency)
    total_text = format_amount(running, campaign.currency)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-labelledby="chart-title chart-desc" '
        f'font-family="system-ui, sans-serif" font-size="12">',
        f'<title id="chart-title">Daily donations to {escape(campaign.title)}</title>',
        f'<desc id="chart-desc">{total_text} raised of a {goal_text} goal over {len(days)} days.</desc>',
        f'<line x1="{margin_left}" y1="{margin_top + plot_height}" x2="{width - margin_right}" '
        f'y2="{margin_top + plot_height}" stroke="#333"/>',
        f'<line x1="{margin_left}" y1="{margin_top}" x2="{margin_left}" '
        f'y2="{margin_top + plot_height}" stroke="#333"/>',
    ]
    for index, (day, net) in enumerate(days):
        bar_top = y(net)
        parts.append(
            f'<rect class="day" x="{margin_left + index * step + step * 0.15:.1f}" y="{bar_top:.1f}" '
            f'width="{max(step * 0.7, 1):.1f}" height="{margin_top + plot_height - bar_top:.1f}" '
            f'fill="#d98c86"><title>{day.isoformat()}: '
            f"{format_amount(net, campaign.currency)}</title></rect>"
        )
    if cumulative:
        points = " ".join(
            f"{margin_left + (index + 0.5) * step:.1f},{y(value):.1f}"
            for index, value in enumerate(cumulative)
        )
        parts.append(
            f'<polyline class="running-total" points="{points}" fill="none" stroke="#b3261e" stroke-width="2"/>'
        )
    goal_y = y(campaign.goal_amount)
    parts += [
        f'<line class="goal" x1="{margin_left}" y1="{goal_y:.1f}" x2="{width - margin_right}" '
        f'y2="{goal_y:.1f}" stroke="#1b6e3a" stroke-dasharray="6 4"/>',
        f'<text x="{width - margin_right}" y="{goal_y - 4:.1f}" text-anchor="end" fill="#1b6e3a">'
        f"Goal {goal_text}</text>",
        f'<text x="{margin_left - 6}" y="{margin_top + plot_height}" text-anchor="end">0</text>',
        f'<text x="{margin_left - 6}" y="{margin_top + 10}" text-anchor="end">'
        f"{format_amount(top, campaign.currency)}</text>",
    ]
    if days:
        parts += [
            f'<text x="{margin_left}" y="{height - 12}">{days[0][0].isoformat()}</text>',
            f'<text x="{width - margin_right}" y="{height - 12}" text-anchor="end">'
            f"{days[-1][0].isoformat()}</text>",
        ]
    parts.append("</svg>")
    return "\n".join(parts)


CSV_HEADER = [
    "received_at",
    "donor_email",
    "donor_name",
    "anonymous",
    "amount",
    "covered_fee",
    "currency",
    "refunded",
    "refunded_at",
    "status",
    "frequency",
    "campaign",
    "method",
    "reference",
    "reconciled_at",
]


def donation_csv_rows(donations: Iterable[Donation]) -> Iterator[Sequence[object]]:
    yield CSV_HEADER
    for donation in donations:
        yield [
            iso_time(donation.received_at),
            donation.donor.email,
            donation.donor.name,
            # The export is the treasurer's; anyone publishing a list from it must honour this.
            "yes" if donation.is_anonymous else "",
            normalize_amount(donation.amount, donation.currency),
            normalize_amount(donation.covered_fee, donation.currency),
            donation.currency,
            normalize_amount(donation.refunded_amount, donation.currency),
            iso_time(donation.refunded_at),
            donation.status,
            donation.frequency,
            donation.campaign.slug if donation.campaign else "",
            provider_label(donation.provider),
            donation.provider_reference,
            iso_time(donation.reconciled_at),
        ]


def stream_csv(rows: Iterable[Sequence[object]]) -> Iterator[str]:
    """The rows as CSV lines, every cell defused, after a byte-order mark so that Excel reads
    the names as UTF-8 (pressroom.lib.spreadsheets)."""
    return stream_rows(rows, byte_order_mark=True)
