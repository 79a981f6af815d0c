from __future__ import annotations

from dataclasses import dataclass, field

from django import forms
from django.core.exceptions import ValidationError
from django.forms.boundfield import BoundField, BoundWidget

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


# A group of topic choices on /digest/ is folded at about this many (letters stay together).
TOPIC_GROUP_SIZE = 20


@dataclass
class TopicGroup:
    name: str
    choices: list[BoundWidget] = field(default_factory=list)

    @property
    def has_selected(self) -> bool:
        return any(choice.data["selected"] for choice in self.choices)


def topic_groups(bound_field: BoundField) -> list[TopicGroup]:
    """The topic checkboxes of a signup form in groups a reader can fold: the featured topics
    first, then the others by first letter ("A–D", "E–K"...), about TOPIC_GROUP_SIZE each."""
    featured = TopicGroup("Featured topics")
    letters: list[tuple[str, list[BoundWidget]]] = []
    for choice in bound_field:
        topic = choice.data["value"].instance
        if topic.is_featured:
            featured.choices.append(choice)
            continue
        letter = (topic.name[:1] or "#").upper()
        letter = letter if letter.isalpha() else "#"
        if letters and letters[-1][0] == letter:
            letters[-1][1].append(choice)
        else:
            letters.append((letter, [choice]))
    groups = [featured] if featured.choices else []
    current: list[tuple[str, list[BoundWidget]]] = []
    for letter, choices in letters:
        current.append((letter, choices))
        if sum(len(part) for _, part in current) >= TOPIC_GROUP_SIZE:
            groups.append(_letters_group(current))
            current = []
    if current:
        groups.append(_letters_group(current))
    if len(groups) == 1 and not featured.choices:
        groups[0].name = "Topics"
    return groups


def _letters_group(parts: list[tuple[str, list[BoundWidget]]]) -> TopicGroup:
    first, last = parts[0][0], parts[-1][0]
    name = f"Topics {first}" if first == last else f"Topics {first}–{last}"
    return TopicGroup(name, [choice for _, choices in parts for choice in choices])
