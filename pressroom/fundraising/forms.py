from __future__ import annotations

from decimal import Decimal

from django import forms

from pressroom.fundraising.gifts import (
    EMAIL_LENGTH,
    NAME_LENGTH,
    TRIBUTE_KINDS,
    GiftDetails,
    fee_cover_offered,
    fee_to_cover,
)
from pressroom.fundraising.models import Frequency
from pressroom.fundraising.money import (
    MINIMUM_MINOR_UNITS,
    AmountError,
    parse_amount,
    to_minor_units,
)
from pressroom.lib.attribution import Source

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
    cover_fees = forms.BooleanField(required=False)
    anonymous = forms.BooleanField(label="Give anonymously", required=False)
    tribute_kind = forms.ChoiceField(choices=[("", "No"), *TRIBUTE_KINDS.items()], required=False)
    tribute_name = forms.CharField(label="Their name", required=False, max_length=NAME_LENGTH)
    tribute_notify_name = forms.CharField(
        label="Recipient's name (optional)", required=False, max_length=NAME_LENGTH
    )
    tribute_notify_email = forms.EmailField(
        label="Recipient's email (optional)", required=False, max_length=EMAIL_LENGTH
    )
    tribute_show_amount = forms.BooleanField(label="Tell them the amount", required=False)
    # Where the gift started (pressroom.lib.attribution), carried from the page's Referer.
    # Whatever is not a local path or a send's tag is dropped, never an error the donor sees.
    # (No max_length: Source.of drops what is too long; a hidden field cannot show an error.)
    source_path = forms.CharField(required=False, widget=forms.HiddenInput)
    source_campaign = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, currency: str, presets: list[Decimal], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.currency = currency
        self.presets = presets

    def clean_tribute_kind(self) -> str:
        return self.cleaned_data.get("tribute_kind") or ""

    def clean_source_path(self) -> str:
        return Source.of(path=self.cleaned_data.get("source_path", "")).path

    def clean_source_campaign(self) -> str:
        return Source.of(campaign=self.cleaned_data.get("source_campaign", "")).campaign

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
        self._clean_tribute(cleaned)
        return cleaned

    def _clean_tribute(self, cleaned: dict) -> None:
        kind = cleaned.get("tribute_kind") or ""
        if kind and not (cleaned.get("tribute_name") or "").strip():
            self.add_error("tribute_name", "Enter the name of the person the gift honours.")
        if not kind and (cleaned.get("tribute_notify_email") or cleaned.get("tribute_name")):
            self.add_error(
                "tribute_kind", "Choose “in honour of” or “in memory of”, or clear the name."
            )

    def gift_details(self) -> GiftDetails:
        """The donor's choices beside the amount (call after is_valid())."""
        cleaned = self.cleaned_data
        amount = cleaned["donation_amount"]
        kind = cleaned.get("tribute_kind") or ""
        email = (cleaned.get("tribute_notify_email") or "") if kind else ""
        return GiftDetails(
            covered_fee=fee_to_cover(amount, self.currency)
            if cleaned.get("cover_fees") and fee_cover_offered()
            else Decimal(0),
            anonymous=bool(cleaned.get("anonymous")),
            tribute_kind=kind,
            tribute_name=(cleaned.get("tribute_name") or "").strip() if kind else "",
            tribute_notify_name=(cleaned.get("tribute_notify_name") or "").strip() if email else "",
            tribute_notify_email=email,
            tribute_show_amount=bool(email and cleaned.get("tribute_show_amount")),
            source=self.source(),
        )

    def source(self) -> Source:
        return Source.of(
            self.cleaned_data.get("source_path", ""), self.cleaned_data.get("source_campaign", "")
        )

    def shown_amount(self) -> Decimal | None:
        """The amount the form shows as chosen (for the fee it would add), if any."""
        selected = self.selected_preset()
        text = self.custom_value() if selected == OTHER_AMOUNT else selected
        try:
            return parse_amount(text, self.currency) if text else None
        except AmountError:
            return None

    def fee_for_shown_amount(self) -> Decimal | None:
        amount = self.shown_amount()
        return fee_to_cover(amount, self.currency) if amount else None

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


class RecurringAmountForm(forms.Form):
    amount = forms.CharField(label="New amount", max_length=30)


class PortalLinkForm(forms.Form):
    email = forms.EmailField(label="Email", max_length=254)
