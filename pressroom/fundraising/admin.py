"""Fundraising in the admin: campaigns, donors, donations (offline ones entered here), reports."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Max, QuerySet, Sum
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from pressroom.fundraising import reports, services
from pressroom.fundraising.models import (
    Campaign,
    Donation,
    DonationStateError,
    Donor,
    RecurringDonation,
    WebhookEvent,
)
from pressroom.fundraising.money import AmountError, format_amount, parse_amount
from pressroom.fundraising.providers import OFFLINE_METHODS, provider_label
from pressroom.lib.forms import BoundedModelChoiceField


class ExportForm(forms.Form):
    campaign = BoundedModelChoiceField(queryset=Campaign.objects.all(), required=False)


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ["title", "heading", "progress", "starts_at", "ends_at", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["title", "heading"]
    prepopulated_fields = {"slug": ["title"]}
    fields = [
        "title",
        "slug",
        "heading",
        "message",
        ("goal_amount", "currency"),
        "preset_amounts",
        ("starts_at", "ends_at"),
        "is_active",
    ]

    @admin.display(description="Raised")
    def progress(self, campaign: Campaign) -> str:
        totals = campaign.totals()
        return (
            f"{format_amount(totals.raised, campaign.currency)} of "
            f"{format_amount(campaign.goal_amount, campaign.currency)} · {totals.donor_count} donors"
        )

    def save_model(self, request: HttpRequest, obj: Campaign, form, change: bool) -> None:
        services.save_campaign(obj)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("reports/", view(self.reports_view), name="fundraising_reports"),
            path("reports/export.csv", view(self.export_view), name="fundraising_export"),
            path("reports/<int:pk>/chart.svg", view(self.chart_view), name="fundraising_chart"),
            *super().get_urls(),
        ]

    def _require_view(self, request: HttpRequest) -> None:
        if not request.user.has_perm("fundraising.view_donation"):
            raise PermissionDenied

    def reports_view(self, request: HttpRequest) -> HttpResponse:
        self._require_view(request)
        rows = reports.campaign_rows()
        selected = request.GET.get("campaign")
        chart_campaign = next(
            (row.campaign for row in rows if str(row.campaign.pk) == selected),
            rows[0].campaign if rows else None,
        )
        context = {
            **self.admin_site.each_context(request),
            "title": "Fundraising reports",
            "campaign_rows": rows,
            "monthly": reports.monthly_totals(),
            "donor_count": Donor.objects.filter(donations__isnull=False).distinct().count(),
            "active_monthly": RecurringDonation.objects.filter(
                status=RecurringDonation.Status.ACTIVE
            ).count(),
            "chart_campaign": chart_campaign,
            "chart_svg": reports.daily_chart_svg(chart_campaign) if chart_campaign else "",
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "fundraising/admin/reports.html", context)

    def chart_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        self._require_view(request)
        campaign = get_object_or_404(Campaign, pk=pk)
        return HttpResponse(reports.daily_chart_svg(campaign), content_type="image/svg+xml")

    def export_view(self, request: HttpRequest) -> HttpResponseBase:
        self._require_view(request)
        donations = Donation.objects.select_related("donor", "campaign").order_by(
            "received_at", "id"
        )
        form = ExportForm(request.GET)
        if not form.is_valid():
            # Checked before the download starts: a bad id must not break it mid-stream.
            return HttpResponse(
                "Choose a campaign from the fundraising reports page: "
                + " ".join(str(error) for error in form.errors.get("campaign", [])),
                status=400,
                content_type="text/plain; charset=utf-8",
            )
        if campaign := form.cleaned_data["campaign"]:
            donations = donations.filter(campaign=campaign)
        response = StreamingHttpResponse(
            reports.stream_csv(reports.donation_csv_rows(donations.iterator(chunk_size=2000))),
            content_type="text/csv; charset=utf-8",
        )
        stamp = timezone.localdate().isoformat()
        response["Content-Disposition"] = f'attachment; filename="donations-{stamp}.csv"'
        return response

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        extra_context = {
            **(extra_context or {}),
            "reports_url": reverse("admin:fundraising_reports"),
        }
        return super().changelist_view(request, extra_context)


class OfflineDonationForm(forms.ModelForm):
    """Money that came outside the online processor: cheque, transfer, another processor."""

    email = forms.EmailField(help_text="The donor's address; their receipt goes here.")
    name = forms.CharField(required=False, max_length=200)
    amount_text = forms.CharField(label="Amount", max_length=30, help_text="E.g. 50 or 50.25")
    provider = forms.ChoiceField(label="Method", choices=list(OFFLINE_METHODS.items()))
    currency = forms.CharField(
        max_length=3, required=False, help_text="Leave empty for the campaign's currency."
    )
    send_receipt = forms.BooleanField(
        required=False, initial=True, help_text="Email the donor a receipt."
    )

    class Meta:
        model = Donation
        fields = ["campaign", "provider", "provider_reference", "currency", "received_at", "note"]
        labels = {"provider_reference": "Reference (cheque number, transfer id, ...)"}
        help_texts = {
            "provider_reference": "Entered once per method, so the same cheque never counts twice."
        }

    def clean(self) -> dict:
        cleaned = super().clean() or {}
        campaign = cleaned.get("campaign")
        currency = (cleaned.get("currency") or "").upper() or (
            campaign.currency if campaign else settings.FUNDRAISING_CURRENCY
        )
        cleaned["currency"] = currency
        self.instance.currency = currency
        try:
            cleaned["amount"] = parse_amount(cleaned.get("amount_text") or "", currency)
        except AmountError as error:
            self.add_error("amount_text", str(error))
        else:
            self.instance.amount = cleaned["amount"]
        return cleaned


@admin.register(Donation)
class DonationAdmin(admin.ModelAdmin):
    list_display = [
        "received_at",
        "donor",
        "amount_display",
        "status",
        "frequency",
        "campaign",
        "method",
        "provider_reference",
    ]
    list_filter = ["campaign", "status", "frequency", "provider", "currency"]
    search_fields = ["donor__email", "donor__name", "provider_reference"]
    date_hierarchy = "received_at"
    list_select_related = ["donor", "campaign"]
    actions = ["mark_refunded"]
    readonly_fields = [
        "donor",
        "campaign",
        "amount",
        "currency",
        "frequency",
        "recurring_donation",
        "provider",
        "provider_reference",
        "provider_payment_reference",
        "status",
        "refunded_amount",
        "received_at",
        "receipt_requested",
        "receipt_sent_at",
    ]

    @admin.display(description="Amount", ordering="amount")
    def amount_display(self, donation: Donation) -> str:
        return format_amount(donation.amount, donation.currency)

    @admin.display(description="Method", ordering="provider")
    def method(self, donation: Donation) -> str:
        return provider_label(donation.provider)

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = OfflineDonationForm
            kwargs["fields"] = None
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [
                (
                    "Offline donation",
                    {
                        "fields": [
                            "email",
                            "name",
                            "amount_text",
                            "currency",
                            "campaign",
                            "provider",
                            "provider_reference",
                            "received_at",
                            "note",
                            "send_receipt",
                        ]
                    },
                )
            ]
        return [(None, {"fields": [*self.readonly_fields, "note"]})]

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else []

    def save_model(self, request: HttpRequest, obj: Donation, form, change: bool) -> None:
        if change:
            obj.save(update_fields=["note"])
            return
        data = form.cleaned_data
        created = services.record_offline_donation(
            email=data["email"],
            name=data["name"],
            amount=data["amount"],
            currency=data["currency"],
            method=data["provider"],
            reference=data["provider_reference"],
            campaign=data["campaign"],
            received_at=data["received_at"],
            note=data["note"],
            send_receipt=data["send_receipt"],
        )
        obj.pk, obj.donor = created.pk, created.donor

    def has_delete_permission(self, request, obj=None) -> bool:
        # Donor history must survive: a mistaken entry is refunded, not deleted.
        return False

    @admin.action(description="Mark as fully refunded (offline donations)")
    def mark_refunded(self, request: HttpRequest, queryset: QuerySet[Donation]) -> None:
        done = 0
        for donation in queryset:
            if donation.provider not in OFFLINE_METHODS:
                self.message_user(
                    request,
                    f"{donation}: refund it at {provider_label(donation.provider)}; "
                    "its webhook records the refund here.",
                    messages.WARNING,
                )
                continue
            try:
                services.refund_donation(donation.pk, donation.amount)
                done += 1
            except DonationStateError as error:
                self.message_user(request, f"{donation}: {error}", messages.WARNING)
        if done:
            self.message_user(request, f"Marked {done} donation(s) refunded.", messages.SUCCESS)


@admin.register(Donor)
class DonorAdmin(admin.ModelAdmin):
    list_display = ["email", "name", "gifts", "total_given", "last_gift", "created_at"]
    search_fields = ["email", "name"]
    readonly_fields = ["created_at"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                gift_count=Count("donations"),
                last_gift_at=Max("donations__received_at"),
                amount_sum=Sum("donations__amount"),
            )
        )

    @admin.display(description="Gifts", ordering="gift_count")
    def gifts(self, donor: Donor) -> int:
        return donor.gift_count  # type: ignore[attr-defined]

    @admin.display(description="Given (all currencies)", ordering="amount_sum")
    def total_given(self, donor: Donor) -> str:
        return f"{donor.amount_sum:.2f}" if donor.amount_sum else "—"  # type: ignore[attr-defined]

    @admin.display(description="Last gift", ordering="last_gift_at")
    def last_gift(self, donor: Donor):
        return donor.last_gift_at  # type: ignore[attr-defined]


@admin.register(RecurringDonation)
class RecurringDonationAdmin(admin.ModelAdmin):
    list_display = ["donor", "amount", "currency", "campaign", "status", "started_at", "provider"]
    list_filter = ["status", "provider", "campaign"]
    search_fields = ["donor__email", "provider_reference"]
    readonly_fields = [
        "donor",
        "campaign",
        "amount",
        "currency",
        "provider",
        "provider_reference",
        "status",
        "started_at",
        "cancelled_at",
    ]
    actions = ["cancel_selected"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Cancel at the processor")
    def cancel_selected(self, request: HttpRequest, queryset) -> None:
        from pressroom.fundraising.providers import ProviderError

        for recurring in queryset:
            try:
                services.cancel_recurring_donation(recurring.pk)
            except (DonationStateError, ProviderError) as error:
                self.message_user(request, f"{recurring}: {error}", messages.WARNING)
            else:
                self.message_user(request, f"Cancelled {recurring}.", messages.SUCCESS)


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    list_display = ["received_at", "provider", "event_type", "event_id", "status"]
    list_filter = ["provider", "event_type", "status"]
    search_fields = ["event_id", "waiting_for"]
    readonly_fields = [
        "provider",
        "event_id",
        "event_type",
        "status",
        "waiting_for",
        "problem",
        "received_at",
        "processed_at",
        "payload",
    ]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
