"""Campaign blocks for pages and emails.

Contract used by other apps:
- `{% campaign_banner %}` in front/base.html's campaign_banner block (every public page);
- `{% campaign_email_block "html" %}` / `{% campaign_email_block "text" %}` in the digest email.
Both render nothing when no campaign is running.
"""

from django import template
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


@register.simple_tag(takes_context=True)
def campaign_banner(context: template.Context) -> SafeString:
    return mark_safe("")


@register.simple_tag(takes_context=True)
def campaign_email_block(context: template.Context, format: str = "html") -> SafeString:  # noqa: A002
    return mark_safe("")
