"""Subscribers, digest history with counts, a live progress page and "send a test to me"."""

from __future__ import annotations

import json
from typing import cast

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.models import LogEntry
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from pressroom.newsletter import digests
from pressroom.newsletter.models import (
    Delivery,
    Digest,
    DigestArticle,
    DigestQuerySet,
    Subscriber,
)
from pressroom.newsletter.services import normalize_email


class SubscriberForm(forms.ModelForm):
    # Double opt-in is the proof of consent; skipping it by hand needs a reason on record.
    confirmation_reason = forms.CharField(
        label="Why confirm by hand",
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=(
            "Required when you set the status to Confirmed: how this reader consented "
            "(e.g. signed the list at the 12 May meeting). Kept in the subscriber's history."
        ),
    )

    class Meta:
        model = Subscriber
        fields = ["email", "status", "all_topics", "topics", "is_paused", "source"]

    def clean_email(self) -> str:
        # One spelling per mailbox, as the signup form stores it.
        return normalize_email(self.cleaned_data["email"])

    @property
    def confirms_by_hand(self) -> bool:
        """Whether this save makes the subscriber confirmed without their link."""
        if self.cleaned_data.get("status") != Subscriber.Status.CONFIRMED:
            return False
        return (
            self.instance._state.adding or self.initial.get("status") != Subscriber.Status.CONFIRMED
        )

    def clean(self) -> dict:
        cleaned = super().clean() or {}
        cleaned["confirmation_reason"] = " ".join(
            (cleaned.get("confirmation_reason") or "").split()
        )
        was = self.initial.get("status")
        if (
            not self.instance._state.adding
            and was in Subscriber.SUPPRESSED_STATUSES
            and cleaned.get("status", was) != was
        ):
            # A bounce or a complaint is the mailbox's own word; only the reader's signed link
            # (which proves they own it) lifts it, and the suppression record stays until then.
            self.add_error(
                "status",
                "This address is suppressed (it bounced or its owner reported the digest as "
                "spam): only the reader can lift that, through a link in an email from us.",
            )
        if not self.instance._state.adding and "email" in self.changed_data and "email" in cleaned:
            # Another address would inherit this row's consent without its own confirmation.
            self.add_error(
                "email",
                "The address of an existing subscriber cannot be changed: add the new address "
                "as a new subscriber, so it is confirmed on its own.",
            )
        if self.confirms_by_hand and not cleaned["confirmation_reason"]:
            self.add_error(
                "confirmation_reason",
                "Say how this reader consented: confirming by hand skips their confirmation link.",
            )
        return cleaned


@admin.register(Subscriber)
class SubscriberAdmin(admin.ModelAdmin):
    form = SubscriberForm
    list_display = ["email", "status", "is_paused", "all_topics", "created_at", "confirmed_at"]
    list_filter = ["status", "is_paused", "all_topics", "source", "topics"]
    search_fields = ["email"]
    filter_horizontal = ["topics"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "created_at",
        "consented_at",
        "confirmed_at",
        "unsubscribed_at",
        "unsubscribed_from",
        "suppressed_at",
        "suppression_reason",
        "signup_email_sent_at",
    ]
    list_per_page = 100
    show_full_result_count = False  # counting 100,000 rows on every page view is wasted work

    def get_readonly_fields(self, request: HttpRequest, obj: Subscriber | None = None) -> list:
        # The consent on record (confirmation link, dates) belongs to this address; a new
        # address is a new subscriber, confirmed on its own.
        fields = list(super().get_readonly_fields(request, obj))
        return fields if obj is None else ["email", *fields]

    def save_model(self, request: HttpRequest, obj: Subscriber, form, change: bool) -> None:
        if form.confirms_by_hand:
            obj.confirm()  # the same state change as the reader's own link: dates, suppression
        super().save_model(request, obj, form, change)

    def construct_change_message(self, request, form, formsets, add=False):
        message = super().construct_change_message(request, form, formsets, add)
        if not form.confirms_by_hand:
            return message
        # The admin history (LogEntry) is the record of who confirmed, when and why; stored as
        # text so the history page shows the reason.
        changes = LogEntry(change_message=json.dumps(message)).get_change_message()
        reason = form.cleaned_data["confirmation_reason"]
        return f"{changes} Confirmed by hand. Reason: {reason}".strip()


class DigestArticleInline(admin.TabularInline):
    model = DigestArticle
    fields = ["position", "article", "section"]
    readonly_fields = ["position", "article", "section"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Digest)
