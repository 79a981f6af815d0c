"""The site settings form: every value from outside bounded and checked before anything is
stored (colours' contrast, links, the stylesheet's address, uploaded images)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile

from pressroom.media import processing
from pressroom.media.models import MediaError, MediaItem
from pressroom.site.models import SiteSettings

MB = 1024 * 1024
# What each image upload may weigh: a logo or an icon is small, and every page shows the logo.
UPLOAD_LIMITS = {"logo_upload": 2 * MB, "icon_upload": 2 * MB, "share_image_upload": 8 * MB}
MINIMUM_ICON_SIZE = 512


def _check_icon_shape(width: int | None, height: int | None) -> None:
    if not width or width != height or width < MINIMUM_ICON_SIZE:
        raise forms.ValidationError(
            f"The icon must be square and at least {MINIMUM_ICON_SIZE}×{MINIMUM_ICON_SIZE} "
            f"pixels; this image is {width or 0}×{height or 0}."
        )


class SiteSettingsForm(forms.ModelForm):
    logo_upload = forms.FileField(
        label="Upload a logo",
        required=False,
        help_text="PNG, WebP, JPEG or AVIF, at most 2 MB; added to the media library.",
    )
    icon_upload = forms.FileField(
        label="Upload an icon",
        required=False,
        help_text="Square, at least 512×512, at most 2 MB; the favicon and app icons are made from it.",
    )
    share_image_upload = forms.FileField(
        label="Upload a default share image",
        required=False,
        help_text="1200×630 is best; at most 8 MB.",
    )

    class Meta:
        model = SiteSettings
        fields = [
            "name",
            "tagline",
            "logo",
            "icon",
            "share_image",
            "accent_colour",
            "accent_colour_dark",
            "footer_text",
            "social_links",
            "fediverse_url",
            "organisation_name",
            "postal_address",
            "legal_name",
            "tax_id",
            "deductibility_statement",
            "fiscal_sponsor",
            "extra_stylesheet",
        ]
        widgets = {
            "accent_colour": forms.TextInput(attrs={"size": 8, "pattern": "#[0-9a-fA-F]{3,6}"}),
            "accent_colour_dark": forms.TextInput(
                attrs={"size": 8, "pattern": "#[0-9a-fA-F]{3,6}"}
            ),
            "footer_text": forms.Textarea(attrs={"rows": 3}),
            "social_links": forms.Textarea(attrs={"rows": 4}),
            "postal_address": forms.Textarea(attrs={"rows": 3}),
        }

    def _image_upload(self, field: str) -> UploadedFile | None:
        upload: UploadedFile | None = self.cleaned_data.get(field)
        if not upload:
            return None
        limit = UPLOAD_LIMITS[field]
        size = upload.size or 0
        if size > limit:
            raise forms.ValidationError(
                f"“{processing.sanitize_name(upload.name or '')}” is "
                f"{processing.human_size(size)}; the limit is {processing.human_size(limit)}."
            )
        upload.seek(0)
        data = upload.read(limit + 1)
        upload.seek(0)
        try:
            image = processing.open_image(data)
        except MediaError as error:
            raise forms.ValidationError(str(error)) from None
        if processing.SVG_START.search(data[:512]):  # pragma: no cover - Pillow refuses SVG
            raise forms.ValidationError("SVG files are not accepted; export PNG or WebP.")
        self._upload_sizes[field] = image.size
        return upload

    def full_clean(self) -> None:
        self._upload_sizes: dict[str, tuple[int, int]] = {}
        super().full_clean()

    def clean_logo_upload(self) -> UploadedFile | None:
        return self._image_upload("logo_upload")

    def clean_share_image_upload(self) -> UploadedFile | None:
        return self._image_upload("share_image_upload")

    def clean_icon_upload(self) -> UploadedFile | None:
        upload = self._image_upload("icon_upload")
        if upload is not None:
            _check_icon_shape(*self._upload_sizes["icon_upload"])
        return upload

    def clean_icon(self) -> MediaItem | None:
        icon: MediaItem | None = self.cleaned_data.get("icon")
        if icon is not None and not self.files.get("icon_upload"):
            _check_icon_shape(icon.width, icon.height)
        return icon

    def clean_extra_stylesheet(self) -> str:
        return (self.cleaned_data.get("extra_stylesheet") or "").strip()

    def uploads(self) -> dict[str, Any]:
        """Model field -> uploaded file, for the service."""
        return {
            field.removesuffix("_upload"): self.cleaned_data[field]
            for field in UPLOAD_LIMITS
            if self.cleaned_data.get(field)
        }
