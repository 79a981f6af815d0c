"""Treasurer's books: refunds booked when they happen, reconciled gifts, offline references
unique per donor (not per method across every donor)."""

import django.db.models.deletion
import django.db.models.functions.text
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("fundraising", "0003_webhook_event_rejected"),
    ]

    operations = [
        migrations.CreateModel(
            name="DonationRefund",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("amount", models.DecimalField(decimal_places=3, max_digits=14)),
                ("refunded_at", models.DateTimeField(db_index=True)),
                (
                    "recorded_at",
                    models.DateTimeField(default=django.utils.timezone.now, editable=False),
                ),
                (
                    "donation",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="refunds",
                        to="fundraising.donation",
                    ),
                ),
            ],
            options={
                "ordering": ["refunded_at", "id"],
            },
        ),
        migrations.RemoveConstraint(
            model_name="donation",
            name="donation_unique_provider_reference",
        ),
        migrations.AddField(
            model_name="donation",
            name="reconciled_at",
            field=models.DateTimeField(
                blank=True,
                help_text="When the treasurer matched it with the bank statement; after that it is final.",
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="donation",
            name="refunded_at",
            field=models.DateTimeField(
                blank=True,
                help_text="When the latest refund happened (each is a DonationRefund).",
                null=True,
            ),
        ),
        migrations.AddConstraint(
            model_name="donation",
            constraint=models.UniqueConstraint(
                condition=models.Q(
                    (
                        "provider__in",
                        ["cheque", "bank_transfer", "cash", "other_processor", "other"],
                    ),
                    _negated=True,
                ),
                fields=("provider", "provider_reference"),
                name="donation_unique_processor_reference",
            ),
        ),
        migrations.AddConstraint(
            model_name="donation",
            constraint=models.UniqueConstraint(
                condition=models.Q(
                    (
                        "provider__in",
                        ["cheque", "bank_transfer", "cash", "other_processor", "other"],
                    ),
                    models.Q(("provider_reference", ""), _negated=True),
                    models.Q(("status", "refunded"), _negated=True),
                ),
                fields=("donor", "provider", "provider_reference"),
                name="donation_unique_offline_reference_per_donor",
            ),
        ),
        migrations.AddConstraint(
            model_name="donationrefund",
            constraint=models.CheckConstraint(
                condition=models.Q(("amount__gt", 0)), name="donation_refund_positive"
            ),
        ),
    ]
