"""What each import brought in, so a re-run updates in place instead of duplicating."""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class ImportedItem(models.Model):
    """One thing from an outside source (a WordPress post, page, author, category, tag or attachment)
    and the Pressroom row it became. Keyed by the source site and the id the source gave it."""

    class Kind(models.TextChoices):
        POST = "post", "Post"
        AUTHOR = "author", "Author"
        CATEGORY = "category", "Category"
        TAG = "tag", "Tag"
        ATTACHMENT = "attachment", "Attachment"
        PAGE = "page", "Page"

    source_site = models.CharField(max_length=500, help_text="e.g. https://oldblog.example.org")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    external_id = models.CharField(
        max_length=255, help_text="The source's post id, author login or term slug."
    )
    article = models.ForeignKey(
        "publishing.Article", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    topic = models.ForeignKey(
        "publishing.Topic", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    author = models.ForeignKey(
        "publishing.Author", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    media_item = models.ForeignKey(
        "media.MediaItem", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    page = models.ForeignKey(
        "publishing.Page", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # A digest of what the source said last time: an unchanged item is not written again.
    fingerprint = models.CharField(max_length=64, blank=True)
    imported_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["source_site", "kind", "external_id"], name="imported_item_unique"
            ),
            models.CheckConstraint(
                condition=Q(kind="post", article__isnull=False)
                | Q(kind="author", author__isnull=False)
                | Q(kind__in=["category", "tag"], topic__isnull=False)
                | Q(kind="attachment", media_item__isnull=False)
                | Q(kind="page", page__isnull=False),
                name="imported_item_has_target",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source_site} {self.kind} {self.external_id}"
