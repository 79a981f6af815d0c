"""A related-record filter for long lists (300 topics, every author) drawn as one <select>.

Django's related filter draws a link per choice, each with its own query string worked out
from the page's parameters: at 300 topics and their authors that was a third of the article
list's render (bench/search.py times the admin's search). A select sends the same parameter
with a plain GET form, the page's other parameters kept as hidden fields, and needs no script.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.http import HttpRequest


class SelectRelatedFilter(admin.RelatedFieldListFilter):
    """For related records named by their `name` (topics, authors)."""

    template = "admin/publishing/select_filter.html"

    def field_choices(
        self, field: Any, request: HttpRequest, model_admin: admin.ModelAdmin
    ) -> list[tuple[Any, str]]:
        # Their ids and names only: Django builds each record (300 topics, every author) to
        # ask its str(), which is its name.
        ordering = self.field_admin_ordering(field, request, model_admin) or ("name",)
        related = field.remote_field.model._default_manager
        return list(related.order_by(*ordering).values_list("pk", "name"))

    # Each choice carries its value for the select, not a query string of its own: that
    # string, worked out per choice, is the cost this filter avoids.
    def choices(self, changelist: ChangeList) -> Iterator[dict[str, Any]]:  # type: ignore[override]
        # The page's other parameters, kept when the form is sent (its page number is not:
        # a new filter starts at the first page).
        self.kept_parameters = [
            (name, value)
            for name, values in changelist.params.items()
            if name not in (self.lookup_kwarg, self.lookup_kwarg_isnull, "p")
            for value in (values if isinstance(values, list) else [values])
        ]
        chosen = {str(value) for value in (self.lookup_val or [])}
        for pk, label in self.lookup_choices:
            yield {"value": str(pk), "display": label, "selected": str(pk) in chosen}
