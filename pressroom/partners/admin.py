"""The editors' side of partners: partner outlets and their feeds, and the curation queue
(newest first, filter by partner and topic, search) with its actions."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Max, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from pressroom.partners import services
from pressroom.partners.models import Feed, Item, Partner, PartnerStateError, category_keys
from pressroom.partners.tasks import fetch_partner_feed
from pressroom.publishing.models import Article, ArticleStateError, Topic


class FeedInline(admin.TabularInline):
    model = Feed
    extra = 1
    fields = [
        "url",
        "interval_minutes",
        "is_active",
        "status",
        "last_fetched_at",
        "items_seen",
        "last_error",
    ]
    readonly_fields = ["status", "last_fetched_at", "items_seen", "last_error"]


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "licence",
        "full_text",
        "feed_count",
        "queued",
        "republished",
        "last_fetch",
    ]
    search_fields = ["name"]
    filter_horizontal = ["topics"]
    inlines = [FeedInline]
    actions = ["fetch_now"]
    fields = ["name", "site_url", "licence", "topics", "full_text", "allowed_authors"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Partner]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                feed_count=Count("feeds", distinct=True),
                queued=Count("items", filter=Q(items__state=Item.State.NEW), distinct=True),
                republished=Count(
                    "items", filter=Q(items__state=Item.State.REPUBLISHED), distinct=True
                ),
                last_fetch=Max("feeds__last_fetched_at"),
            )
        )

    @admin.display(description="feeds", ordering="feed_count")
    def feed_count(self, partner: Any) -> int:
        return partner.feed_count

    @admin.display(description="in the queue", ordering="queued")
    def queued(self, partner: Any) -> int:
        return partner.queued

    @admin.display(description="republished", ordering="republished")
    def republished(self, partner: Any) -> int:
        return partner.republished

    @admin.display(description="last fetch", ordering="last_fetch")
    def last_fetch(self, partner: Any) -> Any:
        return partner.last_fetch

    @admin.action(description="Fetch their feeds now", permissions=["change"])
    def fetch_now(self, request: HttpRequest, queryset: QuerySet[Partner]) -> None:
        feed_ids = list(
            Feed.objects.filter(partner__in=queryset, is_active=True).values_list("pk", flat=True)
        )
        for feed_id in feed_ids:
            fetch_partner_feed.enqueue(feed_id)
        self.message_user(
            request, f"Fetching {len(feed_ids)} feeds: new items reach the queue in a moment."
        )


@admin.register(Feed)
class FeedAdmin(admin.ModelAdmin):
    """Every feed with its last fetch, status, error and item count (edited on its partner)."""

    list_display = [
        "url",
        "partner",
        "status",
        "last_fetched_at",
        "next_fetch_at",
        "failures",
        "items_seen",
        "last_error",
    ]
    list_filter = ["status", "partner"]
    search_fields = ["url", "partner__name"]
    list_select_related = ["partner"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


class ShowFilter(admin.SimpleListFilter):
    """The queue by default; dismissed items (to undo) and republished ones on request."""

    title = "show"
    parameter_name = "show"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("dismissed", "Dismissed"), ("republished", "Republished"), ("all", "All")]

    def choices(self, changelist: Any) -> Any:
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": "The queue",
        }
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet[Item]) -> QuerySet[Item]:
        value = self.value()
        if value == "all":
            return queryset
        if value in (Item.State.DISMISSED, Item.State.REPUBLISHED):
            return queryset.filter(state=value)
        return queryset.filter(state=Item.State.NEW)


class TopicFilter(admin.SimpleListFilter):
    """By the partner's default topics, or the item's own categories named like a topic."""

    title = "topic"
    parameter_name = "topic"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(str(topic.pk), topic.name) for topic in Topic.objects.order_by("name")[:200]]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Item]) -> QuerySet[Item]:
        value = self.value()
        if not value or not value.isdigit():
            return queryset
        topic = Topic.objects.filter(pk=int(value)).first()
        if topic is None:
            return queryset.none()
        # Category keys are folded like titles: "Perú" and "PERU" are the topic Peru.
        key = category_keys([topic.name])
        return queryset.filter(
            Q(partner__topics=topic) | (Q(category_keys__contains=key) if key else Q(pk__in=[]))
        ).distinct()


class QueueActionForm(forms.Form):
    action = forms.ChoiceField(
        choices=[
            ("now", "Republish now"),
            ("schedule", "Schedule"),
            ("draft", "Open as a draft"),
            ("dismiss", "Dismiss"),
            ("undo", "Undo dismiss"),
        ]
    )
    at = forms.DateTimeField(
        label="Publish at",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("action") == "schedule":
            at = data.get("at")
            if at is None:
                self.add_error("at", "Choose when to publish it.")
            elif at <= timezone.now():
                self.add_error("at", "Choose a time in the future.")
        return data


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    """The curation queue: new partner items, newest first. Open one to republish it now,
    schedule it, open it as a draft, or dismiss it."""

    list_display = [
        "title",
        "partner",
        "published_at",
        "short_summary",
        "already_have",
        "state",
    ]
    list_filter = [ShowFilter, "partner", TopicFilter]
    search_fields = ["title", "summary"]
    list_select_related = ["partner"]
    list_per_page = 50
    actions = ["republish_now", "open_as_drafts", "dismiss", "undo_dismiss"]
    change_form_template = "admin/partners/item/review.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Item]:
        items = super().get_queryset(request)
        return items.with_already_have().newest_first()  # type: ignore[attr-defined]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        # A deleted item would come back with the next fetch; dismiss it instead.
        return False

    @admin.display(description="summary")
    def short_summary(self, item: Item) -> str:
        from pressroom.publishing.html import html_to_text, truncate_words

        return truncate_words(html_to_text(item.summary), 30)

    @admin.display(description="we have it", boolean=True)
    def already_have(self, item: Any) -> bool:
        return bool(item.already_have)

    def _may_publish(self, request: HttpRequest) -> bool:
        return request.user.has_perm(Article.PUBLISH_PERMISSION)

    # Bulk actions ------------------------------------------------------------------------------

    def _each(self, request: HttpRequest, queryset: QuerySet[Item], act: Any, done: str) -> None:
        count, problems = 0, []
        for item in queryset.select_related("partner"):
            try:
                act(item)
                count += 1
            except (PartnerStateError, ArticleStateError, services.PartnerError) as error:
                problems.append(str(error))
        if count:
            self.message_user(request, f"{done}: {count}.")
        for problem in problems[:10]:
            self.message_user(request, problem, messages.ERROR)

    @admin.action(description="Republish now", permissions=["change"])
    def republish_now(self, request: HttpRequest, queryset: QuerySet[Item]) -> None:
        if not self._may_publish(request):
            raise PermissionDenied
        self._each(
            request,
            queryset,
            lambda item: services.republish_item(item, mode=services.Mode.NOW, by=request.user),
            "Republished (summary-only items open as drafts)",
        )

    @admin.action(description="Open as drafts", permissions=["change"])
    def open_as_drafts(self, request: HttpRequest, queryset: QuerySet[Item]) -> None:
        self._each(
            request,
            queryset,
            lambda item: services.republish_item(item, mode=services.Mode.DRAFT, by=request.user),
            "Opened as drafts",
        )

    @admin.action(description="Dismiss", permissions=["change"])
    def dismiss(self, request: HttpRequest, queryset: QuerySet[Item]) -> None:
        self._each(
            request,
            queryset,
            lambda item: services.dismiss_item(item, by=request.user),
            "Dismissed (undo from “Show: Dismissed”)",
        )

    @admin.action(description="Undo dismiss", permissions=["change"])
    def undo_dismiss(self, request: HttpRequest, queryset: QuerySet[Item]) -> None:
        self._each(
            request,
            queryset,
            lambda item: services.undo_dismiss_item(item, by=request.user),
            "Back in the queue",
        )

    # One item: its review page -----------------------------------------------------------------

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        item = self.get_object(request, unquote(object_id))
        if item is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)  # type: ignore[attr-defined]
        if not self.has_view_or_change_permission(request, item):
            raise PermissionDenied
        form = QueueActionForm(request.POST if request.method == "POST" else None)
        if request.method == "POST":
            if not self.has_change_permission(request, item):
                raise PermissionDenied
            if form.is_valid():
                response = self._act(request, item, form.cleaned_data)
                if response is not None:
                    return response
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": item.title,
            "item": item,
            "form": form,
            "preview": services.preview_body(item),
            "may_publish": self._may_publish(request),
            "may_change": self.has_change_permission(request, item),
            "queue_url": reverse("admin:partners_item_changelist"),
        }
        return TemplateResponse(request, self.change_form_template, context)

    def _act(self, request: HttpRequest, item: Item, data: dict[str, Any]) -> HttpResponse | None:
        action = data["action"]
        queue = reverse("admin:partners_item_changelist")
        try:
            if action == "dismiss":
                services.dismiss_item(item, by=request.user)
                self.message_user(
                    request,
                    format_html(
                        "Dismissed “{}”. <a href='{}'>Undo</a>",
                        item.title,
                        reverse("admin:partners_item_change", args=[item.pk]),
                    ),
                )
                return HttpResponseRedirect(queue)
            if action == "undo":
                services.undo_dismiss_item(item, by=request.user)
                self.message_user(request, f"“{item.title}” is back in the queue.")
                return HttpResponseRedirect(queue)
            if action in ("now", "schedule") and not self._may_publish(request):
                raise PermissionDenied
            done = services.republish_item(item, mode=action, at=data.get("at"), by=request.user)
        except (PartnerStateError, ArticleStateError, services.PartnerError) as error:
            self.message_user(request, str(error), messages.ERROR)
            return None
        article = done.article
        if done.notice:
            self.message_user(request, done.notice, messages.WARNING)
            return HttpResponseRedirect(
                reverse("admin:publishing_article_change", args=[article.pk])
            )
        if article.status == Article.Status.DRAFT:
            self.message_user(request, f"“{article.title}” is a draft now.")
            return HttpResponseRedirect(
                reverse("admin:publishing_article_change", args=[article.pk])
            )
        when = (
            "now"
            if article.status == Article.Status.PUBLISHED
            else (f"for {timezone.localtime(article.published_at):%d %B %Y, %H:%M}")
        )
        self.message_user(
            request,
            format_html(
                "Republished “{}” {}. <a href='{}'>View it</a>",
                article.title,
                when,
                article.get_absolute_url(),
            ),
        )
        return HttpResponseRedirect(queue)
