from django.contrib import admin
from django.http import HttpRequest

from pressroom.importers.models import ImportedItem


@admin.register(ImportedItem)
class ImportedItemAdmin(admin.ModelAdmin):
    """What each import brought in, for looking up; the import command is the only writer
    (deleting a record here would make the next run create a duplicate)."""

    list_display = [
        "external_id",
        "kind",
        "source_site",
        "article",
        "topic",
        "author",
        "updated_at",
    ]
    list_filter = ["kind", "source_site"]
    search_fields = ["external_id", "article__title", "topic__name", "author__name"]
    list_select_related = ["article", "topic", "author"]
    date_hierarchy = "updated_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
