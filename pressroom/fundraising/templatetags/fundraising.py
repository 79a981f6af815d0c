"""Campaign blocks for pages and emails.

Contract used by other apps:
- `{% campaign_banner %}` in the campaign_banner block of pressroom/templates/base.html (every public page);
- `{% campaign_email_block "html" %}` / `{% campaign_email_block "text" %}` in the digest email.
Both render nothing when no campaign is running. Neither varies per visitor, so pages that carry
them stay cacheable; dismissing the banner happens in the reader's browser (banner.js).
"""

from django import template
from django.conf import settings
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

from pressroom.fundraising.banner import current_campaign_banner

register = template.Library()


@register.simple_tag(takes_context=True)
def campaign_banner(context: template.Context) -> SafeString:
    banner = current_campaign_banner()
    if banner is None:
        return mark_safe("")
    return mark_safe(banner.page_html)


@register.simple_tag(takes_context=True)
def campaign_email_block(context: template.Context, format: str = "html") -> SafeString:
    banner = current_campaign_banner()
    if banner is None:
        return mark_safe("")
    name = "fundraising/_email_block.txt" if format == "text" else "fundraising/_email_block.html"
    rendered = render_to_string(name, {"banner": banner, "SITE_URL": settings.SITE_URL})
    # Plain-text parts are rendered without autoescaping by lib/email; keep ours plain too.
    return mark_safe(rendered)


@register.filter
def money(amount: object, currency: str) -> str:
    """{{ donation.amount|money:donation.currency }} -> '$25', '¥2,500', '€12.50'."""
    from decimal import Decimal

    from pressroom.fundraising.money import format_amount

    if amount is None or amount == "":
        return ""
    return format_amount(Decimal(str(amount)), str(currency))


@register.filter
def money_exact(amount: object, currency: str) -> str:
    """{{ donation.amount|money_exact:donation.currency }} -> '$25.00', '¥2,500', '€12.50'."""
    from decimal import Decimal

    from pressroom.fundraising.money import format_amount

    if amount is None or amount == "":
        return ""
    return format_amount(Decimal(str(amount)), str(currency), exact=True)
