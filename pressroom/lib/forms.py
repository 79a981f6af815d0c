"""Form fields that keep numbers from outside within what the database can compare.

A model choice field hands whatever was posted to the database: `topics=99999999999999999999`
overflows SQLite's 64-bit integers (OverflowError, a 500) before any "not one of the choices"
message can be shown. These fields refuse such ids as invalid choices first.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

# The largest id a 64-bit signed integer column holds (SQLite and PostgreSQL bigint).
MAX_ID = 2**63 - 1


def is_database_id(value: object) -> bool:
    """`value` reads as a whole number from 1 to MAX_ID (an int, or its decimal digits)."""
    text = str(value).strip()
    return text.isascii() and text.isdigit() and len(text) <= 19 and 0 < int(text) <= MAX_ID


class BoundedModelChoiceField(forms.ModelChoiceField):
    def to_python(self, value: Any) -> Any:
        if value not in self.empty_values and not is_database_id(value):
            raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")
        return super().to_python(value)


class BoundedModelMultipleChoiceField(forms.ModelMultipleChoiceField):
    def _check_values(self, value: Iterable[Any]) -> Any:
        for pk in value:
            if not is_database_id(pk):
                raise ValidationError(
                    self.error_messages["invalid_choice"],
                    code="invalid_choice",
                    params={"value": str(pk)[:40]},
                )
        return super()._check_values(value)  # type: ignore[misc]  # not in django-stubs
