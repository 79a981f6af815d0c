"""The media library: items (images and files), their renditions, and where they are used."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import NoReverseMatch, reverse
from django.utils import timezone


def new_key() -> str:
    """The item's stable name in storage: every file of the item lives under it, so a body that
    points at any of its files is recognised as a use, even after the file is replaced."""
    return secrets.token_hex(8)


class MediaError(Exception):
    """A file the library refuses, or a change it cannot make; the message is for people."""


class ItemInUseError(MediaError):
    def __init__(self, item: MediaItem, uses: list[MediaUse]) -> None:
        self.uses = uses
        listed = "; ".join(str(use) for use in uses[:20])
        super().__init__(f"“{item}” is used and cannot be deleted: {listed}")


class Licence(models.TextChoices):
    ALL_RIGHTS_RESERVED = "all-rights-reserved", "All rights reserved"
    WITH_PERMISSION = "with-permission", "Used with permission"
    CC_BY = "cc-by", "CC BY 4.0"
    CC_BY_SA = "cc-by-sa", "CC BY-SA 4.0"
    CC_BY_NC = "cc-by-nc", "CC BY-NC 4.0"
    CC_BY_NC_SA = "cc-by-nc-sa", "CC BY-NC-SA 4.0"
    CC0 = "cc0", "CC0 / public domain"


class MediaItemQuerySet(models.QuerySet["MediaItem"]):
    def images(self) -> MediaItemQuerySet:
        return self.filter(kind=MediaItem.Kind.IMAGE)

    def unused(self) -> MediaItemQuerySet:
        return self.filter(uses__isnull=True)

    def search(self, text: str) -> MediaItemQuerySet:
        query = Q()
        for field in ("original_name", "alt_text", "caption", "credit"):
            query |= Q(**{f"{field}__icontains": text})
        return self.filter(query)

    def lacking_alt_text(self) -> MediaItemQuerySet:
        return self.images().filter(alt_text="", is_decorative=False)


class MediaItem(models.Model):
    class Kind(models.TextChoices):
        IMAGE = "image", "Image"
        DOCUMENT = "document", "Document (PDF)"
        AUDIO = "audio", "Audio"
        VIDEO = "video", "Video"

    key = models.CharField(max_length=16, unique=True, default=new_key, editable=False)
    kind = models.CharField(max_length=10, choices=Kind.choices, editable=False)
    file = models.FileField(max_length=300, editable=False)
    content_hash = models.CharField(
        max_length=64, unique=True, editable=False, help_text="SHA-256 of the uploaded bytes."
    )
    original_name = models.CharField("file name", max_length=255)
    mime_type = models.CharField(max_length=100, editable=False)
    size = models.PositiveBigIntegerField("size in bytes", editable=False)
    width = models.PositiveIntegerField(null=True, editable=False)
    height = models.PositiveIntegerField(null=True, editable=False)
    alt_text = models.CharField(
        max_length=500,
        blank=True,
        help_text="What the image shows, for people who cannot see it. Required to publish.",
    )
    is_decorative = models.BooleanField(
        "decorative",
        default=False,
        help_text="Adds nothing to the text (a texture, an ornament): screen readers skip it.",
    )
    caption = models.TextField(blank=True)
    credit = models.CharField(max_length=300, blank=True, help_text="Photographer or source.")
    copyright = models.CharField(max_length=300, blank=True)
    licence = models.CharField(
        max_length=30, choices=Licence.choices, default=Licence.ALL_RIGHTS_RESERVED
    )
    focal_x = models.FloatField(
        default=0.5, validators=[MinValueValidator(0), MaxValueValidator(1)]
    )
    focal_y = models.FloatField(
        default=0.5, validators=[MinValueValidator(0), MaxValueValidator(1)]
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, editable=False
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = MediaItemQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "media item"
        constraints = [
            models.CheckConstraint(
                condition=Q(focal_x__gte=0, focal_x__lte=1, focal_y__gte=0, focal_y__lte=1),
                name="media_focal_point_inside",
            )
        ]

    def __str__(self) -> str:
        return self.original_name

    @property
    def is_image(self) -> bool:
        return self.kind == self.Kind.IMAGE

    @property
    def url(self) -> str:
        return self.file.url

    @property
    def needs_alt_text(self) -> bool:
        return self.is_image and not self.alt_text.strip() and not self.is_decorative

    def set_focal_point(self, x: float, y: float) -> None:
        if not (0 <= x <= 1 and 0 <= y <= 1):
            raise MediaError("The focal point must lie inside the image (0 to 1 on each axis).")
        self.focal_x, self.focal_y = x, y


class Rendition(models.Model):
    """A resized or cropped copy of an image, made by the task worker."""

    item = models.ForeignKey(MediaItem, on_delete=models.CASCADE, related_name="renditions")
    preset = models.CharField(max_length=30)
    format = models.CharField(max_length=10)
    source_hash = models.CharField(max_length=64)
    file = models.FileField(max_length=300)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    size = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["item", "preset", "format", "source_hash"], name="rendition_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.item_id} {self.preset} {self.format}"

    @property
    def url(self) -> str:
        return self.file.url


class MediaUse(models.Model):
    """Something (an article's lead image, its body, ...) that uses a library item.

    Generic, so that media knows no app above it; publishing records its uses through
    `media.services.record_uses` whenever an article is saved.
    """

    item = models.ForeignKey(MediaItem, on_delete=models.PROTECT, related_name="uses")
    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE)
    object_id = models.PositiveBigIntegerField()
    field = models.CharField(max_length=50)
    label = models.CharField(max_length=300, help_text="What uses it, as people know it.")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["item", "content_type", "object_id", "field"], name="media_use_unique"
            )
        ]
        indexes = [models.Index(fields=["content_type", "object_id"], name="media_use_object")]

    def __str__(self) -> str:
        return f"{self.field} of {self.content_type.name} “{self.label}”"

    def admin_url(self) -> str:
        try:
            return reverse(
                f"admin:{self.content_type.app_label}_{self.content_type.model}_change",
                args=[self.object_id],
            )
        except NoReverseMatch:
            return ""
