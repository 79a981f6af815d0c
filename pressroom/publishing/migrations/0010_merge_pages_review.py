# Joins two migrations written side by side (pages; roles and review). Nothing to do.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("publishing", "0009_pages"),
        ("publishing", "0009_review"),
    ]

    operations: list = []
