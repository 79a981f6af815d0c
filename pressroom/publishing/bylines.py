"""The admin's byline picker: authors in the order the editor puts them, not alphabetically.

A multiple select submits its chosen options in the order of the page, and Django's
FilteredSelectMultiple keeps that box sorted by name, so "Tomás Mensah, Ana Quispe" was saved as
"Ana Quispe, Tomás Mensah". Here each chosen author is a hidden input in a list the editor
reorders (up and down buttons, static/publishing/bylines.js); the field keeps the submitted order.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from pressroom.publishing.models import Author

MAX_BYLINES = 20


class BylinePicker(forms.SelectMultiple):
    template_name = "publishing/widgets/byline_picker.html"

    class Media:
        js = ["publishing/bylines.js"]
        css = {"all": ["publishing/bylines.css"]}

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        chosen_ids = [str(pk) for pk in value or [] if str(pk)]
        names = {str(author.pk): author.name for author in self.choices.queryset}  # type: ignore[attr-defined]
        context["widget"]["chosen"] = [(pk, names[pk]) for pk in chosen_ids if pk in names]
        context["widget"]["available"] = list(names.items())
        return context

    def format_value(self, value: Any) -> list[str]:
        # Keep the order (SelectMultiple's would do too, but give strings of pks or objects).
        if value is None:
            return []
        return [str(getattr(item, "pk", item)) for item in value]


class BylineField(forms.ModelMultipleChoiceField):
    """Authors as chosen, in the submitted order, each once."""

    widget = BylinePicker

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(queryset=Author.objects.only("id", "name"), **kwargs)

    def clean(self, value: Iterable[str] | None) -> list[Author]:  # type: ignore[override]
        ordered = list(dict.fromkeys(str(pk).strip() for pk in value or [] if str(pk).strip()))
        if len(ordered) > MAX_BYLINES:
            raise ValidationError(f"At most {MAX_BYLINES} authors on one byline.")
        if bad := next(
            (pk for pk in ordered if not (pk.isascii() and pk.isdigit()) or len(pk) > 18), None
        ):
            # Before the database sees it: a 40-digit id overflows SQLite's integers.
            raise ValidationError(
                self.error_messages["invalid_pk_value"],
                code="invalid_pk_value",
                params={"pk": bad[:20]},
            )
        if not ordered:
            if self.required:
                raise ValidationError(self.error_messages["required"], code="required")
            return []
        found = {str(author.pk): author for author in super().clean(ordered)}
        return [found[pk] for pk in ordered]
