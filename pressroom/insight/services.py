"""Writes of reader insight: rolling old daily counts up into monthly totals."""

from __future__ import annotations

from datetime import date, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone

from pressroom.insight.models import MonthlyPageView, PageView


def roll_up_page_views(today: date | None = None) -> int:
    """Add the daily rows older than INSIGHT_RAW_RETENTION_DAYS to their page's monthly total
    and delete them, one day per transaction (a day of any size is one aggregate and one
    delete, never a list of ids); returns how many daily rows went. Idempotent: the rows a day
    adds up are the rows it deletes, in the same transaction, so a second run (or a run cut
    short and started again) adds nothing twice."""
    cutoff = (today or timezone.localdate()) - timedelta(days=settings.INSIGHT_RAW_RETENTION_DAYS)
    days = PageView.objects.filter(day__lt=cutoff).values_list("day", flat=True).distinct()
    return sum(_roll_up_day(day) for day in sorted(days))


def _roll_up_day(day: date) -> int:
    with transaction.atomic():
        rows = PageView.objects.filter(day=day)
        # Locked first (PostgreSQL takes no FOR UPDATE with GROUP BY): a second roll-up running
        # at once waits here, then finds the day gone.
        len(rows.select_for_update().values_list("pk", flat=True))
        totals = (
            rows.values("path", "kind")
            .annotate(views=Sum("views"), visitors=Sum("visitors"))
            .order_by()
        )
        month = day.replace(day=1)
        per_path: dict[str, dict] = {}
        for row in totals:  # a path counted under two kinds makes one monthly row
            known = per_path.setdefault(
                row["path"], {"kind": row["kind"], "views": 0, "visitors": 0}
            )
            known["views"] += row["views"]
            known["visitors"] += row["visitors"]
        for path, known in per_path.items():
            added = {
                "views": F("views") + known["views"],
                "visitors": F("visitors") + known["visitors"],
            }
            if not MonthlyPageView.objects.filter(month=month, path=path).update(**added):
                MonthlyPageView.objects.create(month=month, path=path, **known)
        deleted, _by_model = rows.delete()
        return deleted
