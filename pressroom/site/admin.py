from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import ForeignKey
from django.forms import ModelChoiceField
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from pressroom.lib.forms import BoundedModelChoiceField
from pressroom.media.models import MediaError, MediaItem
from pressroom.site.forms import SiteSettingsForm
from pressroom.site.models import SITE_SETTINGS_ID, SiteSettings
from pressroom.site.services import save_site_settings


@admin.register(SiteSettings)
class SiteSettingsAdmin(admin.ModelAdmin):
    """One row: the list goes straight to it, and it can be neither added nor deleted. Until
    it is first saved, the form shows the environment's values (SITE_NAME, ...)."""

    form = SiteSettingsForm
    raw_id_fields = ["logo", "icon", "share_image"]
    fieldsets = [
        (None, {"fields": ["name", "tagline", "organisation_name", "postal_address"]}),
        (
            "Images",
            {
                "fields": [
                    ("logo", "logo_upload"),
                    ("icon", "icon_upload"),
                    ("share_image", "share_image_upload"),
                ],
                "description": "Choose an image already in the media library by its number, "
                "or upload one (it is added to the library).",
            },
        ),
        ("Colours", {"fields": ["accent_colour", "accent_colour_dark"]}),
        ("Footer and links", {"fields": ["footer_text", "social_links", "fediverse_url"]}),
        (
            "Donation receipts",
            {
                "fields": ["legal_name", "tax_id", "deductibility_statement", "fiscal_sponsor"],
                "description": "Printed on every donation receipt and year-end statement.",
            },
        ),
        ("Advanced", {"fields": ["extra_stylesheet"], "classes": ["collapse"]}),
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        if not self.has_view_or_change_permission(request):
            return super().changelist_view(request, extra_context)  # refuses as usual
        return HttpResponseRedirect(
            reverse("admin:site_sitesettings_change", args=[SITE_SETTINGS_ID])
        )

    def get_object(self, request: HttpRequest, object_id: str, from_field: Any = None) -> Any:
        if str(object_id) != str(SITE_SETTINGS_ID):
            return None
        return SiteSettings.objects.filter(pk=SITE_SETTINGS_ID).first() or (
            SiteSettings.from_environment()
        )

    def formfield_for_foreignkey(
        self, db_field: ForeignKey, request: HttpRequest, **kwargs: Any
    ) -> ModelChoiceField | None:
        # Posted ids are bounded (no overflow on SQLite) and only images can be chosen.
        kwargs["form_class"] = BoundedModelChoiceField
        kwargs["queryset"] = MediaItem.objects.images()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(
        self, request: HttpRequest, obj: SiteSettings, form: SiteSettingsForm, change: bool
    ) -> None:
        try:
            save_site_settings(obj, uploads=form.uploads(), created_by=request.user)
        except MediaError as error:
            # Checked by the form already; a file the library still refuses is said, not a 500.
            messages.error(request, str(error))
