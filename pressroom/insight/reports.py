"""What editors read of the site's counts, for a period: views per day (a chart drawn on the
server), top articles and topics, referrer domains, campaigns and sends, and what each table
looks like as CSV. Reads only (QuerySets); nothing here writes."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from html import escape
from typing import Any

from django.db.models import Sum
from django.urls import Resolver404, resolve
from django.utils import timezone

from pressroom.fundraising.models import Donation
from pressroom.insight.models import Kind, MonthlyPageView, PageView
from pressroom.newsletter.models import Digest, SendVisit, Subscriber
from pressroom.publishing.models import Article, Topic

TOP = 20


@dataclass(frozen=True)
class Period:
    start: date
    end: date

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]

    def views(self):
        return PageView.objects.between(self.start, self.end)


@dataclass(frozen=True)
class Table:
    name: str
    title: str
    header: Sequence[str]
    rows: Sequence[Sequence[Any]]
    caption: str = ""


def views_per_day(period: Period) -> Table:
    counted = {day: (views, visitors) for day, views, visitors in period.views().per_day()}
    rows = [(day, *counted.get(day, (0, 0))) for day in period.days]
    return Table("days", "Views per day", ("Day", "Views", "Visitors"), rows)


def monthly_totals(period: Period) -> Table:
    """The pages' monthly totals (daily rows older than INSIGHT_RAW_RETENTION_DAYS are rolled
    up into them, services.roll_up_page_views) for the months the period touches: an old period
    is not shown as empty."""
    first_month = period.start.replace(day=1)
    rows = (
        MonthlyPageView.objects.filter(month__gte=first_month, month__lte=period.end)
        .order_by("-month", "-views", "path")
        .values_list("month", "path", "kind", "views", "visitors")[: TOP * 12]
    )
    return Table(
        "monthly",
        "Monthly totals of older days",
        ("Month", "Address", "Kind", "Views", "Visitors"),
        [
            (month.strftime("%Y-%m"), path, kind, views, visitors)
            for month, path, kind, views, visitors in rows
        ],
        "Days older than the retention period are kept as one total per page and month; a "
        "month's total covers the whole month, whatever the period's first and last day.",
    )


def _slug(path: str) -> str:
    try:
        return str(resolve(path).kwargs.get("slug", ""))
    except Resolver404:
        return ""


def _top_of_kind(period: Period, kind: str, titles: Callable[[list[str]], dict[str, str]]):
    top = period.views().filter(kind=kind).top("path", TOP)
    names = titles([_slug(path) for path, _views, _visitors in top])
    return [(names.get(_slug(path), path), path, views, unique) for path, views, unique in top]


def top_articles(period: Period) -> Table:
    def titles(slugs: list[str]) -> dict[str, str]:
        return dict(Article.objects.filter(slug__in=slugs).values_list("slug", "title"))

    rows = _top_of_kind(period, Kind.ARTICLE, titles)
    return Table("articles", "Top articles", ("Article", "Address", "Views", "Visitors"), rows)


def top_topics(period: Period) -> Table:
    def names(slugs: list[str]) -> dict[str, str]:
        return dict(Topic.objects.filter(slug__in=slugs).values_list("slug", "name"))

    rows = _top_of_kind(period, Kind.TOPIC, names)
    return Table("topics", "Top topics", ("Topic", "Address", "Views", "Visitors"), rows)


def referrers(period: Period) -> Table:
    rows = period.views().top("referrer", TOP)
    return Table(
        "referrers",
        "Referrer domains",
        ("Domain", "Views", "Visitors"),
        rows,
        "The site a reader followed a link from (its domain only; none for direct visits).",
    )


def campaigns(period: Period) -> Table:
    rows = period.views().top("campaign", TOP)
    return Table(
        "campaigns",
        "Campaigns",
        ("Campaign", "Views", "Visitors"),
        rows,
        "email-N: links in send N; others: the utm_campaign of the address.",
    )


def send_visits(period: Period) -> Table:
    """Visits through the tagged links of digests and one-off sends (per send, not per reader)."""
    totals = (
        SendVisit.objects.filter(day__gte=period.start, day__lte=period.end)
        .values("send")
        .annotate(total=Sum("visits"))
        .order_by("-total")[:TOP]
    )
    by_send = {row["send"]: row["total"] for row in totals}
    sends = Digest.objects.filter(pk__in=list(by_send)).only("subject", "kind", "date")
    rows = sorted(
        (
            (send.subject, send.get_kind_display(), send.date, f"email-{send.pk}", by_send[send.pk])
            for send in sends
        ),
        key=lambda row: -row[-1],
    )
    return Table(
        "sends",
        "Digest and send visits",
        ("Send", "Kind", "Date", "Campaign tag", "Visits"),
        rows,
        "Page views through each send's tagged links, counted by the site per day.",
    )


def _bounds(period: Period) -> tuple[datetime, datetime]:
    """The period as [start, end) in aware datetimes, as the attribution reads take it."""
    start = timezone.make_aware(datetime.combine(period.start, time.min))
    return start, timezone.make_aware(datetime.combine(period.end + timedelta(days=1), time.min))


def _titles(paths: Iterable[str]) -> dict[str, str]:
    """The title of each article or topic path (other pages keep their address)."""
    slugs = {path: _slug(path) for path in paths}
    found = dict(Article.objects.filter(slug__in=slugs.values()).values_list("slug", "title"))
    found |= dict(Topic.objects.filter(slug__in=slugs.values()).values_list("slug", "name"))
    return {path: found.get(slug, path) for path, slug in slugs.items() if slug in found}


def signups(period: Period) -> Table:
    """Digest signups in the period per page the form was reached from (lib.attribution)."""
    rows = list(Subscriber.objects.by_source_path(*_bounds(period))[:TOP])
    titles = _titles(row["source_path"] for row in rows)
    return Table(
        "signups",
        "Signups by the page they started from",
        ("Page", "Address", "Signups", "Confirmed"),
        [
            (
                titles.get(row["source_path"], row["source_path"]),
                row["source_path"],
                row["signups"],
                row["confirmed"],
            )
            for row in rows
        ],
        "The page a reader was on when they reached the signup form (from the Referer; no "
        "cookie). Signups that started nowhere known are left out.",
    )


def _money(value: Decimal | None) -> Decimal:
    """Two decimals on both databases (SQLite's sums drop trailing zeros, PostgreSQL's keep three)."""
    return (value or Decimal(0)).quantize(Decimal("0.01"))


def donations(period: Period) -> Table:
    """Gifts in the period per page the donate form was reached from, per currency."""
    rows = list(Donation.objects.by_source_path(*_bounds(period))[:TOP])
    titles = _titles(row["source_path"] for row in rows)
    return Table(
        "donations",
        "Donations by the page they started from",
        ("Page", "Address", "Currency", "Donations", "Amount", "Net of refunds"),
        [
            (
                titles.get(row["source_path"], row["source_path"]),
                row["source_path"],
                row["currency"],
                row["donations"],
                _money(row["gross"]),
                _money(row["net"]),
            )
            for row in rows
        ],
        "Amounts per currency (never added across currencies). Gifts that started nowhere "
        "known are left out.",
    )


TABLES: dict[str, Callable[[Period], Table]] = {
    "days": views_per_day,
    "articles": top_articles,
    "topics": top_topics,
    "referrers": referrers,
    "campaigns": campaigns,
    "sends": send_visits,
    "signups": signups,
    "donations": donations,
    "monthly": monthly_totals,
}


# Tables that show another team's figures: only to staff who may see those records (an
# Editor sees page views, not what each page raised).
TABLE_PERMISSIONS = {
    "signups": "newsletter.view_subscriber",
    "donations": "fundraising.view_donation",
}


def tables_for(user: object) -> list[str]:
    """The names of the tables this staff member may see, in report order."""
    return [
        name
        for name in TABLES
        if name not in TABLE_PERMISSIONS or user.has_perm(TABLE_PERMISSIONS[name])  # type: ignore[attr-defined]
    ]


def csv_rows(table: Table) -> Iterator[Sequence[object]]:
    yield table.header
    for row in table.rows:
        yield [value.isoformat() if isinstance(value, date) else value for value in row]


def chart_svg(table: Table, width: int = 720, height: int = 220) -> str:
    """Views per day as vertical bars, drawn on the server: no script; a screen reader reads its
    title and description (the data table beside it has every figure)."""
    rows = table.rows
    margin_left, margin_bottom, margin_top = 48, 28, 12
    plot_width, plot_height = width - margin_left - 8, height - margin_bottom - margin_top
    top = max((int(row[1]) for row in rows), default=0) or 1
    total = sum(int(row[1]) for row in rows)
    busiest = max(rows, key=lambda row: int(row[1])) if rows else None
    first, last = (rows[0][0], rows[-1][0]) if rows else ("", "")
    description = f"{total:,} views from {first} to {last}" + (
        f"; busiest day {busiest[0]} with {int(busiest[1]):,}." if busiest and total else "."
    )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
        f'role="img" aria-labelledby="views-chart-title views-chart-desc" '
        f'font-family="system-ui, sans-serif" font-size="12" style="max-width:{width}px">',
        '<title id="views-chart-title">Views per day</title>',
        f'<desc id="views-chart-desc">{escape(description)}</desc>',
        f'<line x1="{margin_left}" y1="{margin_top + plot_height}" x2="{width - 8}" '
        f'y2="{margin_top + plot_height}" stroke="#555"/>',
        f'<text x="{margin_left - 6}" y="{margin_top + 10}" text-anchor="end">{top:,}</text>',
        f'<text x="{margin_left - 6}" y="{margin_top + plot_height}" text-anchor="end">0</text>',
    ]
    slot = plot_width / max(len(rows), 1)
    for index, row in enumerate(rows):
        views = int(row[1])
        bar = plot_height * views / top
        x = margin_left + index * slot
        parts.append(
            f'<rect class="bar" x="{x + slot * 0.1:.1f}" y="{margin_top + plot_height - bar:.1f}" '
            f'width="{max(slot * 0.8, 1):.1f}" height="{bar:.1f}" fill="#1d4f91">'
            f"<title>{row[0]}: {views:,} views</title></rect>"
        )
    if rows:
        parts.append(f'<text x="{margin_left}" y="{height - 8}">{first}</text>')
        parts.append(f'<text x="{width - 8}" y="{height - 8}" text-anchor="end">{last}</text>')
    parts.append("</svg>")
    return "\n".join(parts)
