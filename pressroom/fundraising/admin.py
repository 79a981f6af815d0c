"""Fundraising in the admin: campaigns, donors, donations (offline ones entered here), reports."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.options import ActionLocation
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, Max, QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from pressroom.fundraising import reports, services
from pressroom.fundraising.models import (
    Campaign,
    CurrencyTotal,
    Donation,
    DonationStateError,
    Donor,
    PaymentFailure,
    RecurringDonation,
    Tribute,
    WebhookEvent,
    net_totals_by_donor,
    normalize_email,
)
from pressroom.fundraising.money import AmountError, format_amount, normalize_amount, parse_amount
from pressroom.fundraising.providers import OFFLINE_METHODS, provider_label
from pressroom.lib.admin_lists import QuickRowCheckboxes, QuickRowLinks, QuickRowLinksChangeList
from pressroom.lib.forms import BoundedModelChoiceField

CURRENCY_MESSAGE = "Enter a three-letter ISO currency code, e.g. USD or EUR."


def is_currency_code(text: str) -> bool:
    return len(text) == 3 and text.isascii() and text.isalpha()


class ExportForm(forms.Form):
    campaign = BoundedModelChoiceField(queryset=Campaign.objects.all(), required=False)


class CampaignForm(forms.ModelForm):
    """Offers only the processors configured in this install (and the site's default)."""

    class Meta:
        model = Campaign
        fields = ["processor"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        from pressroom.fundraising.providers import configured_processor_names

        default = provider_label(settings.FUNDRAISING_PROVIDER)
        self.fields["processor"] = forms.ChoiceField(
            label="Payment processor",
            required=False,
            choices=[("", f"The site's default ({default})")]
            + [(name, provider_label(name)) for name in configured_processor_names()],
            help_text="Who takes this campaign's gifts. Only processors with their keys set "
            "in this install are offered.",
        )


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    form = CampaignForm
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
        "monthly_preset_amounts",
        ("starts_at", "ends_at"),
        "is_active",
        "online_giving_paused",
        "processor",
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
            "provider_reference": "Optional (cash needs none). A donor's cheque number is "
            "entered once, so the same cheque never counts twice; another donor's cheque may "
            "carry the same number."
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["provider_reference"].required = False

    def clean(self) -> dict:
        cleaned = super().clean() or {}
        email = cleaned.get("email")
        donor = Donor.objects.filter(email=normalize_email(email)).first() if email else None
        if services.offline_reference_taken(
            donor, cleaned.get("provider") or "", cleaned.get("provider_reference") or ""
        ):
            self.add_error(
                "provider_reference",
                "This donor already has a gift by this method with this reference. Correct "
                "that one instead (or mark it refunded first if it bounced).",
            )
        self._clean_amount(cleaned)
        return cleaned

    def validate_unique(self) -> None:
        # The donor is known only from the email (clean() checks the per-donor reference).
        pass

    def _clean_amount(self, cleaned: dict) -> None:
        campaign = cleaned.get("campaign")
        currency = (cleaned.get("currency") or "").upper() or (
            campaign.currency if campaign else settings.FUNDRAISING_CURRENCY
        )
        cleaned["currency"] = currency
        self.instance.currency = currency
        if not is_currency_code(currency):
            self.add_error("currency", CURRENCY_MESSAGE)
            return
        try:
            cleaned["amount"] = parse_amount(cleaned.get("amount_text") or "", currency)
        except AmountError as error:
            self.add_error("amount_text", str(error))
        else:
            self.instance.amount = cleaned["amount"]


class OfflineDonationChangeForm(forms.ModelForm):
    """A correction of an offline gift not reconciled yet (a mistyped amount or cheque)."""

    amount_text = forms.CharField(label="Amount", max_length=30, help_text="E.g. 50 or 50.25")
    provider = forms.ChoiceField(label="Method", choices=list(OFFLINE_METHODS.items()))

    class Meta:
        model = Donation
        fields = ["campaign", "provider", "provider_reference", "currency", "received_at", "note"]
        labels = {"provider_reference": "Reference (cheque number, transfer id, ...)"}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["provider_reference"].required = False
        if self.instance.pk and not self.is_bound:
            self.initial["amount_text"] = str(
                normalize_amount(self.instance.amount, self.instance.currency)
            )

    def validate_unique(self) -> None:
        pass  # clean() checks the per-donor reference with a clear message

    def clean(self) -> dict:
        cleaned = super().clean() or {}
        try:
            self.instance.ensure_editable()
        except DonationStateError as error:
            raise forms.ValidationError(str(error)) from None
        currency = (cleaned.get("currency") or self.instance.currency).upper()
        cleaned["currency"] = currency
        if not is_currency_code(currency):
            self.add_error("currency", CURRENCY_MESSAGE)
            return cleaned
        try:
            cleaned["amount"] = parse_amount(cleaned.get("amount_text") or "", currency)
        except AmountError as error:
            self.add_error("amount_text", str(error))
        if services.offline_reference_taken(
            self.instance.donor,
            cleaned.get("provider") or "",
            cleaned.get("provider_reference") or "",
            exclude_id=self.instance.pk,
        ):
            self.add_error(
                "provider_reference", "This donor already has another gift with this reference."
            )
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
    list_filter = [
        "campaign",
        "status",
        "frequency",
        "provider",
        "currency",
        # Month-end: what is still to be matched with the bank statement.
        ("reconciled_at", admin.EmptyFieldListFilter),
    ]
    search_fields = ["donor__email", "donor__name", "provider_reference"]
    date_hierarchy = "received_at"
    list_select_related = ["donor", "campaign"]
    actions = ["mark_refunded", "mark_reconciled", "resend_receipts"]
    readonly_fields = [
        "donor",
        "campaign",
        "amount",
        "covered_fee",
        "currency",
        "frequency",
        "is_anonymous",
        "tribute_display",
        "recurring_donation",
        "provider",
        "provider_reference",
        "provider_payment_reference",
        "status",
        "refunded_amount",
        "refunded_at",
        "received_at",
        "reconciled_at",
        "receipt_requested",
        "receipt_sent_at",
    ]
    # An offline gift not reconciled yet: what staff may still correct.
    offline_change_fields = [
        "amount_text",
        "currency",
        "campaign",
        "provider",
        "provider_reference",
        "received_at",
        "note",
    ]

    @staticmethod
    def _is_correctable(obj: Donation | None) -> bool:
        return obj is not None and obj.is_offline and obj.reconciled_at is None

    @admin.display(description="Amount", ordering="amount")
    def amount_display(self, donation: Donation) -> str:
        return format_amount(donation.amount, donation.currency, exact=True)

    @admin.display(description="Method", ordering="provider")
    def method(self, donation: Donation) -> str:
        return provider_label(donation.provider)

    @admin.display(description="Tribute")
    def tribute_display(self, donation: Donation) -> str:
        tribute = Tribute.objects.filter(donation=donation).first()
        if tribute is None:
            return "—"
        note = (
            f"; note to {tribute.notify_email} "
            + (f"sent {tribute.notified_at:%Y-%m-%d}" if tribute.notified_at else "not sent yet")
            if tribute.notify_email
            else ""
        )
        return f"{tribute}{note}"

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = OfflineDonationForm
            kwargs["fields"] = None
        elif self._is_correctable(obj):
            kwargs["form"] = OfflineDonationChangeForm
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
                            *self.offline_change_fields,
                            "send_receipt",
                        ]
                    },
                )
            ]
        if self._is_correctable(obj):
            fixed = [
                name for name in self.readonly_fields if name not in self.offline_change_fields
            ]
            return [
                (
                    "Correct this offline gift (until it is reconciled)",
                    {"fields": self.offline_change_fields},
                ),
                ("Record", {"fields": fixed}),
            ]
        return [(None, {"fields": [*self.readonly_fields, "note"]})]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        if self._is_correctable(obj):
            return [name for name in self.readonly_fields if name not in self.offline_change_fields]
        return self.readonly_fields

    def change_view(self, request, object_id, form_url="", extra_context=None):
        donation = self.get_object(request, object_id)
        if donation is not None and donation.is_offline and donation.reconciled_at is not None:
            self.message_user(
                request,
                f"Reconciled on {timezone.localdate(donation.reconciled_at):%Y-%m-%d}: this gift "
                "can no longer be edited (only its note). To correct it, record a refund and "
                "enter it again.",
                messages.INFO,
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def save_model(self, request: HttpRequest, obj: Donation, form, change: bool) -> None:
        if change and isinstance(form, OfflineDonationChangeForm):
            data = form.cleaned_data
            services.update_offline_donation(
                obj.pk,
                amount=data["amount"],
                currency=data["currency"],
                campaign=data["campaign"],
                provider=data["provider"],
                provider_reference=data["provider_reference"],
                received_at=data["received_at"],
                note=data["note"],
            )
            return
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

    @admin.action(description="Mark as fully refunded (offline donations)", permissions=["change"])
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

    @admin.action(
        description="Mark as reconciled with the bank statement (no more edits)",
        permissions=["change"],
    )
    def mark_reconciled(self, request: HttpRequest, queryset: QuerySet[Donation]) -> None:
        changed = services.reconcile_donations(list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"Reconciled {changed} donation(s).", messages.SUCCESS)

    @admin.action(description="Send the receipt again", permissions=["change"])
    def resend_receipts(self, request: HttpRequest, queryset: QuerySet[Donation]) -> None:
        queued, skipped = services.resend_receipts(list(queryset.values_list("pk", flat=True)))
        if queued:
            self.message_user(
                request, f"Queued {queued} receipt(s) to send again.", messages.SUCCESS
            )
        if skipped:
            self.message_user(
                request,
                f"{skipped} donation(s) have no receipt to send: refunded in full, or no "
                "address that can receive mail.",
                messages.WARNING,
            )


class DonorChangeList(QuickRowLinksChangeList):
    """Reads every shown donor's per-currency totals, number of gifts and last gift, in two
    queries for the page. Counted over every donor, the gifts and last gift joined each search
    to every match's gifts (and the count too): they are, only when the list is sorted by one
    of them."""

    SORTED_BY_GIFTS = ("gifts", "last_gift")
    _annotated = False

    def get_queryset(self, request: HttpRequest, exclude_parameters: Any = None) -> QuerySet:
        columns = self.get_ordering_field_columns()
        sorted_by = {name for index, name in enumerate(self.list_display) if index in columns}
        if not self._annotated and sorted_by.intersection(self.SORTED_BY_GIFTS):
            self._annotated = True
            self.root_queryset = self.root_queryset.annotate(**GIFT_FIGURES)
        return super().get_queryset(request, exclude_parameters)

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        donor_ids = [donor.pk for donor in self.result_list]
        totals = net_totals_by_donor(donor_ids)
        figures = {}
        if not self._annotated:
            figures = {
                row["donor_id"]: row
                for row in Donation.objects.filter(donor_id__in=donor_ids)
                .values("donor_id")
                .annotate(gift_count=Count("id"), last_gift_at=Max("received_at"))
                .order_by()
            }
        for donor in self.result_list:
            donor.currency_totals = totals[donor.pk]
            if not self._annotated:
                row = figures.get(donor.pk, {})
                donor.gift_count = row.get("gift_count", 0)
                donor.last_gift_at = row.get("last_gift_at")


GIFT_FIGURES = {"gift_count": Count("donations"), "last_gift_at": Max("donations__received_at")}


def describe_totals(totals: list[CurrencyTotal]) -> str:
    """'$40.00 · €12.00': net of refunds, one figure per currency, never added together."""
    return " · ".join(format_amount(total.net, total.currency, exact=True) for total in totals)


class DonationInline(admin.TabularInline):
    """Every gift of the donor, on their page (read-only: gifts change through their own page)."""

    model = Donation
    fk_name = "donor"
    extra = 0
    can_delete = False
    show_change_link = True
    verbose_name_plural = "gifts"
    readonly_fields = (
        "received_at",
        "amount_display",
        "refunded_display",
        "status",
        "frequency",
        "campaign",
        "method",
        "provider_reference",
        "reconciled_at",
    )
    fields = readonly_fields
    ordering = ["-received_at", "-id"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("campaign")

    @admin.display(description="Amount")
    def amount_display(self, donation: Donation) -> str:
        return format_amount(donation.amount, donation.currency, exact=True)

    @admin.display(description="Refunded")
    def refunded_display(self, donation: Donation) -> str:
        if not donation.refunded_amount:
            return "—"
        text = format_amount(donation.refunded_amount, donation.currency, exact=True)
        if donation.refunded_at:
            text += f" on {timezone.localdate(donation.refunded_at):%Y-%m-%d}"
        return text

    @admin.display(description="Method")
    def method(self, donation: Donation) -> str:
        return provider_label(donation.provider)


class RecurringDonationInline(admin.TabularInline):
    model = RecurringDonation
    extra = 0
    can_delete = False
    show_change_link = True
    verbose_name_plural = "monthly gifts"
    readonly_fields = (
        "amount",
        "currency",
        "campaign",
        "status",
        "started_at",
        "cancelled_at",
        "provider",
    )
    fields = readonly_fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


# Records of one person: a handful. More is a mistaken selection (e.g. "select all").
MAX_MERGED_DONORS = 20


class MergeDonorsForm(forms.Form):
    kept = forms.TypedChoiceField(
        label="Keep this donor", coerce=int, widget=forms.RadioSelect, choices=()
    )

    def __init__(self, *args, donors: list[Donor], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        kept = self.fields["kept"]
        assert isinstance(kept, forms.TypedChoiceField)
        kept.choices = [(donor.pk, str(donor)) for donor in donors]


@admin.register(Donor)
class DonorAdmin(QuickRowCheckboxes, QuickRowLinks, admin.ModelAdmin):
    list_display = ["email", "name", "gifts", "total_given", "last_gift", "created_at"]
    search_fields = ["email", "name"]
    # A search's own count is enough: the total beside it counted every donor's gifts again.
    show_full_result_count = False
    list_per_page = 50  # as the article list: a hundred rows of gifts and totals took 0.1 s
    readonly_fields = ["created_at", "totals"]
    fields = ["email", "name", "created_at", "totals"]
    inlines = [DonationInline, RecurringDonationInline]
    actions = ["merge_donors"]

    def get_changelist(self, request, **kwargs):
        return DonorChangeList

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # gifts are kept; records of one person are merged instead

    @admin.display(description="Gifts", ordering="gift_count")
    def gifts(self, donor: Donor) -> int:
        return donor.gift_count  # type: ignore[attr-defined]

    @admin.display(description="Given, net of refunds")
    def total_given(self, donor: Donor) -> str:
        totals = getattr(donor, "currency_totals", None)
        if totals is None:
            totals = donor.net_totals()
        return describe_totals(totals) or "—"

    @admin.display(description="Given, net of refunds (per currency)")
    def totals(self, donor: Donor) -> str:
        if donor.pk is None:
            return "—"
        return (
            " · ".join(
                f"{format_amount(total.net, total.currency, exact=True)} "
                f"(given {format_amount(total.given, total.currency, exact=True)}, "
                f"refunded {format_amount(total.refunded, total.currency, exact=True)})"
                for total in donor.net_totals()
            )
            or "—"
        )

    @admin.display(description="Last gift", ordering="last_gift_at")
    def last_gift(self, donor: Donor):
        return donor.last_gift_at  # type: ignore[attr-defined]

    @admin.action(description="Merge the selected donors into one")
    def merge_donors(self, request: HttpRequest, queryset: QuerySet[Donor]):
        if not request.user.has_perm("fundraising.change_donation"):
            raise PermissionDenied
        donors = list(queryset.order_by("created_at", "pk")[: MAX_MERGED_DONORS + 1])
        if not 2 <= len(donors) <= MAX_MERGED_DONORS:
            self.message_user(
                request,
                f"Select between two and {MAX_MERGED_DONORS} donors to merge.",
                messages.WARNING,
            )
            return None
        form = MergeDonorsForm(request.POST if "kept" in request.POST else None, donors=donors)
        if form.is_valid():
            kept_id = form.cleaned_data["kept"]
            try:
                merge = services.merge_donors(
                    kept_id, [donor.pk for donor in donors if donor.pk != kept_id]
                )
            except DonationStateError as error:
                self.message_user(request, str(error), messages.ERROR)
                return None
            summary = (
                f"Merged {', '.join(merge.merged_emails)} into {merge.kept.email}: "
                f"{merge.donations_moved} gift(s) and {merge.monthly_gifts_moved} monthly "
                "gift(s) moved."
            )
            self.log_change(request, merge.kept, summary)  # the admin's history of the donor
            self.message_user(request, summary, messages.SUCCESS)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Merge donors",
            "donors": donors,
            "form": form,
            "queryset": queryset,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "fundraising/admin/merge_donors.html", context)


class PaymentFailureInline(admin.TabularInline):
    model = PaymentFailure
    extra = 0
    can_delete = False
    fields = readonly_fields = (
        "failed_at",
        "reference",
        "kind",
        "amount",
        "currency",
        "attempts",
        "recovered_at",
    )

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(RecurringDonation)
class RecurringDonationAdmin(admin.ModelAdmin):
    list_display = [
        "donor",
        "amount",
        "currency",
        "frequency",
        "campaign",
        "status",
        "failed_payments",
        "started_at",
        "provider",
    ]
    # "Lapsed (payments failed)" in the status filter lists the gifts the processor gave up on.
    list_filter = ["status", "frequency", "provider", "campaign"]
    search_fields = ["donor__email", "provider_reference"]
    readonly_fields = [
        "donor",
        "campaign",
        "amount",
        "currency",
        "provider",
        "provider_reference",
        "provider_customer_reference",
        "status",
        "started_at",
        "frequency",
        "is_anonymous",
        "cancelled_at",
        "stop_confirmed_at",
        "stop_attempts",
        "stop_next_attempt_at",
        "stop_last_error",
        "lapsed_at",
        "moved_to",
        "moved_at",
        "move_invited_at",
        "move_cancelled_at",
    ]
    inlines = [PaymentFailureInline]
    actions = ["cancel_selected", "confirm_stops"]

    def get_actions(
        self, request: HttpRequest, action_location: ActionLocation = ActionLocation.CHANGE_LIST
    ):
        """One "invite to move" action per processor configured here (docs/fundraising.md,
        "Moving to a new processor")."""
        from pressroom.fundraising.providers import configured_processor_names

        actions = super().get_actions(request, action_location)
        if not request.user.has_perm("fundraising.change_recurringdonation"):
            return actions
        for name in configured_processor_names():
            label = provider_label(name)
            action_name = f"invite_move_to_{name}"

            def invite(modeladmin, request, queryset, to_provider=name):
                modeladmin.invite_to_move(request, queryset, to_provider)

            actions[action_name] = (  # type: ignore[assignment]
                invite,
                action_name,
                f"Email a link to move the gift to {label}",
            )
        return actions

    def invite_to_move(self, request: HttpRequest, queryset, to_provider: str) -> None:
        by_provider: dict[str, list[int]] = {}
        for recurring in queryset.filter(status=RecurringDonation.Status.ACTIVE):
            by_provider.setdefault(recurring.provider, []).append(recurring.pk)
        queued = skipped = 0
        for from_provider, ids in by_provider.items():
            if from_provider == to_provider:
                skipped += len(ids)
                continue
            try:
                with transaction.atomic():
                    sent = services.invite_monthly_donors_to_move(
                        from_provider, to_provider, recurring_ids=ids
                    )
            except DonationStateError as error:
                self.message_user(request, str(error), messages.ERROR)
                return
            queued, skipped = queued + sent.queued, skipped + sent.skipped
        self.message_user(
            request,
            f"Queued {queued} invitation(s) to move to {provider_label(to_provider)}; "
            f"{skipped} gift(s) skipped (already there, or no deliverable address).",
            messages.SUCCESS if queued else messages.WARNING,
        )

    def get_queryset(self, request: HttpRequest) -> QuerySet[RecurringDonation]:
        return (
            super()
            .get_queryset(request)
            .select_related("donor", "campaign")
            .annotate(failed_payment_count=Count("payment_failures"))
        )

    @admin.display(description="failed payments", ordering="failed_payment_count")
    def failed_payments(self, recurring: RecurringDonation) -> int:
        return recurring.failed_payment_count  # type: ignore[attr-defined]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(
        description="Stop (at once here; the processor is told until it confirms)",
        permissions=["change"],
    )
    def cancel_selected(self, request: HttpRequest, queryset) -> None:
        for recurring in queryset:
            try:
                services.stop_recurring_donation(recurring.pk)
            except DonationStateError as error:
                self.message_user(request, f"{recurring}: {error}", messages.WARNING)
            else:
                self.message_user(
                    request,
                    f"Stopped {recurring}; the donor is emailed and the processor told.",
                    messages.SUCCESS,
                )

    @admin.action(
        description="Confirm the stop by hand (checked at the processor, or it is gone)",
        permissions=["change"],
    )
    def confirm_stops(self, request: HttpRequest, queryset) -> None:
        changed = services.confirm_stops_by_hand(list(queryset.values_list("pk", flat=True)))
        self.message_user(
            request,
            f"{changed} stop{'s' if changed != 1 else ''} confirmed; no more retries for them.",
            messages.SUCCESS,
        )


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
