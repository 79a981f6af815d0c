"""What a donor chooses beside the amount: covering the fees, anonymity, a tribute.

These details travel with the checkout to the processor and come back on its events as short
strings (Stripe keeps them as metadata); `GiftDetails.from_strings` reads them back with the same
bounds the donate form applied, so an event can never carry more than a form could.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_UP, Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from pressroom.fundraising.money import AmountError, currency_exponent, parse_amount
from pressroom.lib.attribution import Source

TRIBUTE_KINDS = {"honour": "In honour of", "memory": "In memory of"}
NAME_LENGTH = 200
EMAIL_LENGTH = 254


def fee_cover_offered() -> bool:
    return bool(settings.FUNDRAISING_FEE_PERCENT or settings.FUNDRAISING_FEE_FIXED_CENTS)


def fee_to_cover(amount: Decimal, currency: str) -> Decimal:
    """What to add to `amount` so that, after the processor keeps FUNDRAISING_FEE_PERCENT of
    the total plus FUNDRAISING_FEE_FIXED_CENTS, the outlet receives `amount` (rounded up to the
    currency's smallest unit: the outlet never ends a cent short)."""
    exponent = currency_exponent(currency)
    unit = Decimal(1).scaleb(-exponent)
    rate = Decimal(str(settings.FUNDRAISING_FEE_PERCENT)) / 100
    # FIXED_CENTS counts hundredths; in a currency without them it counts whole units.
    fixed = Decimal(settings.FUNDRAISING_FEE_FIXED_CENTS).scaleb(-min(exponent, 2))
    total = (amount + fixed) / (1 - rate)
    return (total - amount).quantize(unit, rounding=ROUND_UP)


@dataclass(frozen=True)
class GiftDetails:
    covered_fee: Decimal = Decimal(0)
    anonymous: bool = False
    tribute_kind: str = ""
    tribute_name: str = ""
    tribute_notify_name: str = ""
    tribute_notify_email: str = ""
    tribute_show_amount: bool = False
    # Where the gift started (the page, the send's tag): kept on the first payment only.
    source: Source = field(default_factory=Source)

    @property
    def has_tribute(self) -> bool:
        return bool(self.tribute_kind and self.tribute_name)

    def as_strings(self) -> dict[str, str]:
        """The details to send with the checkout (only those set)."""
        strings = {
            "covered_fee": str(self.covered_fee) if self.covered_fee else "",
            "anonymous": "yes" if self.anonymous else "",
            "tribute_kind": self.tribute_kind,
            "tribute_name": self.tribute_name,
            "tribute_notify_name": self.tribute_notify_name,
            "tribute_notify_email": self.tribute_notify_email,
            "tribute_show_amount": "yes" if self.tribute_show_amount else "",
            **self.source.as_strings(),
        }
        return {key: value for key, value in strings.items() if value}

    @classmethod
    def from_strings(
        cls, strings: Mapping[str, str], amount: Decimal, currency: str
    ) -> GiftDetails:
        """Details read back from an event; whatever is out of bounds is dropped, never stored
        (the payment itself is still recorded)."""
        covered = Decimal(0)
        try:
            covered = parse_amount(strings.get("covered_fee") or "0", currency)
        except AmountError:
            covered = Decimal(0)
        if covered >= amount or covered < 0:
            covered = Decimal(0)
        kind = strings.get("tribute_kind", "")
        name = strings.get("tribute_name", "").strip()[:NAME_LENGTH]
        email = strings.get("tribute_notify_email", "").strip()
        try:
            if email:
                if len(email) > EMAIL_LENGTH:
                    raise ValidationError("too long")
                validate_email(email)
        except ValidationError:
            email = ""
        if kind not in TRIBUTE_KINDS or not name:
            kind, name, email = "", "", ""
        return cls(
            covered_fee=covered,
            anonymous=strings.get("anonymous") == "yes",
            tribute_kind=kind,
            tribute_name=name,
            tribute_notify_name=strings.get("tribute_notify_name", "").strip()[:NAME_LENGTH]
            if email
            else "",
            tribute_notify_email=email,
            tribute_show_amount=bool(email) and strings.get("tribute_show_amount") == "yes",
            source=Source.from_strings(strings),
        )
