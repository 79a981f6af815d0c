"""The reader's search form: words, filters and order, each bounded and checked."""

from __future__ import annotations

from datetime import date
from html import escape
from typing import Any

from django import forms
from django.utils.safestring import SafeString, mark_safe

from pressroom.lib.pagecache import ContentMemo
from pressroom.publishing.models import Author, Topic
from pressroom.search.backends import Search

MAX_QUERY = 200
# Dates a newsroom's archive can hold; anything outside is a typing slip, told as such.
EARLIEST, LATEST = date(1800, 1, 1), date(2200, 12, 31)
RELEVANCE, NEWEST = "relevance", "newest"

# The topic and author lists' <option>s, by field name.
_options: ContentMemo[str] = ContentMemo(max_entries=2)


class SearchForm(forms.Form):
    q = forms.CharField(label="Search articles", max_length=MAX_QUERY, required=False)
    topic = forms.ModelChoiceField(
        queryset=Topic.objects.order_by("name"),
        to_field_name="slug",
        required=False,
        empty_label="Any topic",
        error_messages={"invalid_choice": "There is no such topic."},
    )
    author = forms.ModelChoiceField(
        queryset=Author.objects.order_by("name"),
        to_field_name="slug",
        required=False,
        empty_label="Any author",
        error_messages={"invalid_choice": "There is no such author."},
    )
    date_from = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label="To", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    sort = forms.ChoiceField(
        label="Sort by",
        choices=[(RELEVANCE, "Best match"), (NEWEST, "Newest first")],
        required=False,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The id the template's labels point at, and the field's own element id.
        self.fields["q"].widget.attrs.update(
            {"id": "search-query", "type": "search", "enterkeyhint": "search"}
        )

    def clean_q(self) -> str:
        # Stripped of NUL and other control characters, which no database's text search reads.
        return "".join(c for c in self.cleaned_data["q"] if c.isprintable() or c == " ").strip()

    def _clean_day(self, name: str) -> date | None:
        day: date | None = self.cleaned_data.get(name)
        if day is not None and not EARLIEST <= day <= LATEST:
            raise forms.ValidationError(f"Enter a date between {EARLIEST.year} and {LATEST.year}.")
        return day

    def clean_date_from(self) -> date | None:
        return self._clean_day("date_from")

    def clean_date_to(self) -> date | None:
        return self._clean_day("date_to")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "The end date comes before the start date.")
        return cleaned

    def options(self, name: str) -> SafeString:
        """The <option>s of the topic or author list, the chosen one selected: built in one
        pass (Django's widget templates take tens of milliseconds for 300 topics), and kept
        per content generation while pages are served (a renamed topic moves it on)."""
        field = self.fields[name]
        listed = _options.get_or_set(
            name,
            lambda: "".join(
                f'<option value="{escape(slug)}">{escape(label)}</option>'
                for slug, label in field.queryset.values_list("slug", "name")  # type: ignore[attr-defined]
            ),
        )
        chosen = str(self.data.get(name, "")) if self.is_bound else ""
        if chosen:
            option = f'<option value="{escape(chosen)}">'
            listed = listed.replace(option, option[:-1] + " selected>", 1)
        return mark_safe(listed)  # every value escaped above

    @property
    def topic_options(self) -> SafeString:
        return self.options("topic")

    @property
    def author_options(self) -> SafeString:
        return self.options("author")

    @property
    def has_filters(self) -> bool:
        data = getattr(self, "cleaned_data", {})
        return any(data.get(name) for name in ("topic", "author", "date_from", "date_to"))

    def search(self) -> Search:
        """The search a valid form asks for."""
        data = self.cleaned_data
        return Search(
            text=data["q"],
            topic_id=data["topic"].pk if data.get("topic") else None,
            author_id=data["author"].pk if data.get("author") else None,
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
            newest_first=data.get("sort") == NEWEST,
        )
