"""Colours from outside: hex parsing and WCAG 2.2 contrast, so a theme is checked before it shows."""

from __future__ import annotations

import re

HEX_COLOUR = re.compile(r"#(?:[0-9a-fA-F]{3}){1,2}")
# WCAG 2.2 success criterion 1.4.3 (AA): normal-size text against its background.
AA_TEXT_CONTRAST = 4.5


def parse_hex_colour(text: str) -> tuple[int, int, int]:
    """(red, green, blue) of "#rgb" or "#rrggbb"; ValueError for anything else."""
    text = (text or "").strip()
    if not HEX_COLOUR.fullmatch(text):
        raise ValueError(f"{text[:20]!r} is not a hex colour such as #b3261e.")
    digits = text[1:]
    if len(digits) == 3:
        digits = "".join(digit * 2 for digit in digits)
    return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)


def normalise_hex_colour(text: str) -> str:
    """The colour as lower-case "#rrggbb" (the one form stored and emitted into CSS)."""
    red, green, blue = parse_hex_colour(text)
    return f"#{red:02x}{green:02x}{blue:02x}"


def relative_luminance(colour: str) -> float:
    """WCAG's relative luminance of an sRGB colour, 0 (black) to 1 (white)."""

    def linear(channel: int) -> float:
        value = channel / 255
        return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = parse_hex_colour(colour)
    return 0.2126 * linear(red) + 0.7152 * linear(green) + 0.0722 * linear(blue)


def contrast_ratio(first: str, second: str) -> float:
    """WCAG contrast ratio of two colours, from 1 (the same) to 21 (black on white)."""
    lighter, darker = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)
