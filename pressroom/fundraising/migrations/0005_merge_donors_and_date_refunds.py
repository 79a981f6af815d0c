"""Data for the treasurer's books.

1. Donors whose addresses differ only by case become one: the oldest record is kept, the
   others' donations and monthly gifts move to it, and its address is stored lower-case. (No two
   of their gifts can clash on 0004's per-donor reference index: until this release a
   reference was unique per method across all donors.)
2. Each donation refunded so far gets a DonationRefund dated as well as the records allow: the
   creation time of the latest `charge.refunded` event that names it, else (an offline gift, or
   events older than this release kept none) its received date, the month the reports booked
   it in before, so no closed month changes.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

from django.db import migrations


def merge_donors_by_address(apps, schema_editor) -> None:
    Donor = apps.get_model("fundraising", "Donor")
    Donation = apps.get_model("fundraising", "Donation")
    RecurringDonation = apps.get_model("fundraising", "RecurringDonation")
    groups: dict[str, list] = defaultdict(list)
    for donor in Donor.objects.order_by("created_at", "pk").only("pk", "email", "name"):
        groups[donor.email.strip().lower()].append(donor)
    for address, donors in groups.items():
        kept, others = donors[0], donors[1:]
        if others:
            other_ids = [donor.pk for donor in others]
            Donation.objects.filter(donor_id__in=other_ids).update(donor_id=kept.pk)
            RecurringDonation.objects.filter(donor_id__in=other_ids).update(donor_id=kept.pk)
            name = kept.name or next((donor.name for donor in others if donor.name), "")
            Donor.objects.filter(pk__in=other_ids).delete()
            Donor.objects.filter(pk=kept.pk).update(name=name)
        if kept.email != address:
            Donor.objects.filter(pk=kept.pk).update(email=address)


def _refund_times(WebhookEvent) -> dict[str, datetime]:
    """Payment reference -> when the latest refund event naming it was created."""
    times: dict[str, datetime] = {}
    events = WebhookEvent.objects.filter(event_type="charge.refunded").only("payload", "provider")
    for event in events.iterator(chunk_size=500):
        payload = event.payload if isinstance(event.payload, dict) else {}
        created = payload.get("created")
        charge = (payload.get("data") or {}).get("object") or {}
        if not isinstance(created, int) or not isinstance(charge, dict):
            continue
        moment = datetime.fromtimestamp(created, tz=UTC)
        for key in ("payment_intent", "invoice", "id"):
            reference = charge.get(key)
            if isinstance(reference, str) and reference:
                name = f"{event.provider}:{reference}"
                times[name] = max(times.get(name, moment), moment)
    return times


def date_past_refunds(apps, schema_editor) -> None:
    Donation = apps.get_model("fundraising", "Donation")
    DonationRefund = apps.get_model("fundraising", "DonationRefund")
    WebhookEvent = apps.get_model("fundraising", "WebhookEvent")
    times = _refund_times(WebhookEvent)
    refunded = Donation.objects.filter(refunded_amount__gt=0, refunds__isnull=True)
    for donation in refunded.iterator(chunk_size=500):
        known = [
            times[f"{donation.provider}:{reference}"]
            for reference in (donation.provider_reference, donation.provider_payment_reference)
            if reference and f"{donation.provider}:{reference}" in times
        ]
        when = max(known) if known else None
        DonationRefund.objects.create(
            donation=donation,
            amount=donation.refunded_amount,
            refunded_at=when or donation.received_at,
        )
        if when is not None:
            Donation.objects.filter(pk=donation.pk).update(refunded_at=when)


class Migration(migrations.Migration):
    dependencies = [
        ("fundraising", "0004_donation_refunds_reconciled"),
    ]

    operations = [
        migrations.RunPython(merge_donors_by_address, migrations.RunPython.noop),
        migrations.RunPython(date_past_refunds, migrations.RunPython.noop),
    ]
