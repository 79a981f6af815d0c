"""Counters of the abuse limits (pressroom.lib.ratelimit), shared by every web process."""

from __future__ import annotations

from django.db import models


class RateLimitCounter(models.Model):
    """Attempts of one hashed key (an address, an account) in one fixed window."""

    key = models.CharField(max_length=100)
    window_start = models.BigIntegerField(help_text="Unix time the window began.")
    count = models.PositiveIntegerField(default=0)
    expires_at = models.BigIntegerField(db_index=True, help_text="Unix time it can be deleted.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["key", "window_start"], name="ratelimit_key_window")
        ]

    def __str__(self) -> str:
        return f"{self.key} @ {self.window_start}: {self.count}"
