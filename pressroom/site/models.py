"""The outlet's site settings: one row, edited in the admin, read through `site.current`."""

from __future__ import annotations

import contextlib
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from pressroom.lib.colours import AA_TEXT_CONTRAST, contrast_ratio, normalise_hex_colour
from pressroom.media.models import MediaItem

# The page backgrounds of the light and the dark theme (front/static/front/theme.css sets the
# same values; a test keeps them equal). An accent colour is text (links, headings' rules) on
# them and the background of buttons whose text is the page's background, so one ratio
# covers both uses.
LIGHT_BACKGROUND = "#ffffff"
DARK_BACKGROUND = "#121212"
DEFAULT_ACCENT = "#b3261e"
DEFAULT_ACCENT_DARK = "#ff8a80"
MAX_SOCIAL_LINKS = 12
SITE_SETTINGS_ID = 1


def validate_accent(value: str, background: str, mode: str) -> None:
    """A hex colour readable as normal-size text on `background` (WCAG AA, 4.5:1)."""
    try:
        colour = normalise_hex_colour(value)
    except ValueError as error:
        raise ValidationError(str(error), code="invalid") from None
    ratio = contrast_ratio(colour, background)
    if ratio < AA_TEXT_CONTRAST:
        raise ValidationError(
            f"{colour} has a contrast ratio of {ratio:.2f}:1 against the {mode} background "
            f"({background}); text needs at least {AA_TEXT_CONTRAST}:1 (WCAG AA). "
            f"Choose a {'darker' if mode == 'light' else 'lighter'} colour.",
            code="low_contrast",
        )


def validate_light_accent(value: str) -> None:
    validate_accent(value, LIGHT_BACKGROUND, "light")


def validate_dark_accent(value: str) -> None:
    validate_accent(value, DARK_BACKGROUND, "dark")


def parse_social_links(text: str) -> list[str]:
    """The links of the "social links" field (one http(s) URL a line); ValidationError naming
    the first bad line."""
    links = [line.strip() for line in (text or "").splitlines() if line.strip()]
    if len(links) > MAX_SOCIAL_LINKS:
        raise ValidationError(f"At most {MAX_SOCIAL_LINKS} links, one a line.", code="too_many")
    validate = URLValidator(schemes=["http", "https"])
    for number, link in enumerate(links, start=1):
        if len(link) > 300:
            raise ValidationError(f"Line {number} is longer than 300 characters.", code="long")
        try:
            validate(link)
        except ValidationError:
            raise ValidationError(
                f"Line {number} (“{link[:80]}”) is not a web address starting with https://.",
                code="invalid",
            ) from None
    return links


def validate_social_links(text: str) -> None:
    parse_social_links(text)


def validate_stylesheet(value: str) -> None:
    """A stylesheet on this site: a path ("/static/outlet.css") or a URL under SITE_URL. A
    stylesheet from elsewhere would make every page ask a third party (and could restyle the
    site from outside)."""
    value = (value or "").strip()
    if not value:
        return
    parts = urlsplit(value)
    site = urlsplit(settings.SITE_URL)
    same_site = parts.scheme in {"http", "https"} and (parts.scheme, parts.netloc) == (
        site.scheme,
        site.netloc,
    )
    is_path = not parts.scheme and not parts.netloc and value.startswith("/")
    if value.startswith("//") or not (is_path or same_site):
        raise ValidationError(
            f"The stylesheet must be on this site: a path such as /static/outlet.css or an "
            f"address starting with {settings.SITE_URL}/.",
            code="other_site",
        )
    if any(char in value for char in "\"'<>\\ \t\r\n") or not parts.path.endswith(".css"):
        raise ValidationError(
            "The stylesheet's address must end in .css and contain no quotes, spaces or "
            "angle brackets.",
            code="invalid",
        )


