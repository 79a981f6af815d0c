"""The report's period: two dates, bounded (a year at most, nothing in the future)."""

from __future__ import annotations

from datetime import date, timedelta

from django import forms
from django.utils import timezone

from pressroom.insight.reports import TABLES, Period

DEFAULT_DAYS = 30
LONGEST_DAYS = 366
EARLIEST = date(2000, 1, 1)


class PeriodForm(forms.Form):
    start = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    table = forms.ChoiceField(
        choices=[(name, name) for name in TABLES], required=False, widget=forms.HiddenInput
    )

    @classmethod
    def initial_period(cls) -> Period:
        today = timezone.localdate()
        return Period(today - timedelta(days=DEFAULT_DAYS - 1), today)

    def clean(self) -> dict:
        cleaned = super().clean() or {}
        start, end = cleaned.get("start"), cleaned.get("end")
        if start is None or end is None:
            return cleaned
        today = timezone.localdate()
        if start < EARLIEST:
            self.add_error("start", f"Choose a day from {EARLIEST:%Y-%m-%d} on.")
        if end > today:
            self.add_error("end", "Choose a day up to today.")
        if start > end:
            self.add_error("end", "The end comes on or after the start.")
        elif (end - start).days + 1 > LONGEST_DAYS:
            self.add_error("end", f"Choose at most {LONGEST_DAYS} days.")
        return cleaned

    def period(self) -> Period:
        return Period(self.cleaned_data["start"], self.cleaned_data["end"])
