"""Forms of the media library's admin: several uploads at once, and an item's details."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings

from pressroom.media import processing
from pressroom.media.models import MediaError, MediaItem

ACCEPT = (
    "image/jpeg,image/png,image/gif,image/webp,image/avif,image/heic,image/heif,.heic,.heif,"
    "application/pdf,audio/*,video/mp4,video/webm"
)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Django's documented way to take several files from one input."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault(
            "widget", MultipleFileInput(attrs={"accept": ACCEPT, "class": "media-upload-input"})
        )
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        single = super().clean
        files = data if isinstance(data, list | tuple) else [data]
        return [single(file, initial) for file in files if file] or [single(None, initial)]


class UploadForm(forms.Form):
    uploads = MultipleFileField(
        label="Files",
        help_text=(
            "Drop images, PDFs, audio or video here, or choose them. "
            f"At most {processing.human_size(settings.MEDIA_MAX_UPLOAD_BYTES)} each; "
            "location and camera data are removed from photos."
        ),
    )
    max_files = 50

    def clean_uploads(self) -> list[Any]:
        files = self.cleaned_data["uploads"]
        if len(files) > self.max_files:
            raise forms.ValidationError(f"Upload at most {self.max_files} files at once.")
        return files


class MediaItemForm(forms.ModelForm):
    replace_with = forms.FileField(
        label="Replace the file",
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": ACCEPT}),
        help_text="Every article using this item keeps it, with the new file.",
    )

    class Meta:
        model = MediaItem
        fields = [
            "original_name",
            "alt_text",
            "is_decorative",
            "caption",
            "credit",
            "copyright",
            "licence",
            "focal_x",
            "focal_y",
        ]
        widgets = {
            "focal_x": forms.NumberInput(attrs={"step": "0.01", "min": 0, "max": 1}),
            "focal_y": forms.NumberInput(attrs={"step": "0.01", "min": 0, "max": 1}),
            "caption": forms.Textarea(attrs={"rows": 3}),
        }
        help_texts = {
            "focal_x": "0 = left edge, 1 = right edge. Click the image to set the focal point.",
            "focal_y": "0 = top, 1 = bottom. Crops (social card, thumbnails) keep this point.",
        }

    def clean_original_name(self) -> str:
        return processing.sanitize_name(self.cleaned_data["original_name"])

    def clean_replace_with(self) -> Any:
        upload = self.cleaned_data.get("replace_with")
        if not upload:
            return None
        if upload.size > settings.MEDIA_MAX_UPLOAD_BYTES:
            raise forms.ValidationError(processing.too_large_message(upload.name, upload.size))
        data = upload.read()
        try:
            prepared = processing.prepare_upload(data, upload.name)
        except MediaError as error:
            raise forms.ValidationError(str(error)) from None
        if self.instance.pk and prepared.kind != self.instance.kind:
            raise forms.ValidationError(
                f"A {self.instance.get_kind_display().lower()} can only be replaced by another."
            )
        other = (
            MediaItem.objects.filter(content_hash=prepared.content_hash)
            .exclude(pk=self.instance.pk)
            .first()
        )
        if other is not None:  # the service refuses it too; say so here, not with a 500
            raise forms.ValidationError(f"This file is already in the library as “{other}”.")
        upload.seek(0)
        return upload
