"""The site settings form: every value from outside bounded and checked before anything is
stored (colours' contrast, links, the stylesheet's address, uploaded images)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

from pressroom.media import processing
from pressroom.media.models import MediaError, MediaItem
from pressroom.site.models import SiteSettings

MB = 1024 * 1024
# What each image upload may weigh: a logo or an icon is small, and every page shows the logo.
UPLOAD_LIMITS = {"logo_upload": 2 * MB, "icon_upload": 2 * MB, "share_image_upload": 8 * MB}
MINIMUM_ICON_SIZE = 512
# The header shows the logo at most 20rem wide and 3rem tall (front/site.css): wider than 10:1
# it would be a hairline (a 16000×10 logo showed 0.2 px tall), taller than 1:2 a sliver.
LOGO_MAX_WIDTH_PER_HEIGHT = 10
LOGO_MAX_HEIGHT_PER_WIDTH = 2
LOGO_MIN_SIDE = 32
LOGO_MAX_SIDE = 5000


def check_logo_shape(width: int | None, height: int | None) -> None:
    """A logo readable in the header: ValidationError saying what is wrong otherwise."""
    width, height = width or 0, height or 0
    shape = f"this image is {width}×{height}"
    if min(width, height) < LOGO_MIN_SIDE:
        raise forms.ValidationError(
            f"The logo must be at least {LOGO_MIN_SIDE} pixels on each side; {shape}."
        )
    if max(width, height) > LOGO_MAX_SIDE:
        raise forms.ValidationError(
            f"The logo must be at most {LOGO_MAX_SIDE} pixels on each side; {shape}."
        )
    if width > LOGO_MAX_WIDTH_PER_HEIGHT * height or height > LOGO_MAX_HEIGHT_PER_WIDTH * width:
        raise forms.ValidationError(
            f"The logo must be at most {LOGO_MAX_WIDTH_PER_HEIGHT} times as wide as it is tall "
            f"and at most {LOGO_MAX_HEIGHT_PER_WIDTH} times as tall as it is wide, or it shows "
            f"as a sliver in the header; {shape}."
        )


def _check_icon_shape(width: int | None, height: int | None) -> None:
    if not width or width != height or width < MINIMUM_ICON_SIZE:
        raise forms.ValidationError(
            f"The icon must be square and at least {MINIMUM_ICON_SIZE}×{MINIMUM_ICON_SIZE} "
            f"pixels; this image is {width or 0}×{height or 0}."
        )


# Which permission changes which fields (SiteSettings.Meta.permissions says why); a field
# the person may not change is disabled: shown, and whatever is posted for it ignored.
FIELD_PERMISSIONS = {
    "site.change_theme": (
        "name",
        "tagline",
        "logo",
        "logo_upload",
        "icon",
        "icon_upload",
        "share_image",
        "share_image_upload",
        "accent_colour",
        "accent_colour_dark",
        "social_links",
        "fediverse_url",
    ),
    "site.change_organisation": (
        "organisation_name",
        "postal_address",
        "legal_name",
        "tax_id",
        "deductibility_statement",
        "fiscal_sponsor",
        "online_giving_paused",
        "bank_transfer_details",
        "other_ways_to_give",
    ),
    "site.change_page_code": ("footer_text", "extra_stylesheet"),
}
WHO_MAY = {
    "site.change_theme": "editors",
    "site.change_organisation": "administrators and the Fundraising role",
    "site.change_page_code": "administrators",
}


def locked_fields(user: Any) -> dict[str, str]:
    """Field -> who may change it, for each field `user` may not change."""
    return {
        field: WHO_MAY[permission]
        for permission, fields in FIELD_PERMISSIONS.items()
        if not user.has_perm(permission)
        for field in fields
    }


class SiteSettingsForm(forms.ModelForm):
    # Set by the admin for the person editing (locked_fields), and, when the media library
    # refused an upload on save, its reason (the form is shown again with it).
    locked: dict[str, str] = {}
    refused_on_save = ""

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
            "online_giving_paused",
            "bank_transfer_details",
            "other_ways_to_give",
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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, who in self.locked.items():
            if name in self.fields:
                field = self.fields[name]
                field.disabled = True
                field.help_text = f"Only {who} may change this."

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.refused_on_save:
            raise forms.ValidationError(self.refused_on_save)
        return cleaned

    def _image_upload(self, field: str) -> UploadedFile | None:
        upload: UploadedFile | None = self.cleaned_data.get(field)
        if not upload:
            return None
        # The field's own limit, or the library's when an operator set it lower.
        limit = min(UPLOAD_LIMITS[field], settings.MEDIA_MAX_UPLOAD_BYTES)
        size = upload.size or 0
        if size > limit:
            raise forms.ValidationError(
                f"“{processing.sanitize_name(upload.name or '')}” is "
                f"{processing.human_size(size)}; the limit is {processing.human_size(limit)}."
            )
        upload.seek(0)
        data = upload.read(limit + 1)
        upload.seek(0)
        if processing.SVG_START.search(data[:512]):
            raise forms.ValidationError("SVG files are not accepted; export PNG or WebP.")
        try:
            # What the media library checks before it stores anything: what it would refuse
            # on save is refused here, with the other fields' edits still in the form.
            prepared = processing.prepare_upload(data, upload.name or "")
        except MediaError as error:
            raise forms.ValidationError(str(error)) from None
        if prepared.kind != MediaItem.Kind.IMAGE:
            raise forms.ValidationError("This file is not an image; use PNG, WebP or JPEG.")
        self._upload_sizes[field] = (prepared.width or 0, prepared.height or 0)
        return upload

    def full_clean(self) -> None:
        self._upload_sizes: dict[str, tuple[int, int]] = {}
        super().full_clean()

    def clean_logo_upload(self) -> UploadedFile | None:
        upload = self._image_upload("logo_upload")
        if upload is not None:
            check_logo_shape(*self._upload_sizes["logo_upload"])
        return upload

    def clean_logo(self) -> MediaItem | None:
        logo: MediaItem | None = self.cleaned_data.get("logo")
        # Checked when chosen: a logo saved before these bounds does not block other edits.
        if logo is not None and "logo" in self.changed_data and not self.files.get("logo_upload"):
            check_logo_shape(logo.width, logo.height)
        return logo

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
