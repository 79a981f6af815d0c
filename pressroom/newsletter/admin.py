"""Subscribers, digest history with counts, a live progress page and "send a test to me"."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.models import LogEntry
from django.contrib.admin.widgets import AdminSplitDateTime
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.csp import CSP
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.csp import csp_override

from pressroom.lib.admin_lists import QuickRowCheckboxes, QuickRowLinks
from pressroom.lib.audiences import donor_source
from pressroom.lib.spreadsheets import stream_rows
from pressroom.newsletter import digests, results, segments, services
from pressroom.newsletter.models import (
    Delivery,
    Digest,
    DigestArticle,
    DigestEdition,
    DigestQuerySet,
    OneOffEmail,
    Subscriber,
    SubscriptionStateError,
)
from pressroom.newsletter.services import normalize_email
from pressroom.publishing.admin import body_editor, bounded_body
from pressroom.publishing.admin_filters import SelectRelatedFilter
from pressroom.publishing.html import clean_body_html, html_to_text


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


class SubscriberSourceFilter(admin.SimpleListFilter):
    title = "source"
    parameter_name = "source"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("form", "Signup form"), ("import", "Imported list")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(source=self.value()) if self.value() else queryset


@admin.register(Subscriber)
class SubscriberAdmin(QuickRowCheckboxes, QuickRowLinks, admin.ModelAdmin):
    form = SubscriberForm
    list_display = ["email", "status", "is_paused", "all_topics", "created_at", "confirmed_at"]
    # At 100,000 subscribers no filter reads the table to draw itself: sources are the known
    # ones (listing the values in use scanned every row), topics one select, and sign-up dates
    # fixed periods (a date hierarchy scanned a search's matches twice on every search).
    list_filter = [
        "status",
        "is_paused",
        "all_topics",
        SubscriberSourceFilter,
        ("topics", SelectRelatedFilter),
        "created_at",
    ]
    search_fields = ["email"]
    filter_horizontal = ["topics"]
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


class SendCountsMixin:
    """The list columns of sends, from DigestQuerySet.with_counts()."""

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


@admin.register(Digest)
class DigestAdmin(SendCountsMixin, admin.ModelAdmin):
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
        "editor_note",
        "lead_article",
        "progress_link",
    ]
    fields = [
        "date",
        "subject",
        "covers_from",
        "covers_until",
        "status",
        "created_at",
        "send_after",
        "finished_at",
        "editor_note",
        "lead_article",
        "progress_link",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Digest]:
        queryset = cast(DigestQuerySet, super().get_queryset(request))
        return queryset.digests().with_counts()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # digests are built by the schedule or `pressroom send_digest`

    @admin.display(description="progress")
    def progress_link(self, digest: Digest) -> str:
        url = reverse("admin:newsletter_digest_progress", args=[digest.pk])
        results_url = reverse("admin:newsletter_results", args=[digest.pk])
        return format_html(
            '<a href="{}">Live progress</a> · <a href="{}">Results</a>', url, results_url
        )

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


# One-off sends: written like an article, previewed, tested, then sent now or at a time.


# The review page frames the email's HTML preview, a sandboxed response of the same origin.
REVIEW_PAGE_CSP: dict[str, Any] = {**settings.SECURE_CSP, "frame-src": [CSP.SELF]}


class OneOffEmailForm(forms.ModelForm):
    kind = forms.ChoiceField(
        choices=[choice for choice in Digest.Kind.choices if choice[0] != Digest.Kind.DIGEST]
    )
    giving_campaign_id = forms.TypedChoiceField(
        label="For campaign",
        required=False,
        coerce=int,
        empty_value=None,
        help_text="Donors (or non-donors) of this campaign; empty: ever.",
    )

    class Meta:
        model = OneOffEmail
        fields = [
            "kind",
            "subject",
            "body",
            "with_campaign_block",
            "is_public",
            "segment_topics",
            "subscribed_after",
            "subscribed_before",
            "givers",
            "giving_campaign_id",
            "reminder_of",
        ]
        widgets = {
            "body": body_editor(),
            # A plain list box: the admin's filter widget fails axe (an aria-label on a span).
            "segment_topics": forms.SelectMultiple(attrs={"size": 8}),
        }
        help_texts = {
            "body": "The same editor as articles: paste from anywhere; scripts and tracking are "
            "removed on save. Links to this site get the send's campaign tag when it is sent.",
            "subscribed_after": "Readers who confirmed on or after this day.",
            "subscribed_before": "Readers who confirmed before this day.",
        }

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        source = donor_source()
        if source is None:
            # Without donor records there is nobody to match: the donor options are hidden.
            for name in ("givers", "giving_campaign_id", "reminder_of"):
                self.fields.pop(name)
            return
        campaign = cast(forms.TypedChoiceField, self.fields["giving_campaign_id"])
        campaign.choices = [("", "Any campaign, ever")] + [
            (str(pk), title) for pk, title in source.campaign_choices()
        ]
        reminder = self.fields["reminder_of"]
        reminder.queryset = (  # type: ignore[attr-defined]
            Digest.objects.one_offs().exclude(status=Digest.Status.DRAFT).order_by("-date", "-id")
        )
        reminder.label = "Reminder of"

    def clean_body(self) -> str:
        return clean_body_html(bounded_body(self.cleaned_data["body"]))

    def clean(self) -> dict:
        cleaned = super().clean() or {}
        if not html_to_text(cleaned.get("body", "")):
            self.add_error("body", "Write the email: its text is empty.")
        after, before = cleaned.get("subscribed_after"), cleaned.get("subscribed_before")
        if after and before and after >= before:
            self.add_error("subscribed_before", "Must be later than “subscribed after”.")
        if cleaned.get("giving_campaign_id") and not cleaned.get("givers"):
            self.add_error("givers", "Choose donors, non-donors or monthly donors of the campaign.")
        return cleaned


class StartForm(forms.Form):
    """Send now, or at a time (the worker starts it then)."""

    when = forms.ChoiceField(
        choices=[("now", "Send now"), ("later", "Schedule")], widget=forms.RadioSelect
    )
    send_at = forms.SplitDateTimeField(label="Send at", required=False, widget=AdminSplitDateTime())

    def clean(self) -> dict:
        cleaned = super().clean() or {}
        if cleaned.get("when") != "later":
            cleaned["send_at"] = None
            return cleaned
        send_at = cleaned.get("send_at")
        now = timezone.now()
        if send_at is None:
            self.add_error("send_at", "Give the date and time to send it at.")
        elif send_at <= now:
            self.add_error("send_at", "That time has passed: choose “Send now” or a later time.")
        elif send_at > now + timedelta(days=366):
            self.add_error("send_at", "Schedule it at most a year ahead.")
        return cleaned


class ResultsMixin:
    """Results of any send (digest or one-off): figures, a chart drawn on the server, CSV."""

    admin_site: admin.AdminSite
    model: type[Digest]

    def results_view(self, request: HttpRequest, send_id: int) -> HttpResponse:
        if not self.has_view_permission(request):  # type: ignore[attr-defined]
            return HttpResponse(status=403)
        send = get_object_or_404(Digest, pk=send_id)
        result = results.result_of(send)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Results: {send.subject}",
            "send": send,
            "result": result,
            "chart": mark_safe(results.chart_svg(result)),
            "daily_visits": results.daily_visits(send),
            "opts": self.model._meta,
            "csv_url": reverse("admin:newsletter_results_csv"),
        }
        return TemplateResponse(request, "admin/newsletter/send_results.html", context)

    def results_csv(self, request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
        if not self.has_view_permission(request):  # type: ignore[attr-defined]
            return HttpResponse(status=403)
        sends = Digest.objects.exclude(status=Digest.Status.DRAFT).order_by("-date", "-id")
        response = StreamingHttpResponse(
            stream_rows(results.csv_rows(results.results(sends)), byte_order_mark=True),
            content_type="text/csv; charset=utf-8",
        )
        response["Content-Disposition"] = 'attachment; filename="newsletter-results.csv"'
        return response


@admin.register(OneOffEmail)
class OneOffEmailAdmin(SendCountsMixin, ResultsMixin, admin.ModelAdmin):
    form = OneOffEmailForm
    list_display = [
        "subject",
        "kind",
        "status",
        "date",
        "send_after",
        "recipients",
        "sent",
        "unsubscribed",
        "next_step",
    ]
    list_filter = ["kind", "status", "is_public"]
    search_fields = ["subject"]
    fieldsets = [
        (None, {"fields": ["kind", "subject", "body", "with_campaign_block", "is_public"]}),
        (
            "Segment (who receives it)",
            {
                "fields": [
                    "segment_topics",
                    "subscribed_after",
                    "subscribed_before",
                    "givers",
                    "giving_campaign_id",
                    "reminder_of",
                ],
                "description": "Confirmed readers who have not paused, narrowed by these. "
                "Donor conditions are checked again as each batch is sent. Opened/clicked "
                "segments are not offered: Pressroom does not track opens or clicks.",
            },
        ),
    ]

    def get_fieldsets(self, request: HttpRequest, obj: OneOffEmail | None = None) -> list:
        fieldsets = list(super().get_fieldsets(request, obj))
        if donor_source() is not None:
            return fieldsets
        hidden = {"givers", "giving_campaign_id", "reminder_of"}
        return [
            (name, {**options, "fields": [f for f in options["fields"] if f not in hidden]})
            for name, options in fieldsets
        ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[OneOffEmail]:
        return super().get_queryset(request).with_counts()  # type: ignore[attr-defined]

    def has_change_permission(self, request: HttpRequest, obj: OneOffEmail | None = None) -> bool:
        # Once started, what was sent is the record: it is shown, not edited.
        if obj is not None and obj.status != Digest.Status.DRAFT:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: OneOffEmail | None = None) -> bool:
        if obj is not None and obj.status != Digest.Status.DRAFT:
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: OneOffEmail, form, change: bool) -> None:
        if not change:
            now = timezone.now()
            obj.status = Digest.Status.DRAFT
            obj.date = timezone.localdate(now)
            obj.covers_from = obj.covers_until = now
            obj.created_by = request.user  # type: ignore[assignment]
        super().save_model(request, obj, form, change)

    def response_add(self, request: HttpRequest, obj: OneOffEmail, post_url_continue=None):
        if "_continue" in request.POST or "_addanother" in request.POST:
            return super().response_add(request, obj, post_url_continue)
        return redirect("admin:newsletter_oneoffemail_send", obj.pk)

    def response_change(self, request: HttpRequest, obj: OneOffEmail):
        if "_continue" in request.POST or "_addanother" in request.POST:
            return super().response_change(request, obj)
        return redirect("admin:newsletter_oneoffemail_send", obj.pk)

    @admin.display(description="")
    def next_step(self, send: Digest) -> str:
        if send.status == Digest.Status.DRAFT:
            url = reverse("admin:newsletter_oneoffemail_send", args=[send.pk])
            if send.attention:
                return format_html(
                    '<strong>Needs attention:</strong> {} <a href="{}">Review and send</a>',
                    send.attention,
                    url,
                )
            return format_html('<a href="{}">Review and send</a>', url)
        url = reverse("admin:newsletter_results", args=[send.pk])
        return format_html('<a href="{}">Results</a>', url)

    def get_urls(self) -> list:
        view = self.admin_site.admin_view
        return [
            path("<int:send_id>/send/", view(self.send_view), name="newsletter_oneoffemail_send"),
            path(
                "<int:send_id>/preview.html",
                view(self.preview_html),
                name="newsletter_oneoffemail_preview_html",
            ),
            path(
                "<int:send_id>/preview.txt",
                view(self.preview_text),
                name="newsletter_oneoffemail_preview_text",
            ),
            path("<int:send_id>/results/", view(self.results_view), name="newsletter_results"),
            path("results.csv", view(self.results_csv), name="newsletter_results_csv"),
            *super().get_urls(),
        ]

    def _preview(self, request: HttpRequest, send_id: int) -> tuple[str, str, str] | None:
        if not self.has_view_permission(request):
            return None
        send = get_object_or_404(OneOffEmail.objects.all(), pk=send_id)
        return digests.render_preview(send)

    @method_decorator(xframe_options_sameorigin)
    def preview_html(self, request: HttpRequest, send_id: int) -> HttpResponse:
        rendered = self._preview(request, send_id)
        if rendered is None:
            return HttpResponse(status=403)
        response = HttpResponse(rendered[2])
        # The email's own HTML, shown in a frame of the send page: nothing in it may run.
        response["Content-Security-Policy"] = (
            "sandbox; default-src 'none'; img-src * data:; style-src 'unsafe-inline'; "
            "frame-ancestors 'self'"
        )
        return response

    def preview_text(self, request: HttpRequest, send_id: int) -> HttpResponse:
        rendered = self._preview(request, send_id)
        if rendered is None:
            return HttpResponse(status=403)
        return HttpResponse(
            f"Subject: {rendered[0]}\n\n{rendered[1]}", content_type="text/plain; charset=utf-8"
        )

    @method_decorator(csp_override(REVIEW_PAGE_CSP))
    def send_view(self, request: HttpRequest, send_id: int) -> HttpResponse:
        """Review: segment size, previews, a test to oneself; then send now or schedule."""
        if not self.has_view_permission(request):
            return HttpResponse(status=403)
        send = get_object_or_404(OneOffEmail.objects.all(), pk=send_id)
        # The role's permission to change one-off emails; the send's state is the services' call.
        allowed = self.has_change_permission(request)
        may_send = allowed and send.status == Digest.Status.DRAFT
        form = StartForm(initial={"when": "now"})
        status = 200
        if request.method == "POST" and not allowed:
            return HttpResponse(status=403)
        if request.method == "POST" and "_test" in request.POST and may_send:
            self._send_test(request, send)
            return redirect("admin:newsletter_oneoffemail_send", send.pk)
        if request.method == "POST" and "_cancel" in request.POST:
            try:
                services.cancel_send(send.pk)
            except SubscriptionStateError as error:
                self.message_user(request, str(error), messages.ERROR)
            else:
                self.message_user(request, "The scheduled send is cancelled; it is a draft again.")
            return redirect("admin:newsletter_oneoffemail_send", send.pk)
        if request.method == "POST":
            form = StartForm(request.POST)
            if form.is_valid():
                try:
                    started = services.start_send(send.pk, form.cleaned_data["send_at"])
                except SubscriptionStateError as error:
                    form.add_error(None, str(error))
                else:
                    when = (
                        f"at {timezone.localtime(started.send_after):%Y-%m-%d %H:%M}"
                        if started.send_after
                        else "now"
                    )
                    self.message_user(request, f"“{send.subject}” is sent {when}.")
                    return redirect("admin:newsletter_oneoffemail_changelist")
            status = 400
        if send.attention and request.method == "GET":
            self.message_user(request, f"Needs attention: {send.attention}", messages.WARNING)
        try:
            size: int | None = segments.segment_size(send)
            segment_problem = ""
        except segments.SegmentUnavailable as error:
            size, segment_problem = None, str(error)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Review and send: {send.subject}",
            "send": send,
            "segment_size": size,
            "segment_problem": segment_problem,
            "form": form,
            "may_send": may_send,
            "may_cancel": allowed
            and send.status == Digest.Status.SENDING
            and send.send_after is not None
            and send.fanned_out_at is None
            and not send.recipients_through,
            "opts": self.model._meta,
            "media": self.media + form.media,
        }
        return TemplateResponse(
            request, "admin/newsletter/send_review.html", context, status=status
        )

    def _send_test(self, request: HttpRequest, send: Digest) -> None:
        email = getattr(request.user, "email", "")
        if not email:
            self.message_user(
                request, "Your account has no email address; add one first.", messages.ERROR
            )
            return
        try:
            digests.send_test_digest(send, email)
        except OSError as error:
            self.message_user(request, f"Could not reach the mail server: {error}", messages.ERROR)
            return
        self.message_user(request, f"Test sent to {email}.")


@admin.register(DigestEdition)
class DigestEditionAdmin(admin.ModelAdmin):
    """The editor's note and lead article of a coming digest (services.save_edition builds a
    digest that was waiting for its note)."""

    list_display = ["date", "short_note", "lead_article", "updated_at"]
    raw_id_fields = ["lead_article"]
    date_hierarchy = "date"

    @admin.display(description="note")
    def short_note(self, edition: DigestEdition) -> str:
        return edition.note[:80]

    def save_model(self, request: HttpRequest, obj: DigestEdition, form, change: bool) -> None:
        services.save_edition(obj)
