"""The editors' admin: write, schedule, publish and correct articles; manage topics and authors."""

from __future__ import annotations

import contextlib
from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.admin.widgets import AdminSplitDateTime, FilteredSelectMultiple
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import URLPattern, path, reverse_lazy
from django.utils import timezone
from django.utils.text import slugify
from django_prose_editor.widgets import AdminProseEditorWidget

from pressroom.lib.admin_lists import QuickRowCheckboxes, QuickRowLinks
from pressroom.media import services as media_services
from pressroom.media.rendering import current_file_addresses
from pressroom.publishing import revisions, services
from pressroom.publishing.admin_filters import SelectRelatedFilter
from pressroom.publishing.admin_review import ReviewAdminMixin
from pressroom.publishing.admin_revisions import SAVE_PENDING, RevisionsAdminMixin, saves_pending
from pressroom.publishing.bylines import BylineField
from pressroom.publishing.embeds import EmbedError, embed_for_url
from pressroom.publishing.models import (
    Article,
    ArticleQuerySet,
    ArticleStateError,
    Author,
    Correction,
    LegacyPath,
    Page,
    ReviewComment,
    Topic,
)

# The contributor's submit button: save the draft and put it in the editors' review queue.
SUBMIT_FOR_REVIEW = "_submit_for_review"

# The built-in extensions, then Pressroom's (settings.DJANGO_PROSE_EDITOR_EXTENSIONS): together
# they keep every element and attribute the HTML cleaner allows (test_editor_round_trip.py).
BODY_EDITOR_EXTENSIONS: dict[str, Any] = {
    "Bold": True,
    "Italic": True,
    "Underline": True,
    "Strike": True,
    "Subscript": True,
    "Superscript": True,
    "Code": True,
    "CodeBlock": True,
    "Heading": {"levels": [1, 2, 3, 4, 5, 6]},
    "BulletList": True,
    "OrderedList": True,
    "ListItem": True,
    "Blockquote": True,
    "HorizontalRule": True,
    "Link": {"enableTarget": False},
    "Image": True,
    "Figure": True,
    "Caption": True,
    "Table": True,
    "TableRow": True,
    "TableHeader": True,
    "TableCell": True,
    "HardBreak": True,
    "HTML": True,
    "SpecialCharacters": True,
    "History": True,
    **dict.fromkeys(
        [
            "PressroomAttributes", "BElement", "IElement", "Deleted", "Inserted", "Marked",
            "Small", "Abbreviation", "Citation", "InlineQuote", "Keyboard", "Span", "Time",
            "Division", "Address", "DescriptionList", "DescriptionTerm", "DescriptionDetails",
            "Details", "DetailsSummary", "MediaSource", "MediaTrack", "Picture", "Video", "Audio",
            "PullQuote",
        ],
        True,
    ),
    "Embed": {"endpoint": reverse_lazy("admin:publishing_article_embed")},
    "LibraryBlocks": {"endpoint": reverse_lazy("admin:media_mediaitem_choose")},
}  # fmt: skip


def body_editor() -> AdminProseEditorWidget:
    """The rich-text editor articles and pages are written in."""
    return AdminProseEditorWidget(
        preset="configurable", config={"extensions": BODY_EDITOR_EXTENSIONS}
    )


def bounded_body(body: str) -> str:
    """A body within MAX_BODY_BYTES, or the form error saying by how much it is over."""
    if len(body.encode()) > settings.MAX_BODY_BYTES:
        raise forms.ValidationError(
            f"The body is too long ({len(body.encode()) // 1024} KB); "
            f"the limit is {settings.MAX_BODY_BYTES // 1024} KB."
        )
    return body


