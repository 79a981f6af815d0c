"""The database store of pressroom.lib.ratelimit: one upsert per attempt, on SQLite and PostgreSQL."""

from __future__ import annotations

import time

from django.db import connection, transaction

from pressroom.accounts.models import RateLimitCounter

TABLE = RateLimitCounter._meta.db_table


class DatabaseCounterStore:
    def hit(self, key: str, window_start: int, expires_at: int) -> int:
        # One statement, atomic in both databases: two processes counting the same key at once
        # both see their own increment (a read-then-write would lose one).
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {TABLE} (key, window_start, count, expires_at) "  # noqa: S608
                "VALUES (%s, %s, 1, %s) "
                "ON CONFLICT (key, window_start) "
                f"DO UPDATE SET count = {TABLE}.count + 1 "
                "RETURNING count",
                [key, window_start, expires_at],
            )
            count = int(cursor.fetchone()[0])
            if count == 1:  # a new window: sweep the ones that are over (an indexed range)
                RateLimitCounter.objects.filter(expires_at__lt=int(time.time())).delete()
        return count

    def count(self, key: str, window_start: int) -> int:
        found = RateLimitCounter.objects.filter(key=key, window_start=window_start).values_list(
            "count", flat=True
        )
        return next(iter(found), 0)

    def clear(self, key: str) -> None:
        RateLimitCounter.objects.filter(key=key).delete()
