"""What each send did: recipients, delivered, bounced, complained, unsubscribed, the visits its
tagged links brought (counted by the site, per send and day: pressroom.newsletter.visits), the
signups and the gifts that started from them (pressroom.lib.attribution: the tag travels from
the page's Referer through the donate form and the checkout to the Donation; fundraising reports
them through the hook in pressroom.lib.audiences, as this app never imports it).

Only what started after the send did counts: a gift or signup that names a send before it went
out (or one never sent) named a forged tag.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from html import escape

from django.utils import timezone

from pressroom.lib.audiences import CampaignGifts, donor_source
from pressroom.lib.spreadsheets import iso_time
from pressroom.newsletter.models import Digest, DigestQuerySet, SendVisit


@dataclass(frozen=True)
class SendResult:
    send: Digest
    recipients: int
    delivered: int
    bounced: int
    complained: int
    unsubscribed: int
    visits: int
    signups: int = 0
    # Gifts that started from the send's links, one entry per currency (never added across).
    gifts: list[CampaignGifts] = field(default_factory=list)

    @property
    def donations(self) -> int:
        return sum(gift.donations for gift in self.gifts)

    @property
    def donated(self) -> str:
        """The amounts per currency, as the site writes money ("€75.00; $10.00")."""
        return "; ".join(gift.shown for gift in self.gifts)

    def figures(self) -> list[tuple[str, int]]:
        return [
            ("Recipients", self.recipients),
            ("Delivered", self.delivered),
            ("Bounced", self.bounced),
            ("Complained", self.complained),
            ("Unsubscribed", self.unsubscribed),
            ("Visits", self.visits),
            ("Signups", self.signups),
            ("Donations", self.donations),
        ]


# Sends whose gifts are read in one query (the CSV streams every send).
GIFTS_CHUNK = 200


def _gifts_of(sends: Sequence[Digest], now: datetime) -> dict[str, list[CampaignGifts]]:
    source = donor_source()
    if source is None or source.gifts_by_campaign is None:
        return {}
    starts = {send.campaign_ref: send.attribution_start(now) for send in sends}
    # Processors date a payment to the second (Stripe's `created`): a start is floored to it.
    since = {tag: start.replace(microsecond=0) for tag, start in starts.items() if start}
    found: dict[str, list[CampaignGifts]] = {}
    for gift in source.gifts_by_campaign(since) if since else []:
        found.setdefault(gift.campaign, []).append(gift)
    return found


def results(sends: DigestQuerySet) -> Iterator[SendResult]:
    """One result per send: the ledger's counts from one query (correlated subqueries, no
    join), the gifts of each chunk of sends from one more."""
    now = timezone.now()
    rows = sends.with_results().iterator(chunk_size=GIFTS_CHUNK)
    while chunk := list(itertools.islice(rows, GIFTS_CHUNK)):
        gifts = _gifts_of(chunk, now)
        for send in chunk:
            started = send.attribution_start(now) is not None
            yield SendResult(
                send=send,
                recipients=send.recipient_count,  # type: ignore[attr-defined]
                delivered=send.sent_count,  # type: ignore[attr-defined]
                bounced=send.hard_bounced_count,  # type: ignore[attr-defined]
                complained=send.complained_count,  # type: ignore[attr-defined]
                unsubscribed=send.unsubscribed_count,  # type: ignore[attr-defined]
                visits=send.visit_count,  # type: ignore[attr-defined]
                signups=send.signup_count if started else 0,  # type: ignore[attr-defined]
                gifts=gifts.get(send.campaign_ref, []),
            )


def result_of(send: Digest) -> SendResult:
    return next(results(Digest.objects.filter(pk=send.pk)))


def daily_visits(send: Digest) -> list[tuple[date, int]]:
    return list(SendVisit.objects.filter(send=send).order_by("day").values_list("day", "visits"))


COLOURS = {
    "Recipients": "#555",
    "Delivered": "#1b6e3a",
    "Bounced": "#b3261e",
    "Complained": "#7a1a14",
    "Unsubscribed": "#a86b00",
    "Visits": "#1d4f91",
    "Signups": "#4a3b8f",
    "Donations": "#0b6b6b",
}


def chart_svg(result: SendResult, width: int = 640) -> str:
    """Horizontal bars of the send's figures, drawn on the server (no script, readable by a
    screen reader through its title, description and each bar's text)."""
    figures = result.figures()
    row, label_width, margin = 32, 120, 10
    height = row * len(figures) + 2 * margin
    top = max(value for _, value in figures) or 1
    plot = width - label_width - 80
    shown = {name: f"{value:,}" for name, value in figures}
    if result.gifts:
        shown["Donations"] += f" ({result.donated})"
    description = ", ".join(f"{name} {shown[name]}" for name, _ in figures)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-labelledby="send-chart-title send-chart-desc" '
        f'font-family="system-ui, sans-serif" font-size="13">',
        f'<title id="send-chart-title">Results of {escape(result.send.subject)}</title>',
        f'<desc id="send-chart-desc">{escape(description)}.</desc>',
    ]
    for index, (name, value) in enumerate(figures):
        y = margin + index * row
        bar = plot * value / top
        parts += [
            f'<text x="{label_width - 8}" y="{y + 20}" text-anchor="end">{name}</text>',
            f'<rect class="bar" x="{label_width}" y="{y + 6}" width="{bar:.1f}" height="{row - 12}" '
            f'fill="{COLOURS[name]}"><title>{name}: {escape(shown[name])}</title></rect>',
            f'<text x="{label_width + bar + 6:.1f}" y="{y + 20}">{escape(shown[name])}</text>',
        ]
    parts.append("</svg>")
    return "\n".join(parts)


CSV_HEADER = [
    "id",
    "kind",
    "subject",
    "date",
    "started_at",
    "finished_at",
    "recipients",
    "delivered",
    "bounced",
    "complained",
    "unsubscribed",
    "visits",
    "campaign_tag",
    "signups",
    "donations",
    "donated",
]


def csv_rows(items: Iterable[SendResult]) -> Iterator[Sequence[object]]:
    yield CSV_HEADER
    for item in items:
        send = item.send
        yield [
            send.pk,
            send.kind,
            send.subject,
            send.date.isoformat(),
            iso_time(send.started_at or send.send_after or send.created_at),
            iso_time(send.finished_at),
            item.recipients,
            item.delivered,
            item.bounced,
            item.complained,
            item.unsubscribed,
            item.visits,
            send.campaign_ref,
            item.signups,
            item.donations,
            item.donated,
        ]
