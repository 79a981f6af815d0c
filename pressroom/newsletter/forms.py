from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from pressroom.lib.forms import BoundedModelMultipleChoiceField
from pressroom.newsletter.services import normalize_email
from pressroom.publishing.models import Topic


class SignupForm(forms.Form):
    email = forms.CharField(label="Email address", max_length=254)
    topics = BoundedModelMultipleChoiceField(
        queryset=Topic.objects.order_by("name"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Leave empty to get every article.",
    )
    # A field people never see and bots fill in.
    website = forms.CharField(required=False, label="Leave this empty")

    def clean_email(self) -> str:
        return normalize_email(self.cleaned_data["email"])

    @property
    def is_bot(self) -> bool:
        return bool(self.data.get("website"))


class PreferencesForm(forms.Form):
    ALL, CHOSEN = "all", "chosen"
    selection = forms.ChoiceField(
        label="What to receive",
        choices=[(ALL, "Every article"), (CHOSEN, "Only the topics I choose")],
        widget=forms.RadioSelect,
    )
    topics = BoundedModelMultipleChoiceField(
        queryset=Topic.objects.order_by("name"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    is_paused = forms.BooleanField(label="Pause the digest for now", required=False)

    def clean(self) -> dict:
        data = super().clean() or {}
        if data.get("selection") == self.CHOSEN and not data.get("topics"):
            raise ValidationError("Choose at least one topic, or choose every article.")
        return data
