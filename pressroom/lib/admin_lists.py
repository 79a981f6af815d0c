"""What the admin's busiest changelists share."""

from __future__ import annotations

from typing import Any

from django.contrib.admin import helpers
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _


class QuickRowCheckboxes:
    """A changelist's row checkboxes written directly, the same markup as Django's: Django
    renders each through the form widget templates, which at a hundred rows (subscribers) or
    fifty (articles) was a tenth of the page (bench/search.py times the admin's searches)."""

    def action_checkbox(self, obj: Any) -> SafeString:
        label = format_html(_("Select this object for an action - {}"), str(obj))
        return format_html(
            '<input type="checkbox" name="{}" value="{}" class="action-select" aria-label="{}">',
            helpers.ACTION_CHECKBOX_NAME,
            str(obj.pk),
            label,
        )
