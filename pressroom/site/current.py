"""The site settings as pages, feeds and emails read them: `current_site()`.

Read once per content generation in each process (a ContentMemo): saving the settings moves the
generation on (site.services), so every cached page and kept part shows the change at once,
and a page served from the cache costs no query for them. Editors, commands and tasks read
them afresh (a few queries).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.conf import settings
from django.templatetags.static import static
from django.utils.safestring import SafeString, mark_safe

from pressroom.lib.colours import normalise_hex_colour
from pressroom.lib.pagecache import ContentMemo
from pressroom.lib.pagecache.generation import serving_generation
from pressroom.media.models import MediaItem, Rendition
from pressroom.media.rendering import absolute_url, best_rendition, image_file
from pressroom.media.services import ICON_SIZES
from pressroom.site.models import (
    DEFAULT_ACCENT,
    DEFAULT_ACCENT_DARK,
    SITE_SETTINGS_ID,
    SiteSettings,
)

# Shown while no icon is chosen: the outlet's initial is not known in advance, so a plain mark.
DEFAULT_ICON = "site/icon-{size}.png"


@dataclass(frozen=True)
class Picture:
    """An image as a page or a link preview points at it."""

    url: str  # absolute where it leaves the page (previews, JSON-LD), else a path
    width: int = 0
    height: int = 0
    mime_type: str = ""
    alt: str = ""


@dataclass(frozen=True)
class SocialLink:
    url: str
    label: str


@dataclass(frozen=True)
class Site:
    name: str
    tagline: str
    organisation_name: str
    postal_address: str
    footer_text: str
    accent: str
    accent_dark: str
    fediverse_url: str
    extra_stylesheet: str
    logo: Picture | None = None
    # Receipts' tax wording (fundraising)
    legal_name: str = ""
    tax_id: str = ""
    deductibility_statement: str = ""
    fiscal_sponsor: str = ""
    # Giving paused (fundraising)
    online_giving_paused: bool = False
    bank_transfer_details: str = ""
    other_ways_to_give: str = ""
    share_image: Picture | None = None
    # "32", "180", "192", "512" -> the address of a square PNG of that size (a path on this
    # site, or the object store's URL)
    icons: dict[str, str] = field(default_factory=dict)
    social_links: tuple[SocialLink, ...] = ()

    @property
    def short_name(self) -> str:
        """For a phone's home screen, which shows about 12 characters."""
        return self.name if len(self.name) <= 12 else self.name.split()[0][:12]

    @property
    def theme_css(self) -> SafeString:
        """The custom properties the settings decide, for an inline <style> in the head: about
        200 bytes, no request of its own. Colours are stored validated as #rrggbb
        (SiteSettings.save) and checked again here, as they are written into CSS: a row changed
        behind the model's back gives the default colour, never its text."""
        light = css_colour(self.accent, DEFAULT_ACCENT)
        dark = css_colour(self.accent_dark, DEFAULT_ACCENT_DARK)
        return mark_safe(  # both are "#" and six hex digits, nothing else
            f":root{{--accent:{light};--accent-ink:var(--paper)}}"
            f"@media (prefers-color-scheme:dark){{:root{{--accent:{dark}}}}}"
        )

    @property
    def large_icon_url(self) -> str:
        """The 512 px icon's absolute address (link previews without an image of their own,
        the publisher's logo when there is no logo)."""
        return absolute_url(self.icons["512"])


def css_colour(value: str, default: str) -> str:
    """`value` as "#rrggbb" when it is a hex colour, else `default`."""
    try:
        return normalise_hex_colour(value)
    except ValueError:
        return default


def _label(url: str) -> str:
    host = (urlsplit(url).hostname or url).removeprefix("www.")
    known = {
        "bsky.app": "Bluesky",
        "facebook.com": "Facebook",
        "instagram.com": "Instagram",
        "threads.net": "Threads",
        "tiktok.com": "TikTok",
        "youtube.com": "YouTube",
        "x.com": "X",
        "twitter.com": "X",
        "linkedin.com": "LinkedIn",
        "t.me": "Telegram",
        "github.com": "GitHub",
    }
    return known.get(host, host)


def _picture(item: MediaItem | None, preset: str) -> Picture | None:
    found = image_file(item, preset)
    if item is None or found is None:
        return None
    alt = "" if item.is_decorative else item.alt_text
    return Picture(found.url, found.width, found.height, found.mime_type, alt)


def _logo(item: MediaItem | None) -> Picture | None:
    """The logo at twice the width the header gives it (sharp on dense screens), as a path."""
    if item is None or not item.is_image:
        return None
    rendition = best_rendition(item, "w640")
    if rendition is not None and rendition.width <= (item.width or 0):
        return Picture(rendition.url, rendition.width, rendition.height, "")
    return Picture(item.url, item.width or 0, item.height or 0, item.mime_type)