class ArticleForm(forms.ModelForm):
    authors_chosen = BylineField(label="Authors", required=False)
    topics_chosen = forms.ModelMultipleChoiceField(
        label="Topics",
        queryset=Topic.objects.all(),
        required=False,
        widget=FilteredSelectMultiple("topics", is_stacked=False),
    )
    # The pending change the form was filled from, if any: saving publishes it.
    pending_number = forms.IntegerField(
        required=False, widget=forms.HiddenInput, min_value=1, max_value=2**31 - 1
    )
    # A contributor's word to the editors, sent with "Save and submit for review".
    review_note = forms.CharField(
        label="Note for the editors",
        required=False,
        max_length=ReviewComment.MAX_TEXT,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Sent with “Save and submit for review” (optional).",
    )

    class Meta:
        model = Article
        fields = list(Article.EDITOR_FIELDS)
        widgets = {
            "body": body_editor(),
            "editor_excerpt": forms.Textarea(attrs={"rows": 3}),
        }
        help_texts = {
            "slug": "Leave empty to make one from the title.",
            "body": "Paste from anywhere: formatting is kept; scripts and tracking are removed on save.",
            "status": "Scheduled articles appear on their own at the publication time.",
            "published_at": "Publication time. Leave empty to publish now.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "slug" in self.fields:  # not in a read-only view
            self.fields["slug"].required = False
        if "status" in self.fields and self.instance.status != Article.Status.IN_REVIEW:
            # An article enters review by being submitted (which records and emails it).
            status = cast(forms.TypedChoiceField, self.fields["status"])
            status.choices = [
                (value, label)
                for value, label in Article.Status.choices
                if value != Article.Status.IN_REVIEW
            ]
        # Not in a contributor's form: editors choose when (and whether) it is published.
        if "published_at" in self.fields:
            self.fields["published_at"] = forms.SplitDateTimeField(
                label="Publication time",
                required=False,
                widget=AdminSplitDateTime(),
                help_text=self.Meta.help_texts["published_at"],
            )
        self._init_links_and_pending()

    def _init_links_and_pending(self) -> None:
        if self.instance.pk:
            self.initial["authors_chosen"] = self.instance.bylines
            self.initial["topics_chosen"] = list(self.instance.topics.all())
            if "published_at" in self.fields:
                self.initial["published_at"] = self.instance.published_at
            if self.instance.status == Article.Status.SCHEDULED and self.instance.is_public:
                # Its time has come: it is live, and saving a correction must not ask for
                # a future time.
                self.initial["status"] = Article.Status.PUBLISHED
        self.pending = None
        if self.instance.pk and not self.is_bound:
            self.pending = revisions.pending_change(self.instance)
            if self.pending is not None:
                self._fill_from(self.pending)

    def _fill_from(self, pending: Any) -> None:
        """Show the pending change in the form: editing goes on from it."""
        snapshot = revisions.snapshot_of(pending)
        for name in self.Meta.fields:
            if name in snapshot and name != "published_at":
                self.initial[name] = snapshot[name]
        at = self.initial["published_at"] = revisions.published_at_of(snapshot)
        if snapshot.get("status") == Article.Status.SCHEDULED and at and at <= timezone.now():
            self.initial["status"] = Article.Status.PUBLISHED  # its time has come, as above
        self.initial["authors_chosen"] = list(snapshot.get("authors", []))  # in byline order
        self.initial["topics_chosen"] = list(
            Topic.objects.filter(pk__in=snapshot.get("topics", []))
        )
        self.initial["pending_number"] = pending.number

    def clean_body(self) -> str:
        return bounded_body(self.cleaned_data["body"])

    def clean(self) -> dict:
        super().clean()
        cleaned = self.cleaned_data
        status, at = cleaned.get("status"), cleaned.get("published_at")
        now = timezone.now()
        if status == Article.Status.SCHEDULED and (at is None or at <= now):
            self.add_error("published_at", "Choose a time in the future to schedule this article.")
        elif status == Article.Status.PUBLISHED and at and at > now:
            # Publishing with a future time is scheduling; say so in the list.
            cleaned["status"] = Article.Status.SCHEDULED
        elif status == Article.Status.PUBLISHED and at is None:
            cleaned["published_at"] = now
        if not (cleaned.get("title") or "").strip():
            self.add_error("title", "An article needs a title.")
        if cleaned.get("status") in Article.PUBLIC_STATUSES:
            self._require_alt_text(cleaned)
        return cleaned

    def _require_alt_text(self, cleaned: dict) -> None:
        """Ask for alt text here, as a form error, rather than failing in the service."""
        lead = cleaned.get("lead_image")
        items = {item.pk: item for item in media_services.items_in_html(cleaned.get("body", ""))}
        if lead is not None:
            items[lead.pk] = lead
        missing = [item for item in items.values() if item.needs_alt_text]
        if missing:
            self.add_error(None, str(services.MissingAltTextError(missing)))

    def _post_clean(self) -> None:
        # Carry the adjusted status and time onto the instance before model validation.
        super()._post_clean()  # type: ignore[misc]  # not in django-stubs
        if "status" in self.cleaned_data:
            self.instance.status = self.cleaned_data["status"]
            self.instance.published_at = self.cleaned_data.get("published_at")


class LegacyPathForm(forms.ModelForm):
    """Stores an old address the way the redirect looks it up ('/2019/05/story/')."""

    class Meta:
        model = LegacyPath
        # None of article, topic, author: the front page (an old blog's home page).
        fields = ["path", "article", "topic", "author", "page", "is_gone", "per_page"]

    def clean_path(self) -> str:
        path = services.normalize_legacy_path(self.cleaned_data["path"])
        if path == "/":
            raise forms.ValidationError("The front page cannot redirect elsewhere.")
        return path


class LegacyPathInline(admin.TabularInline):
    model = LegacyPath
    form = LegacyPathForm
    fk_name = "article"
    fields = ["path"]
    extra = 0
    verbose_name = "old address (redirects here)"
    verbose_name_plural = "old addresses (redirect here)"


class PageLegacyPathInline(LegacyPathInline):
    fk_name = "page"


class NewCorrectionsFormSet(forms.BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        adding = [form for form in self.forms if form.has_changed() and not form.instance.pk]
        # self.instance carries the status and time this same save gives the article.
        if adding and not self.instance.is_public:
            raise forms.ValidationError(
                "Only a published article carries corrections: publish it first, or change "
                "the text (readers have not seen it)."
            )


class NewCorrectionInline(admin.StackedInline):
    """Add a correction or update (the article's page and /corrections/ show it)."""

    model = Correction
    formset = NewCorrectionsFormSet
    fields = ["kind", "text", "noted_at"]
    extra = 1
    max_num = 1
    can_delete = False
    verbose_name = "new correction or update"
    verbose_name_plural = "add a correction or update (readers see it at once)"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Correction]:
        return Correction.objects.none()  # only new ones here; the record is below

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        formset = super().get_formset(request, obj, **kwargs)
        formset.form.base_fields["text"].widget.attrs["rows"] = 3
        return formset


class CorrectionRecordInline(admin.TabularInline):
    """The corrections told so far, removed ones included (with why): never edited here."""

    model = Correction
    fields = ["kind", "noted_at", "text", "state"]
    readonly_fields = ["kind", "noted_at", "text", "state"]
    extra = 0
    can_delete = False
    show_change_link = True
    verbose_name = "correction on record"
    verbose_name_plural = "corrections on record (open one to remove it, with a reason)"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="State")
    def state(self, correction: Correction) -> str:
        if correction.is_removed:
            return f"Removed {correction.removed_at:%Y-%m-%d}: {correction.removal_reason}"
        return "Shown to readers"