class SiteSettings(models.Model):
    """What readers see of the outlet itself. One row (id 1); until it is first saved, the
    values come from the environment (SITE_NAME, SITE_DESCRIPTION, ORGANIZATION_NAME, ...)."""

    name = models.CharField("site name", max_length=100)
    tagline = models.CharField(max_length=200, blank=True)
    logo = models.ForeignKey(
        MediaItem,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Shown in the header instead of the name (the name stays its alt text).",
    )
    icon = models.ForeignKey(
        MediaItem,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="A square image, at least 512×512: browsers' tab icons, phones' home screens.",
    )
    share_image = models.ForeignKey(
        MediaItem,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="default share image",
        help_text="Link previews of pages without an image of their own (1200×630 is best).",
    )
    accent_colour = models.CharField(
        max_length=7,
        default=DEFAULT_ACCENT,
        validators=[validate_light_accent],
        help_text="Hex, e.g. #b3261e. Links and buttons; must be readable on white.",
    )
    accent_colour_dark = models.CharField(
        "accent colour in dark mode",
        max_length=7,
        default=DEFAULT_ACCENT_DARK,
        validators=[validate_dark_accent],
        help_text=f"For readers whose device is in dark mode; readable on {DARK_BACKGROUND}.",
    )
    footer_text = models.TextField(max_length=1000, blank=True)
    social_links = models.TextField(
        max_length=4000,
        blank=True,
        validators=[validate_social_links],
        help_text="One address a line (https://…), shown in the footer.",
    )
    fediverse_url = models.URLField(
        "fediverse profile",
        max_length=300,
        blank=True,
        validators=[URLValidator(schemes=["https"])],
        help_text='e.g. https://mastodon.social/@outlet: linked with rel="me" to verify it.',
    )
    organisation_name = models.CharField(max_length=200)
    postal_address = models.TextField(max_length=500, blank=True)
    # What a donor's tax office asks of a receipt (fundraising's receipts and statements print
    # them); db_default: the previous release inserts the row without these columns.
    legal_name = models.CharField(
        max_length=200,
        blank=True,
        default="",
        db_default="",
        help_text="The organisation's registered name on receipts, if not its usual name.",
    )
    tax_id = models.CharField(
        "tax id",
        max_length=50,
        blank=True,
        default="",
        db_default="",
        help_text="E.g. EIN 12-3456789, or a charity number.",
    )
    deductibility_statement = models.TextField(
        max_length=1000,
        blank=True,
        default="",
        db_default="",
        help_text="E.g. 'No goods or services were provided in exchange for this gift, which is "
        "tax-deductible to the extent allowed by law.'",
    )
    fiscal_sponsor = models.TextField(
        "fiscal sponsor line",
        max_length=500,
        blank=True,
        default="",
        db_default="",
        help_text="E.g. 'Pressroom News is a fiscally sponsored project of …, a 501(c)(3).'",
    )
    extra_stylesheet = models.CharField(
        "extra stylesheet",
        max_length=300,
        blank=True,
        validators=[validate_stylesheet],
        help_text="Your own CSS on this site, loaded after the theme: /static/outlet.css.",
    )
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = "site settings"
        verbose_name_plural = "site settings"
        constraints = [
            models.CheckConstraint(
                condition=Q(id=SITE_SETTINGS_ID), name="site_settings_single_row"
            )
        ]

    def __str__(self) -> str:
        return "Site settings"

    @classmethod
    def from_environment(cls) -> SiteSettings:
        """The row as it stands before anyone saved it: today's environment settings."""
        return cls(
            id=SITE_SETTINGS_ID,
            name=settings.SITE_NAME[:100],
            tagline=settings.SITE_DESCRIPTION[:200],
            organisation_name=settings.ORGANIZATION_NAME[:200],
            postal_address=settings.ORGANIZATION_ADDRESS[:500],
        )

    def clean(self) -> None:
        # Stored in one form, so the CSS emitted and the contrast checked are the same colour.
        for field in ("accent_colour", "accent_colour_dark"):
            with contextlib.suppress(ValueError):  # the field's validator says why
                setattr(self, field, normalise_hex_colour(getattr(self, field)))

    @property
    def social_link_list(self) -> list[str]:
        try:
            return parse_social_links(self.social_links)
        except ValidationError:
            return []
