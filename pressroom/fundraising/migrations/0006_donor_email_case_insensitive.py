"""One donor per address whatever its case (after 0005 merged the duplicates)."""

import django.db.models.functions.text
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("fundraising", "0005_merge_donors_and_date_refunds"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name="donor",
            constraint=models.UniqueConstraint(
                django.db.models.functions.text.Lower("email"),
                name="donor_unique_email_case_insensitive",
            ),
        ),
    ]