def _icons(item: MediaItem | None) -> dict[str, str]:
    if item is None:
        return {str(size): static(DEFAULT_ICON.format(size=size)) for size in ICON_SIZES}
    made = {
        rendition.width: rendition.url
        for rendition in Rendition.objects.filter(
            item=item, preset__startswith="icon-", format="png", source_hash=item.content_hash
        )
    }
    # An icon replaced in the library since it was chosen has no sizes until saved again: the
    # new original stands in (browsers scale it).
    return {str(size): made.get(size) or item.url for size in ICON_SIZES}


def read_site() -> Site:
    """The settings as stored, or as the environment gives them before the first save."""
    row = (
        SiteSettings.objects.select_related("logo", "icon", "share_image")
        .filter(pk=SITE_SETTINGS_ID)
        .first()
    ) or SiteSettings.from_environment()
    share_image = _picture(row.share_image, "social")
    if share_image is None and settings.SOCIAL_IMAGE_DEFAULT_URL:
        share_image = Picture(
            absolute_url(settings.SOCIAL_IMAGE_DEFAULT_URL), alt=settings.SOCIAL_IMAGE_DEFAULT_ALT
        )
    logo = _logo(row.logo)
    if logo is not None and row.logo is not None:
        logo = Picture(logo.url, logo.width, logo.height, logo.mime_type, row.name)
    return Site(
        name=row.name,
        tagline=row.tagline,
        organisation_name=row.organisation_name or row.name,
        postal_address=row.postal_address,
        footer_text=row.footer_text,
        accent=css_colour(row.accent_colour, DEFAULT_ACCENT),
        accent_dark=css_colour(row.accent_colour_dark, DEFAULT_ACCENT_DARK),
        fediverse_url=row.fediverse_url,
        extra_stylesheet=row.extra_stylesheet,
        legal_name=row.legal_name or row.organisation_name or row.name,
        tax_id=row.tax_id,
        deductibility_statement=row.deductibility_statement,
        fiscal_sponsor=row.fiscal_sponsor,
        online_giving_paused=row.online_giving_paused,
        bank_transfer_details=row.bank_transfer_details,
        other_ways_to_give=row.other_ways_to_give,
        logo=logo,
        share_image=share_image,
        icons=_icons(row.icon),
        social_links=tuple(SocialLink(url, _label(url)) for url in row.social_link_list),
    )


_site: ContentMemo[Site] = ContentMemo(max_entries=1)


def last_known_site_name() -> str:
    """The site's name as this process last served it, else the environment's (SITE_NAME):
    for a page drawn while the database is away (the 503 page), which cannot read it."""
    kept = _site.peek("site")
    return kept.name if kept is not None else settings.SITE_NAME


def current_site() -> Site:
    """The site settings, read once per content generation while serving public pages."""
    return _site.get_or_set("site", read_site)


def current_site_name() -> str:
    """The site's name alone. While public pages are served it comes with the kept settings;
    elsewhere (the admin's header and title, four times a page) it is one column read, not
    the whole settings with their images (which were a tenth of an admin changelist)."""
    if serving_generation():
        return current_site().name
    name = SiteSettings.objects.filter(pk=SITE_SETTINGS_ID).values_list("name", flat=True).first()
    return name if name is not None else SiteSettings.from_environment().name


def publisher_data(site: Site) -> dict[str, object]:
    """The outlet as schema.org structured data: the publisher of every article, and the
    organisation on every page. Its logo is the site logo, else the 512 px icon."""
    logo = site.logo
    if logo is not None:
        logo_data: dict[str, object] = {"@type": "ImageObject", "url": absolute_url(logo.url)}
        if logo.width:
            logo_data.update(width=logo.width, height=logo.height)
    else:
        logo_data = {
            "@type": "ImageObject",
            "url": site.large_icon_url,
            "width": 512,
            "height": 512,
        }
    data: dict[str, object] = {
        "@type": "NewsMediaOrganization",
        "name": site.organisation_name,
        "url": settings.SITE_URL + "/",
        "logo": logo_data,
    }
    same_as = [link.url for link in site.social_links]
    if site.fediverse_url:
        same_as.append(site.fediverse_url)
    if same_as:
        data["sameAs"] = same_as
    if site.postal_address:
        data["address"] = {
            "@type": "PostalAddress",
            "streetAddress": ", ".join(
                line.strip() for line in site.postal_address.splitlines() if line.strip()
            ),
        }
    return data


def email_context() -> dict[str, str]:
    """What every email says of the outlet (lib.email's base context)."""
    site = current_site()
    return {
        "SITE_NAME": site.name,
        "ORGANIZATION_NAME": site.organisation_name,
        "ORGANIZATION_ADDRESS": site.postal_address,
    }