class AnnounceDeletionsMixin:
    """Deleting a topic, author or old address changes what readers see: say so, so that
    cached pages give way."""

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        super().delete_model(request, obj)  # type: ignore[misc]
        services.announce_change()

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        super().delete_queryset(request, queryset)  # type: ignore[misc]
        services.announce_change()


@admin.register(Article)
class ArticleAdmin(
    QuickRowCheckboxes, QuickRowLinks, ReviewAdminMixin, RevisionsAdminMixin, admin.ModelAdmin
):
    """Editors (publishing.publish_article) see and change every article; contributors see
    only the articles they created, change only their drafts, and submit them for review."""

    form = ArticleForm
    change_form_template = "admin/publishing/article/change_form.html"
    change_list_template = "admin/publishing/article/change_list.html"
    list_display = ["title", "status_label", "published_at", "byline", "updated_at"]
    # At 100,000 articles every query the changelist makes beside the page's own counts: the
    # topic and author filters list every topic and author as one select (reading which ones
    # are used scanned all the links; a link per choice cost a third of the render), and
    # publication dates are a filter of fixed periods rather than a date hierarchy (its first
    # and last date, and every year, were two scans of a search's matches on each search).
    # bench/search.py times the admin's search.
    list_filter = [
        "status",
        "published_at",
        ("topic_links__topic", SelectRelatedFilter),
        ("author_links__author", SelectRelatedFilter),
    ]
    search_fields = ["title"]
    ordering = ["-updated_at"]
    inlines = [NewCorrectionInline, CorrectionRecordInline, LegacyPathInline]
    autocomplete_fields = ["lead_image"]
    actions = ["publish_now", "unpublish"]
    list_per_page = 50
    show_full_result_count = False
    fieldsets = [
        (None, {"fields": ["title", "slug", "body", "editor_excerpt"]}),
        (
            "Publishing",
            {
                "fields": [
                    "status",
                    "published_at",
                    "authors_chosen",
                    "topics_chosen",
                    "pending_number",
                ]
            },
        ),
        ("Lead image", {"fields": ["lead_image", "lead_image_url", "lead_image_alt"]}),
        (
            "Republished from another outlet",
            {
                "fields": ["original_outlet", "original_url", "canonical_url", "licence"],
                "classes": ["collapse"],
            },
        ),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Article]:
        articles = cast(ArticleQuerySet, super().get_queryset(request))
        # No distinct(): the changelist adds it when a filter on topics or authors can repeat
        # an article; always on, it made every search count distinct whole rows, bodies included.
        return articles.with_bylines()

    def get_object(
        self, request: HttpRequest, object_id: str, from_field: str | None = None
    ) -> Article | None:
        if request.method == "POST" and transaction.get_connection().in_atomic_block:
            # The admin's change and delete views run in a transaction: lock the row before
            # reading it, so two posts (a double click, two editors) act in turn, each on what
            # the other left, and permissions are judged on the article as it is now.
            field = from_field or "pk"
            # Not an id: the look-up below finds nothing, as for any unknown id.
            with contextlib.suppress(ValueError, ValidationError):
                Article.objects.select_for_update().filter(**{field: object_id}).exists()
        article = super().get_object(request, object_id, from_field)
        if article is not None:
            # A library file replaced since the body was written is deleted from storage: the
            # editor loads the body with the item's current file, as readers see it.
            [article.body] = current_file_addresses([article.body])
        return article

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("embed/", wrap(self.embed_view), name="publishing_article_embed"),
            *super().get_urls(),
        ]

    def embed_view(self, request: HttpRequest) -> JsonResponse:
        """The editor's embed block: the player for a pasted address (read off the address
        by embeds.py, no request to the provider), or why there is none."""
        if not (self.has_add_permission(request) or self.has_change_permission(request)):
            raise PermissionDenied
        try:
            embed = embed_for_url(request.GET.get("url", ""))
        except EmbedError as error:
            return JsonResponse({"error": str(error)}, status=400)
        return JsonResponse(
            {
                "provider": embed.provider,
                "src": embed.src,
                "page_url": embed.page_url,
                "height": embed.height,
            }
        )

    @admin.display(description="Status", ordering="status")
    def status_label(self, article: Article) -> str:
        return article.effective_status

    @admin.display(description="Authors")
    def byline(self, article: Article) -> str:
        return ", ".join(author.name for author in article.bylines)

    def save_model(
        self, request: HttpRequest, obj: Article, form: ArticleForm, change: bool
    ) -> None:
        authors = list(form.cleaned_data["authors_chosen"])
        topics = list(form.cleaned_data["topics_chosen"])
        if saves_pending(request, change):
            services.save_pending_change(obj, authors=authors, topics=topics, by=request.user)
            return
        # The row is locked (get_object, on a POST): this is its state as it is now.
        was_in_review = (
            change and Article.objects.filter(pk=obj.pk, status=Article.Status.IN_REVIEW).exists()
        )
        services.save_article(
            obj,
            authors=authors,
            topics=topics,
            by=request.user,
            settles_pending=form.cleaned_data.get("pending_number"),
        )
        if was_in_review and obj.status in Article.PUBLIC_STATUSES:
            services.end_review_by_publication(obj, by=request.user)
        elif was_in_review and obj.status == Article.Status.DRAFT:
            # Out of review from the form: a send-back, recorded and emailed to the writer.
            services.end_review_by_draft(obj, by=request.user)
            self.message_user(
                request,
                "It left review: recorded as sent back to its writer (emailed). Use “Send "
                "back” under the form to say what to change.",
                messages.WARNING,
            )
        if SUBMIT_FOR_REVIEW in request.POST and not self.has_publish_permission(request):
            try:
                services.submit_article_for_review(
                    obj, by=request.user, comment=form.cleaned_data.get("review_note", "")
                )
            except ArticleStateError as error:
                self.message_user(request, f"Saved, not submitted: {error}", messages.WARNING)
            else:
                self.message_user(
                    request,
                    "Submitted for review: the editors are emailed. You can edit it again if "
                    "they send it back.",
                    messages.SUCCESS,
                )

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict | None = None,
    ) -> HttpResponse:
        if request.method == "POST" and SAVE_PENDING in request.POST:
            refused = self._refuse_pending(request, object_id)
            if refused is not None:
                return refused
        article = self.get_object(request, object_id)
        if (
            request.method == "POST"
            and article is not None
            and not self.has_change_permission(request, article)
            and self.has_view_permission(request, article)
        ):
            # A second click on "Save and submit", or a page left open while the article was
            # submitted or published: say so rather than a bare "403 Forbidden".
            messages.error(
                request,
                "Nothing was saved: this article is no longer a draft you can change (it was "
                "submitted for review or published).",
            )
            return HttpResponseRedirect(request.path)
        # RevisionsAdminMixin adds the pending change to the context.
        return super().change_view(request, object_id, form_url, extra_context)

    def _refuse_pending(self, request: HttpRequest, object_id: str) -> HttpResponse | None:
        """A pending change is an editor's, beside a published article (else a writer could
        submit one text and have the editor review another): refused, with a message."""
        article = super().get_object(request, unquote(object_id))
        if article is None:
            return None  # the admin's own "does not exist"
        if self.has_publish_permission(request) and article.status in Article.PUBLIC_STATUSES:
            return None
        messages.error(
            request,
            "Nothing was saved: only an editor keeps a pending change, and only beside a "
            "published or scheduled article. Use “Save” (or “Save and submit for review”).",
        )
        return HttpResponseRedirect(request.path)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        if formset.model is not Correction:
            super().save_formset(request, form, formset, change)
            return
        # What formset.save() would record, for the admin's history message.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for correction_form in formset.forms:
            if correction_form.has_changed() and not correction_form.instance.pk:
                data = correction_form.cleaned_data
                correction = services.add_correction(
                    form.instance,
                    data["text"],
                    kind=data["kind"],
                    by=request.user,
                    noted_at=data.get("noted_at"),
                )
                formset.new_objects.append(correction)

    def delete_model(self, request: HttpRequest, obj: Article) -> None:
        services.delete_article(obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Article]) -> None:
        for article in queryset:
            services.delete_article(article)

    @admin.action(description="Publish selected articles now", permissions=["publish"])
    def publish_now(self, request: HttpRequest, queryset: QuerySet[Article]) -> None:
        self._apply(request, queryset, services.publish_article, "published")

    @admin.action(
        description="Unpublish selected articles (back to draft)", permissions=["publish"]
    )
    def unpublish(self, request: HttpRequest, queryset: QuerySet[Article]) -> None:
        self._apply(request, queryset, services.unpublish_article, "unpublished")

    def _apply(self, request: HttpRequest, queryset: QuerySet[Article], service, verb: str) -> None:
        apply_to_each(self, request, queryset, service, verb)


