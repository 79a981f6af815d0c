"""Exact money: Decimal amounts in a currency, and the minor units payment APIs speak.

Stripe counts most currencies in hundredths, a few in whole units (JPY, KRW, ...) and a few in
thousandths (BHD, KWD, ...); an amount that does not fit the currency's units is refused rather
than rounded, so no donor is ever charged a different sum than they typed.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

ZERO_DECIMAL_CURRENCIES = frozenset(
    [
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "JPY",
        "KMF",
        "KRW",
        "MGA",
        "PYG",
        "RWF",
        "UGX",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    ]
)
THREE_DECIMAL_CURRENCIES = frozenset(["BHD", "JOD", "KWD", "OMR", "TND"])

# Above this a gift goes through the office, not a web form (and Decimal stays far from limits).
MAXIMUM_AMOUNT = Decimal(10) ** 9
# The smallest gift taken online (donate form, a new monthly amount): below one unit of the
# currency (or ¥100) processing fees eat the gift, and card testers love it.
MINIMUM_MINOR_UNITS = 100

CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CAD": "CA$", "AUD": "A$"}


class AmountError(ValueError):
    """An amount that cannot be charged in its currency."""


def currency_exponent(currency: str) -> int:
    code = currency.upper()
    if code in ZERO_DECIMAL_CURRENCIES:
        return 0
    if code in THREE_DECIMAL_CURRENCIES:
        return 3
    return 2


def parse_amount(text: str | Decimal | int, currency: str) -> Decimal:
    """A positive amount with no more decimals than the currency has, or AmountError."""
    try:
        amount = text if isinstance(text, Decimal) else Decimal(str(text).strip().replace(",", ""))
    except InvalidOperation:
        raise AmountError("Enter an amount as a number, e.g. 25 or 25.50.") from None
    if not amount.is_finite():
        raise AmountError("Enter an amount as a number, e.g. 25 or 25.50.")
    if amount <= 0:
        raise AmountError("Enter an amount greater than zero.")
    if amount >= MAXIMUM_AMOUNT:
        raise AmountError("That amount is too large; please contact us to give it.")
    exponent = currency_exponent(currency)
    if amount != amount.quantize(Decimal(1).scaleb(-exponent)):
        if exponent == 0:
            raise AmountError(f"{currency.upper()} amounts are whole numbers, without decimals.")
        raise AmountError(f"{currency.upper()} amounts have at most {exponent} decimals.")
    return amount


def to_minor_units(amount: Decimal, currency: str) -> int:
    """25.50 EUR -> 2550; 2500 JPY -> 2500. Refuses amounts finer than the currency's unit."""
    scaled = amount.scaleb(currency_exponent(currency))
    if scaled != scaled.to_integral_value():
        raise AmountError(f"{amount} is finer than the smallest unit of {currency.upper()}.")
    return int(scaled)


def from_minor_units(minor: int, currency: str) -> Decimal:
    """2550 EUR -> Decimal('25.50'); 2500 JPY -> Decimal('2500')."""
    exponent = currency_exponent(currency)
    return Decimal(int(minor)).scaleb(-exponent).quantize(Decimal(1).scaleb(-exponent))


def normalize_amount(amount: Decimal, currency: str) -> Decimal:
    """The amount with exactly the currency's decimals: Decimal('25.000') USD -> Decimal('25.00')."""
    return amount.quantize(Decimal(1).scaleb(-currency_exponent(currency)))


def format_amount(amount: Decimal, currency: str, *, exact: bool = False) -> str:
    """The amount with its currency, the one way pages, emails and the admin write money.

    '$25', '€1,250.50', '¥2,500', 'CHF 40' on banners and pages (whole amounts without trailing
    zeros); with `exact`, as receipts, statements and the books show it: '$50.00', '€12.00',
    '¥2,500' (always the currency's decimals)."""
    code = currency.upper()
    exponent = currency_exponent(code)
    amount = Decimal(amount)
    places = exponent if exact or amount != amount.to_integral_value() else 0
    number = f"{abs(amount):,.{places}f}"
    sign = "-" if amount < 0 else ""
    symbol = CURRENCY_SYMBOLS.get(code)
    return f"{sign}{symbol}{number}" if symbol else f"{sign}{code} {number}"


def format_percent(part: Decimal | int, whole: Decimal | int) -> str:
    """'95.0%', '0.9%', '<0.1%' for a tiny non-zero share, '0%' only for nothing: a campaign at
    0.95% of its goal never reads as 0%."""
    if not whole:
        return "—"
    share = Decimal(part) * 100 / Decimal(whole)
    if share == 0:
        return "0%"
    if 0 < share < Decimal("0.1"):
        return "<0.1%"
    rounded = share.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    if rounded == 0:  # a tiny negative share (more refunded than raised in a period)
        return ">-0.1%"
    return f"{rounded}%"
