"""The media library in the admin: upload several files at once, thumbnails, search, filters,
alt text, focal point, where each item is used."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join

from pressroom.media import services
from pressroom.media.forms import MediaItemForm, UploadForm
from pressroom.media.models import ItemInUseError, MediaError, MediaItem, Rendition
from pressroom.media.processing import sanitize_name
from pressroom.media.rendering import best_rendition


class UsedFilter(admin.SimpleListFilter):
    title = "use"
    parameter_name = "used"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("no", "Unused"), ("yes", "Used")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "no":
            return queryset.filter(uses__isnull=True)
        if self.value() == "yes":
            return queryset.filter(uses__isnull=False).distinct()
        return queryset


class AltTextFilter(admin.SimpleListFilter):
    title = "alt text"
    parameter_name = "alt"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("missing", "Missing (not decorative)")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "missing":
            return queryset.filter(kind=MediaItem.Kind.IMAGE, alt_text="", is_decorative=False)
        return queryset


def thumbnail_url(item: MediaItem) -> str:
    rendition = best_rendition(item, "square-400", "webp") or best_rendition(item, "square-400")
    return rendition.url if rendition else item.url


@admin.register(MediaItem)
class MediaItemAdmin(admin.ModelAdmin):
    form = MediaItemForm
    list_display = [
        "thumbnail",
        "original_name",
        "kind",
        "dimensions",
        "alt_state",
        "credit",
        "licence",
        "use_count",
        "created_at",
    ]
    list_display_links = ["thumbnail", "original_name"]
    list_filter = ["kind", "licence", UsedFilter, AltTextFilter]
    search_fields = ["original_name", "alt_text", "caption", "credit"]
    list_per_page = 60
    readonly_fields = ["preview", "where_used", "file_details"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "preview",
                    "alt_text",
                    "is_decorative",
                    "caption",
                    "credit",
                    "copyright",
                    "licence",
                ]
            },
        ),
        ("Focal point", {"fields": ["focal_x", "focal_y"]}),
        ("File", {"fields": ["original_name", "file_details", "replace_with"]}),
        ("Where used", {"fields": ["where_used"]}),
    ]

    class Media:
        js = ["media/focal-point.js"]
        css = {"all": ["media/admin.css"]}

    # The editor's picker (publishing/editor-blocks.js): library items as JSON, newest first.

    PICKER_KINDS = {MediaItem.Kind.IMAGE, MediaItem.Kind.AUDIO, MediaItem.Kind.VIDEO}
    PICKER_LIMIT = 60

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "choose/",
                self.admin_site.admin_view(self.choose_view),
                name="media_mediaitem_choose",
            ),
            *super().get_urls(),
        ]

    def choose_view(self, request: HttpRequest) -> JsonResponse:
        """Items of one kind for the editor's image, gallery, audio and video blocks."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        kind = request.GET.get("kind", MediaItem.Kind.IMAGE)
        if kind not in self.PICKER_KINDS:
            return JsonResponse({"error": "Choose images, audio or video."}, status=400)
        items = MediaItem.objects.filter(kind=kind).prefetch_related("renditions")
        query = request.GET.get("q", "").strip()[:200]
        if query:
            items = items.search(query)
        return JsonResponse(
            {
                "items": [
                    {
                        "id": item.pk,
                        "name": item.original_name,
                        "url": item.url,
                        "thumbnail": thumbnail_url(item) if item.is_image else "",
                        "mime_type": item.mime_type,
                        "width": item.width,
                        "height": item.height,
                        "alt_text": "" if item.is_decorative else item.alt_text,
                        "caption": item.caption,
                        "credit": item.credit,
                    }
                    for item in items.order_by("-created_at", "-pk")[: self.PICKER_LIMIT]
                ]
            }
        )

    def get_queryset(self, request: HttpRequest) -> QuerySet[MediaItem]:
        return (
            super()
            .get_queryset(request)
            .annotate(use_total=Count("uses", distinct=True))
            .prefetch_related(
                Prefetch(
                    "renditions",
                    queryset=Rendition.objects.only(
                        "id",
                        "item_id",
                        "preset",
                        "format",
                        "file",
                        "width",
                        "height",
                        "source_hash",
                    ),
                )
            )
        )

    @admin.display(description="")
    def thumbnail(self, item: MediaItem) -> str:
        if not item.is_image:
            return format_html('<span class="media-kind">{}</span>', item.get_kind_display())
        return format_html(
            '<img src="{}" alt="" width="80" height="80" loading="lazy" class="media-thumb">',
            thumbnail_url(item),
        )

    @admin.display(description="Size")
    def dimensions(self, item: MediaItem) -> str:
        size = f"{item.size / 1024:.0f} KB"
        return f"{item.width}×{item.height}, {size}" if item.width else size

    @admin.display(description="Alt text", boolean=False)
    def alt_state(self, item: MediaItem) -> str:
        if not item.is_image:
            return ""
        if item.is_decorative:
            return "decorative"
        return "✓" if item.alt_text else "missing"

    @admin.display(description="Uses", ordering="use_total")
    def use_count(self, item: MediaItem) -> int:
        return getattr(item, "use_total", 0)

    @admin.display(description="Image")
    def preview(self, item: MediaItem) -> str:
        if not item.pk:
            return ""
        if not item.is_image:
            return format_html('<a href="{}">{}</a>', item.url, item.original_name)
        rendition = best_rendition(item, "w960", "webp") or best_rendition(item, "w960")
        return format_html(
            '<div class="focal-point-picker" data-x="{}" data-y="{}">'
            '<img src="{}" alt="" width="{}" height="{}" class="focal-point-image">'
            '<span class="focal-point-marker" aria-hidden="true"></span></div>'
            '<p class="help">Click the image to set its focal point.</p>',
            item.focal_x,
            item.focal_y,
            rendition.url if rendition else item.url,
            item.width,
            item.height,
        )

    @admin.display(description="File")
    def file_details(self, item: MediaItem) -> str:
        if not item.pk:
            return ""
        return format_html(
            '{} · {} · {} KB · <a href="{}">open</a>',
            item.get_kind_display(),
            item.mime_type,
            item.size // 1024,
            item.url,
        )

    # What the uploader of an item may change without the library's change permission (a
    # Contributor describing their own upload so their article can be published).
    OWN_UPLOAD_FIELDS = ("alt_text", "is_decorative", "caption", "credit")

    def _changes_own_upload_only(self, request: HttpRequest, obj: Any) -> bool:
        """Not the library's change permission, but this item is the user's own upload."""
        return (
            obj is not None
            and not super().has_change_permission(request, obj)
            and request.user.has_perm("media.add_mediaitem")
            and obj.created_by_id is not None
            and obj.created_by_id == request.user.pk
        )

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_change_permission(request, obj) or self._changes_own_upload_only(
            request, obj
        )

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if not self._lists_uses(request):
            fieldsets = [
                (
                    name,
                    {
                        **options,
                        "fields": [
                            "use_summary" if f == "where_used" else f for f in options["fields"]
                        ],
                    },
                )
                for name, options in fieldsets
            ]
        if not self._changes_own_upload_only(request, obj):
            return fieldsets
        # No replacing the file: an item's file is the library's to change.
        return [
            (name, {**options, "fields": [f for f in options["fields"] if f != "replace_with"]})
            for name, options in fieldsets
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        readonly = [*super().get_readonly_fields(request, obj), "use_summary"]
        if self._changes_own_upload_only(request, obj):
            readonly += [
                name
                for name in MediaItemForm.Meta.fields
                if name not in self.OWN_UPLOAD_FIELDS and name not in readonly
            ]
        return readonly

    @admin.display(description="Used by")
    def use_summary(self, item: MediaItem) -> str:
        """How many places use the item, for someone who may not read every article (a
        Contributor): the titles of others' drafts are not theirs to read."""
        total = item.uses.count() if item.pk else 0
        return f"Used in {total} place(s)." if total else "Not used anywhere."

    def _lists_uses(self, request: HttpRequest) -> bool:
        # Publishing's permission, by name (media imports no publishing code): who may read
        # every article may see which ones use an item.
        return request.user.has_perm("publishing.publish_article")

    @admin.display(description="Used by")
    def where_used(self, item: MediaItem) -> str:
        uses = list(item.uses.select_related("content_type")) if item.pk else []
        if not uses:
            return "Not used anywhere."
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                '<li><a href="{}">{}</a></li>',
                ((use.admin_url() or "#", str(use)) for use in uses),
            ),
        )

    # Adding: several files at once, with drag and drop.

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = UploadForm(request.POST, request.FILES) if request.method == "POST" else UploadForm()
        results: list[tuple[str, str]] = []
        # upload.js sends the files one per request and asks for JSON: each request stays
        # within the proxy's body size and timeout, however many files an editor drops.
        answers_json = request.headers.get("Accept", "").startswith("application/json")
        if request.method == "POST" and form.is_valid():
            added = 0
            for upload in form.cleaned_data["uploads"]:
                try:
                    item, created = services.add_item_from_file(upload, created_by=request.user)
                except MediaError as error:
                    form.add_error("uploads", f"{sanitize_name(upload.name)}: {error}")
                    continue
                added += created
                results.append(
                    (item.original_name, "added" if created else "already in the library")
                )
            if answers_json:
                return self._upload_answer(results, form)
            if added:
                self.message_user(
                    request, f"{added} file(s) added to the library.", messages.SUCCESS
                )
            if not form.errors:
                return HttpResponseRedirect(reverse("admin:media_mediaitem_changelist"))
        if request.method == "POST" and answers_json:
            return self._upload_answer(results, form)
        context = {
            **self.admin_site.each_context(request),
            "title": "Upload to the media library",
            "form": form,
            "results": results,
            "opts": self.model._meta,
            "has_view_permission": True,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/media/mediaitem/upload.html", context)

    @staticmethod
    def _upload_answer(results: list[tuple[str, str]], form: UploadForm) -> JsonResponse:
        errors = [str(error) for errors in form.errors.values() for error in errors]
        return JsonResponse(
            {
                "results": [{"name": name, "state": state} for name, state in results],
                "errors": errors,
            },
            status=400 if errors else 200,
        )

    # Changing and deleting go through the services.

    def save_model(
        self, request: HttpRequest, obj: MediaItem, form: MediaItemForm, change: bool
    ) -> None:
        services.update_item(obj)
        upload = form.cleaned_data.get("replace_with")
        if upload and not self._changes_own_upload_only(request, obj):
            services.replace_item_file(obj, upload.read(), upload.name)

    def delete_model(self, request: HttpRequest, obj: MediaItem) -> None:
        try:
            services.delete_item(obj)
        except ItemInUseError as error:
            self.message_user(request, str(error), messages.ERROR)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[MediaItem]) -> None:
        for item in queryset:
            self.delete_model(request, item)
