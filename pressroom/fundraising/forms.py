from __future__ import annotations

from decimal import Decimal

from django import forms

from pressroom.fundraising.models import Frequency
from pressroom.fundraising.money import AmountError, parse_amount, to_minor_units

# Below one unit of the currency (or ¥100) processing fees eat the gift, and card testers love it.
MINIMUM_MINOR_UNITS = 100
OTHER_AMOUNT = "other"


def suggested_amount(presets: list[Decimal]) -> Decimal:
    """The amount the donate page starts with checked: the middle preset, or the lower of the
    two middle ones ("10, 25, 50, 100" suggests 25), as the editors' list runs from small to
    large gifts."""
    return presets[(len(presets) - 1) // 2]


class DonateForm(forms.Form):
    """The public contract partner sites post to: amount, frequency, email, name."""

    amount = forms.CharField(required=False, max_length=30)
    custom_amount = forms.CharField(label="Other amount", required=False, max_length=30)
    frequency = forms.ChoiceField(choices=Frequency.choices, initial=Frequency.ONCE, required=False)
    email = forms.EmailField(label="Email", max_length=254, help_text="Your receipt goes here.")
    name = forms.CharField(label="Name (optional)", required=False, max_length=200)

    def __init__(self, *args, currency: str, presets: list[Decimal], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.currency = currency
        self.presets = presets

    def clean_frequency(self) -> str:
        return self.cleaned_data.get("frequency") or Frequency.ONCE

    def clean(self) -> dict:
        cleaned = super().clean() or {}
        chosen = (cleaned.get("amount") or "").strip()
        text = (
            (cleaned.get("custom_amount") or "").strip() if chosen in {"", OTHER_AMOUNT} else chosen
        )
        if not text:
            self.add_error("amount", "Choose or enter an amount.")
            return cleaned
        try:
            amount = parse_amount(text, self.currency)
            if to_minor_units(amount, self.currency) < MINIMUM_MINOR_UNITS:
                raise AmountError("That amount is below the smallest gift we can take online.")
        except AmountError as error:
            field = "custom_amount" if chosen in {"", OTHER_AMOUNT} else "amount"
            self.add_error(field, str(error))
            return cleaned
        cleaned["donation_amount"] = amount
        return cleaned

    def selected_preset(self) -> str:
        """Which preset radio is checked: the posted/pre-filled one, or 'other'."""
        value = (self["amount"].value() or "").strip()
        if not value:
            return "" if not (self["custom_amount"].value() or "") else OTHER_AMOUNT
        try:
            amount = parse_amount(value, self.currency)
        except AmountError:
            return OTHER_AMOUNT
        return next((str(preset) for preset in self.presets if preset == amount), OTHER_AMOUNT)

    def custom_value(self) -> str:
        if self.selected_preset() == OTHER_AMOUNT:
            chosen = (self["amount"].value() or "").strip()
            return (
                chosen if chosen and chosen != OTHER_AMOUNT else self["custom_amount"].value() or ""
            )
        return ""


class PortalLinkForm(forms.Form):
    email = forms.EmailField(label="Email", max_length=254)