@admin.register(Topic)
class TopicAdmin(AnnounceDeletionsMixin, admin.ModelAdmin):
    list_display = ["name", "slug", "parent", "is_featured"]
    list_filter = ["is_featured"]
    list_editable = ["is_featured"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    autocomplete_fields = ["parent"]

    def save_model(
        self, request: HttpRequest, obj: Topic, form: forms.ModelForm, change: bool
    ) -> None:
        services.save_topic(obj)


@admin.register(Author)
class AuthorAdmin(AnnounceDeletionsMixin, admin.ModelAdmin):
    list_display = ["name", "slug", "user"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    raw_id_fields = ["user"]
    autocomplete_fields = ["photo"]
    fields = ["name", "slug", "bio", "photo", "website", "fediverse", "other_links", "user"]

    def save_model(
        self, request: HttpRequest, obj: Author, form: forms.ModelForm, change: bool
    ) -> None:
        services.save_author(obj)


@admin.register(LegacyPath)
class LegacyPathAdmin(AnnounceDeletionsMixin, admin.ModelAdmin):
    form = LegacyPathForm
    list_display = ["path", "article", "topic", "author", "page", "is_gone"]
    search_fields = ["path"]
    raw_id_fields = ["article", "topic", "author", "page"]

    def save_model(
        self, request: HttpRequest, obj: LegacyPath, form: forms.ModelForm, change: bool
    ) -> None:
        super().save_model(request, obj, form, change)
        # A cached page at this address (say the front page for /?p=42) must give way.
        services.announce_change()


class CorrectionRemovalForm(forms.ModelForm):
    reason = forms.CharField(
        label="Remove it from readers' view, because",
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Kept on record with your name; readers stop seeing the correction.",
    )

    class Meta:
        model = Correction
        fields: list[str] = []


@admin.register(Correction)
class CorrectionAdmin(admin.ModelAdmin):
    """Every correction, removed ones too. Nothing is edited or deleted: a removal needs a
    reason, which stays on record."""

    form = CorrectionRemovalForm
    list_display = ["article", "kind", "noted_at", "text", "removed_at"]
    list_filter = ["kind", ("removed_at", admin.EmptyFieldListFilter)]
    search_fields = ["text", "article__title"]
    list_select_related = ["article"]
    readonly_fields = [
        "article",
        "kind",
        "noted_at",
        "text",
        "created_by",
        "removed_at",
        "removed_by",
        "removal_reason",
    ]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is not None and obj.is_removed:
            return self.readonly_fields
        return [*self.readonly_fields, "reason"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # from the article, where the readers see it

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a removal keeps the row and its reason

    def save_model(
        self, request: HttpRequest, obj: Correction, form: CorrectionRemovalForm, change: bool
    ) -> None:
        reason = form.cleaned_data.get("reason", "")
        if reason.strip():
            services.remove_correction(obj, by=request.user, reason=reason)


class PageForm(forms.ModelForm):
    """A page: the article's editor, a parent, and the same pending changes."""

    pending_number = forms.IntegerField(
        required=False, widget=forms.HiddenInput, min_value=1, max_value=2**31 - 1
    )

    class Meta:
        model = Page
        fields = list(Page.EDITOR_FIELDS)
        widgets = {"body": body_editor(), "summary": forms.Textarea(attrs={"rows": 3})}
        help_texts = {
            "body": "Paste from anywhere: formatting is kept; scripts and tracking are removed on save.",
            "published_at": "Leave empty to publish now.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["slug"].required = False
        self.fields["published_at"] = forms.SplitDateTimeField(
            label="Publication time",
            required=False,
            widget=AdminSplitDateTime(),
            help_text=self.Meta.help_texts["published_at"],
        )
        if self.instance.pk:
            self.initial["published_at"] = self.instance.published_at
            parent = cast(forms.ModelChoiceField, self.fields["parent"])
            parent.queryset = Page.objects.exclude(pk=self.instance.pk)
        if self.instance.pk and not self.is_bound:
            pending = revisions.pending_change(self.instance)
            if pending is not None:
                snapshot = revisions.snapshot_of(pending)
                for name in self.Meta.fields:
                    if name in snapshot:
                        self.initial[name] = snapshot[name]
                self.initial["published_at"] = revisions.published_at_of(snapshot)
                self.initial["pending_number"] = pending.number

    def clean_body(self) -> str:
        return bounded_body(self.cleaned_data["body"])

    def clean(self) -> dict:
        super().clean()
        cleaned = self.cleaned_data
        if cleaned.get("status") == Page.Status.PUBLISHED and not cleaned.get("published_at"):
            cleaned["published_at"] = timezone.now()
        if not (cleaned.get("title") or "").strip():
            self.add_error("title", "A page needs a title.")
            return cleaned
        # Where the page would live: nested in a loop, too deep, or at another view's address
        # is said here, on the form, rather than refused by the service.
        page = Page(
            pk=self.instance.pk,
            slug=cleaned.get("slug") or slugify(cleaned["title"], allow_unicode=True)[:100],
            parent=cleaned.get("parent"),
        )
        try:
            path = page.computed_path()
            services.check_page_address(path)
            if self.instance.pk and self.instance.path and path != self.instance.path:
                services.check_sub_page_addresses(self.instance.path, path)
        except ArticleStateError as error:
            self.add_error("parent" if "nest" in str(error) else "slug", str(error))
        if cleaned.get("status") == Page.Status.PUBLISHED:
            items = media_services.items_in_html(cleaned.get("body", ""))
            if missing := [item for item in items if item.needs_alt_text]:
                self.add_error(None, str(services.MissingAltTextError(missing)))
        return cleaned


def apply_to_each(
    model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet, service, verb: str
) -> None:
    """A change-list action through a service, one row at a time: each refusal is said with
    the row's title, and what was done is counted ("3 page(s) published.")."""
    done = 0
    for obj in queryset:
        try:
            service(obj, by=request.user)
            done += 1
        except ArticleStateError as error:
            model_admin.message_user(request, f"“{obj.title}”: {error}", messages.WARNING)
    if done:
        noun = model_admin.model._meta.verbose_name
        model_admin.message_user(request, f"{done} {noun}(s) {verb}.", messages.SUCCESS)


@admin.register(Page)
class PageAdmin(QuickRowCheckboxes, QuickRowLinks, RevisionsAdminMixin, admin.ModelAdmin):
    form = PageForm
    # The article's change form: revisions link, pending notice, "Save as pending change".
    change_form_template = "admin/publishing/article/change_form.html"
    list_display = ["title", "address", "status", "published_at", "updated_at"]
    list_filter = ["status", "show_in_sitemap"]
    search_fields = ["title", "path"]
    ordering = ["path"]
    inlines = [PageLegacyPathInline]
    actions = ["publish_now", "unpublish"]
    fieldsets = [
        (None, {"fields": ["title", "slug", "parent", "body", "summary"]}),
        (
            "Publishing",
            {"fields": ["status", "published_at", "show_in_sitemap", "pending_number"]},
        ),
    ]

    @admin.display(description="Address", ordering="path")
    def address(self, page: Page) -> str:
        return f"/{page.path}/"

    def save_model(self, request: HttpRequest, obj: Page, form: PageForm, change: bool) -> None:
        if saves_pending(request, change):
            services.save_pending_page_change(obj, by=request.user)
            return
        services.save_page(
            obj, by=request.user, settles_pending=form.cleaned_data.get("pending_number")
        )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A page with sub-pages is not deleted (services.delete_page says why): no button.
        if obj is not None and obj.children.exists():
            return False
        return super().has_delete_permission(request, obj)

    def delete_model(self, request: HttpRequest, obj: Page) -> None:
        try:
            services.delete_page(obj)
        except ArticleStateError as error:
            self.message_user(request, str(error), messages.ERROR)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Page]) -> None:
        # Deepest first, so a page and its sub-pages selected together all go.
        for page in sorted(queryset, key=lambda page: page.path.count("/"), reverse=True):
            try:
                services.delete_page(page)
            except ArticleStateError as error:
                self.message_user(request, str(error), messages.ERROR)

    @admin.action(description="Publish selected pages now", permissions=["change"])
    def publish_now(self, request: HttpRequest, queryset: QuerySet[Page]) -> None:
        self._apply(request, queryset, services.publish_page, "published")

    @admin.action(description="Unpublish selected pages (back to draft)", permissions=["change"])
    def unpublish(self, request: HttpRequest, queryset: QuerySet[Page]) -> None:
        self._apply(request, queryset, services.unpublish_page, "unpublished")

    def _apply(self, request: HttpRequest, queryset: QuerySet[Page], service, verb: str) -> None:
        apply_to_each(self, request, queryset, service, verb)


# The home page's stories and the menus register their own admin pages.
from pressroom.publishing import admin_curation  # noqa: E402, F401
