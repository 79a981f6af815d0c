"""A worker holds a batch, not each of its rows: `DeliveryBatch`.

Each message wrote its delivery row three times (pending, sending when its batch was claimed,
sent); now twice, and the claim is one row per batch. Batch rows are written for the sends
going out now; a batch without one gets it when a worker first claims it. The row-claim
columns of `Delivery` stay until the next release (docs/deploy.md, "Writing migrations");
0011 drops their index.
"""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import Q


def batches_of_sends_in_progress(apps, schema_editor):
    Digest = apps.get_model("newsletter", "Digest")
    Delivery = apps.get_model("newsletter", "Delivery")
    DeliveryBatch = apps.get_model("newsletter", "DeliveryBatch")
    for digest_id in Digest.objects.filter(status="sending").values_list("pk", flat=True):
        numbers = (
            Delivery.objects.filter(digest_id=digest_id, state__in=["pending", "sending"])
            .values_list("batch", flat=True)
            .distinct()
            .order_by()
        )
        DeliveryBatch.objects.bulk_create(
            [DeliveryBatch(digest_id=digest_id, number=number) for number in numbers],
            ignore_conflicts=True,
        )


class Migration(migrations.Migration):
    dependencies = [
        ("newsletter", "0009_delivery_partial_indexes"),
    ]

    operations = [
        migrations.CreateModel(
            name="DeliveryBatch",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("number", models.PositiveIntegerField()),
                ("claim", models.CharField(blank=True, db_default="", default="", max_length=32)),
                (
                    "claimed_by",
                    models.CharField(blank=True, db_default="", default="", max_length=64),
                ),
                ("claimed_at", models.DateTimeField(blank=True, null=True)),
                ("attempts", models.PositiveSmallIntegerField(db_default=0, default=0)),
                ("finished_at", models.DateTimeField(blank=True, null=True)),
                (
                    "digest",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="batches",
                        to="newsletter.digest",
                    ),
                ),
            ],
            options={
                "verbose_name_plural": "delivery batches",
                "indexes": [
                    models.Index(
                        condition=~Q(claim=""), fields=["claimed_by"], name="delivery_batch_held"
                    )
                ],
                "constraints": [
                    models.UniqueConstraint(fields=("digest", "number"), name="delivery_batch_one")
                ],
            },
        ),
        migrations.RunPython(batches_of_sends_in_progress, migrations.RunPython.noop),
    ]
