"""The upgrade to the treasurer's books, on real data: donors differing by case merged, past
refunds dated from the events that reported them (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = ("fundraising", "0004_donation_refunds_reconciled")
AFTER = ("fundraising", "0006_donor_email_case_insensitive")


@pytest.fixture
def migrator(transactional_db):
    executor = MigrationExecutor(connection)
    executor.migrate([BEFORE])
    executor.loader.build_graph()
    yield executor
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_upgrade_merges_donors_by_address_and_dates_past_refunds(migrator):
    apps = migrator.loader.project_state(BEFORE).apps
    Donor = apps.get_model("fundraising", "Donor")
    Donation = apps.get_model("fundraising", "Donation")
    RecurringDonation = apps.get_model("fundraising", "RecurringDonation")
    WebhookEvent = apps.get_model("fundraising", "WebhookEvent")
    now = datetime(2026, 6, 1, tzinfo=UTC)
    first = Donor.objects.create(email="alice@example.org", created_at=now - timedelta(days=9))
    second = Donor.objects.create(
        email="Alice@Example.org", name="Alice Mamani", created_at=now - timedelta(days=2)
    )
    third = Donor.objects.create(email="ALICE@EXAMPLE.ORG", created_at=now)
    alone = Donor.objects.create(email="Bob@Example.org", created_at=now)

    def gift(donor, reference, **fields):
        values = {"amount": Decimal(50), "currency": "USD", "received_at": now, **fields}
        return Donation.objects.create(
            donor=donor, provider="stripe", provider_reference=reference, **values
        )

    gift(first, "pi_1")
    refunded = gift(
        second,
        "in_2",
        provider_payment_reference="pi_2",
        refunded_amount=Decimal(20),
        status="partially_refunded",
    )
    cheque = Donation.objects.create(
        donor=third,
        amount=Decimal(30),
        currency="USD",
        provider="cheque",
        provider_reference="1001",
        refunded_amount=Decimal(30),
        status="refunded",
        received_at=now - timedelta(days=40),
    )
    RecurringDonation.objects.create(
        donor=third, amount=Decimal(5), currency="USD", provider="stripe", provider_reference="s1"
    )
    refund_time = int(datetime(2026, 7, 4, 10, tzinfo=UTC).timestamp())
    for created, amount in ((refund_time - 86400, 1000), (refund_time, 2000)):
        WebhookEvent.objects.create(
            provider="stripe",
            event_id=f"evt_{created}",
            event_type="charge.refunded",
            payload={
                "id": f"evt_{created}",
                "created": created,
                "type": "charge.refunded",
                "data": {
                    "object": {"id": "ch_2", "payment_intent": "pi_2", "amount_refunded": amount}
                },
            },
        )

    migrator.loader.build_graph()
    migrator.migrate([AFTER])
    apps = migrator.loader.project_state(AFTER).apps
    Donor = apps.get_model("fundraising", "Donor")
    Donation = apps.get_model("fundraising", "Donation")
    DonationRefund = apps.get_model("fundraising", "DonationRefund")

    assert sorted(Donor.objects.values_list("pk", "email", "name")) == sorted(
        [(first.pk, "alice@example.org", "Alice Mamani"), (alone.pk, "bob@example.org", "")]
    )
    assert Donation.objects.filter(donor_id=first.pk).count() == 3
    assert apps.get_model("fundraising", "RecurringDonation").objects.get().donor_id == first.pk

    dated = Donation.objects.get(pk=refunded.pk)
    assert dated.refunded_at == datetime(2026, 7, 4, 10, tzinfo=UTC)  # the latest refund event
    assert [(r.amount, r.refunded_at) for r in DonationRefund.objects.filter(donation=dated)] == [
        (Decimal(20), dated.refunded_at)
    ]
    # No record of when the cheque bounced: booked in the month the reports showed it before.
    undated = Donation.objects.get(pk=cheque.pk)
    assert undated.refunded_at is None
    assert DonationRefund.objects.get(donation=undated).refunded_at == cheque.received_at