class DigestAdmin(admin.ModelAdmin):
    list_display = [
        "date",
        "subject",
        "status",
        "recipients",
        "sent",
        "failed",
        "bounced",
        "unsubscribed",
        "progress_link",
    ]
    list_filter = ["status"]
    search_fields = ["subject"]
    inlines = [DigestArticleInline]
    actions = ["send_test_to_me"]
    readonly_fields = [
        "date",
        "subject",
        "covers_from",
        "covers_until",
        "status",
        "created_at",
        "send_after",
        "finished_at",
        "progress_link",
    ]
    exclude = ["articles"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Digest]:
        queryset = cast(DigestQuerySet, super().get_queryset(request))
        return queryset.with_counts()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # digests are built by the schedule or `pressroom send_digest`

    @admin.display(description="recipients", ordering="recipient_count")
    def recipients(self, digest: Digest) -> int:
        return digest.recipient_count  # type: ignore[attr-defined]  # annotated by with_counts()

    @admin.display(description="sent", ordering="sent_count")
    def sent(self, digest: Digest) -> int:
        return digest.sent_count  # type: ignore[attr-defined]  # annotated by with_counts()

    @admin.display(description="failed", ordering="failed_count")
    def failed(self, digest: Digest) -> int:
        return digest.failed_count  # type: ignore[attr-defined]  # annotated by with_counts()

    @admin.display(description="bounced or complained", ordering="bounced_count")
    def bounced(self, digest: Digest) -> int:
        return digest.bounced_count  # type: ignore[attr-defined]  # annotated by with_counts()

    @admin.display(description="unsubscribed", ordering="unsubscribed_count")
    def unsubscribed(self, digest: Digest) -> int:
        return digest.unsubscribed_count  # type: ignore[attr-defined]  # annotated by with_counts()

    @admin.display(description="progress")
    def progress_link(self, digest: Digest) -> str:
        url = reverse("admin:newsletter_digest_progress", args=[digest.pk])
        return format_html('<a href="{}">Live progress</a>', url)

    def get_urls(self) -> list:
        return [
            path(
                "<int:digest_id>/progress/",
                self.admin_site.admin_view(self.progress_view),
                name="newsletter_digest_progress",
            ),
            path(
                "<int:digest_id>/progress.json",
                self.admin_site.admin_view(self.progress_json),
                name="newsletter_digest_progress_json",
            ),
            *super().get_urls(),
        ]

    def progress_view(self, request: HttpRequest, digest_id: int) -> HttpResponse:
        if not self.has_view_permission(request):
            return HttpResponse(status=403)
        digest = get_object_or_404(Digest, pk=digest_id)
        progress = digest.progress()
        done = progress["total"] - progress["pending"] - progress["sending"]
        context = {
            **self.admin_site.each_context(request),
            "title": f"Sending {digest}",
            "digest": digest,
            "progress": progress,
            "done": done,
            "percent": round(100 * done / progress["total"]) if progress["total"] else 100,
            "opts": self.model._meta,
            "json_url": reverse("admin:newsletter_digest_progress_json", args=[digest.pk]),
        }
        return TemplateResponse(request, "admin/newsletter/digest_progress.html", context)

    def progress_json(self, request: HttpRequest, digest_id: int) -> JsonResponse:
        if not self.has_view_permission(request):
            return JsonResponse({"error": "forbidden"}, status=403)
        digest = get_object_or_404(Digest, pk=digest_id)
        return JsonResponse({"status": digest.status, **digest.progress()})

    @admin.action(description="Send a test of the selected digest to me")
    def send_test_to_me(self, request: HttpRequest, queryset: QuerySet[Digest]) -> None:
        email = getattr(request.user, "email", "")  # admin users are always authenticated
        if not email:
            self.message_user(
                request, "Your account has no email address; add one first.", messages.ERROR
            )
            return
        for digest in queryset[:3]:
            try:
                digests.send_test_digest(digest, email)
            except OSError as error:
                self.message_user(
                    request, f"Could not reach the mail server: {error}", messages.ERROR
                )
                return
        self.message_user(request, f"Test digest sent to {email}.")


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["subscriber", "digest", "state", "batch", "attempts", "sent_at", "error"]
    list_filter = ["state", "digest"]
    search_fields = ["subscriber__email"]
    list_select_related = ["subscriber", "digest"]
    raw_id_fields = ["subscriber", "digest"]
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
