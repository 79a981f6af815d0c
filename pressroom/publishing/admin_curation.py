"""The editors' admin for the site's shape: the home page's stories and the two menus.

Every save and deletion here changes what readers see on every page (the header and footer) or
on the home page: each announces the change, so cached pages give way at once.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AutocompleteSelect
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest

from pressroom.publishing import services
from pressroom.publishing.curation import MENU_MAX_ITEMS, HomeSlot, Menu, MenuItem

ORDERING_MEDIA = forms.Media(
    js=["publishing/ordering.js"], css={"all": ["publishing/ordering.css"]}
)


class AnnounceChangesMixin:
    """Saves and deletions of these rows change public pages: say so after they commit.
    (save_related follows every save, the change list's editable rows included.)"""

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)  # type: ignore[misc]
        services.announce_change()

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        super().delete_model(request, obj)  # type: ignore[misc]
        services.announce_change()

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        super().delete_queryset(request, queryset)  # type: ignore[misc]
        services.announce_change()


class NamedAutocompleteSelect(AutocompleteSelect):
    """Django's search-as-you-type select, named for screen readers: select2's box takes its
    accessible name from the text it shows (a placeholder when nothing is chosen; an empty one
    left a nameless combobox), and its text field gets one from autocomplete-names.js."""

    def __init__(self, *args: Any, placeholder: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.placeholder = placeholder

    def build_attrs(self, base_attrs: Any, extra_attrs: Any = None) -> dict[str, Any]:
        attrs = super().build_attrs(base_attrs, extra_attrs)
        attrs["data-placeholder"] = self.placeholder
        return attrs

    @property
    def media(self) -> forms.Media:
        return super().media + forms.Media(js=["publishing/autocomplete-names.js"])


class NamedAutocompleteMixin:
    """Autocomplete fields (`autocomplete_placeholders`: field name → placeholder) that
    screen readers can name."""

    autocomplete_placeholders: dict[str, str] = {}

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if placeholder := self.autocomplete_placeholders.get(db_field.name):
            kwargs.setdefault(
                "widget",
                NamedAutocompleteSelect(
                    db_field,
                    self.admin_site,  # type: ignore[attr-defined]
                    using=kwargs.get("using"),
                    placeholder=placeholder,
                ),
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)  # type: ignore[misc]


class HomeSlotRowForm(forms.ModelForm):
    """A row of the change list's editable columns. Its fields sit under column headings, not
    labels: each gets a name that says which story it belongs to."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        title = str(self.instance.article) if self.instance.article_id else ""
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.MultiWidget):  # the date and the time
                for part, subwidget in zip(("date", "time"), widget.widgets, strict=False):
                    subwidget.attrs["aria-label"] = f"{field.label}, {part}: {title}"
            else:
                widget.attrs["aria-label"] = f"{field.label}: {title}"


@admin.register(HomeSlot)
class HomeSlotAdmin(AnnounceChangesMixin, NamedAutocompleteMixin, admin.ModelAdmin):
    list_display = ["article", "placement", "position", "expires_at", "showing"]
    list_editable = ["placement", "position", "expires_at"]
    list_select_related = ["article"]
    autocomplete_fields = ["article"]
    autocomplete_placeholders = {"article": "Type to search articles by title"}
    fields = ["article", "placement", "position", "expires_at"]

    @property
    def media(self) -> forms.Media:
        return super().media + ORDERING_MEDIA

    def get_changelist_form(self, request: HttpRequest, **kwargs: Any) -> type[forms.ModelForm]:
        kwargs.setdefault("form", HomeSlotRowForm)
        return super().get_changelist_form(request, **kwargs)

    @admin.display(description="Readers see it", boolean=True)
    def showing(self, slot: HomeSlot) -> bool:
        return slot.is_showing


class MenuItemFormSet(BaseInlineFormSet):
    """A menu's items, at most MENU_MAX_ITEMS of them (readers' pages show no more)."""

    def clean(self) -> None:
        super().clean()
        kept = [
            form
            for form in self.forms
            if (form.has_changed() or form.instance.pk)
            and not getattr(form, "cleaned_data", {}).get("DELETE")
        ]
        if len(kept) > MENU_MAX_ITEMS:
            raise forms.ValidationError(f"A menu holds at most {MENU_MAX_ITEMS} links.")


class MenuItemInline(NamedAutocompleteMixin, admin.StackedInline):
    model = MenuItem
    formset = MenuItemFormSet
    fields = ["position", "label", "topic", "page", "url"]
    autocomplete_fields = ["topic", "page"]
    autocomplete_placeholders = {"topic": "Type to search topics", "page": "Type to search pages"}
    extra = 1
    max_num = MENU_MAX_ITEMS


@admin.register(Menu)
class MenuAdmin(AnnounceChangesMixin, admin.ModelAdmin):
    list_display = ["__str__", "links"]
    inlines = [MenuItemInline]
    fields = ["location"]

    @property
    def media(self) -> forms.Media:
        return super().media + ORDERING_MEDIA

    def get_readonly_fields(self, request: HttpRequest, obj: Menu | None = None) -> Any:
        return ["location"] if obj is not None else []

    def get_queryset(self, request: HttpRequest) -> QuerySet[Menu]:
        return super().get_queryset(request).prefetch_related("items")

    @admin.display(description="Links")
    def links(self, menu: Menu) -> int:
        return len(menu.items.all())

    def has_add_permission(self, request: HttpRequest) -> bool:
        # The header and the footer exist (a migration makes them); re-create one deleted.
        return super().has_add_permission(request) and Menu.objects.count() < len(Menu.Location)
