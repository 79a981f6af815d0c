"""Fundraising records: campaigns, donors, donations, monthly gifts and received webhook events.

Donor and Donation rows name their processor only by a provider name and a provider reference,
so a change of processor (or years of offline giving) never touches the history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Count, F, Q, Sum
from django.db.models.functions import Coalesce, Lower
from django.urls import reverse
from django.utils import timezone

from pressroom.fundraising.methods import OFFLINE_METHODS
from pressroom.fundraising.money import (
    AmountError,
    currency_exponent,
    format_amount,
    parse_amount,
)

# Paths under /donate/ that are pages, not campaigns.
RESERVED_SLUGS = frozenset({"thanks", "cancelled", "portal", "manage"})


class DonationStateError(Exception):
    """A donation or monthly gift was asked to make a change its state does not allow."""


class CampaignQuerySet(models.QuerySet["Campaign"]):
    def running(self, now: datetime | None = None) -> CampaignQuerySet:
        now = now or timezone.now()
        return self.filter(is_active=True, starts_at__lte=now, ends_at__gt=now)

    def next_change_after(self, now: datetime) -> datetime | None:
        """When a campaign next starts or ends: the banner changes then without a save."""
        active = self.filter(is_active=True)
        moments = [
            active.filter(starts_at__gt=now).aggregate(moment=models.Min("starts_at"))["moment"],
            active.filter(ends_at__gt=now).aggregate(moment=models.Min("ends_at"))["moment"],
        ]
        return min((moment for moment in moments if moment is not None), default=None)


class Campaign(models.Model):
    title = models.CharField(max_length=200, help_text="Internal name, e.g. 'End Of Year 2026'.")
    slug = models.SlugField(max_length=100, unique=True)
    heading = models.CharField(
        max_length=200,
        help_text="Shown on the banner, e.g. 'Urgent End Of Year Fundraising Campaign'.",
    )
    message = models.TextField(help_text="Plain text; blank lines separate paragraphs.")
    goal_amount = models.DecimalField(max_digits=14, decimal_places=3)
    currency = models.CharField(
        max_length=3, default="USD", help_text="ISO code, e.g. USD, EUR, JPY."
    )
    preset_amounts = models.CharField(
        max_length=200,
        default="10, 25, 50, 100",
        help_text="Amounts offered on the donate page, comma-separated.",
    )
    starts_at = models.DateTimeField(default=timezone.now)
    ends_at = models.DateTimeField()
    is_active = models.BooleanField("on", default=True, help_text="Off hides the campaign at once.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = CampaignQuerySet.as_manager()

    class Meta:
        ordering = ["-starts_at"]
        constraints = [
            models.CheckConstraint(condition=Q(goal_amount__gt=0), name="campaign_goal_positive"),
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="campaign_ends_after_start"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("fundraising:donate-campaign", kwargs={"slug": self.slug})

    def clean(self) -> None:
        self.currency = self.currency.upper()
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValidationError({"ends_at": "A campaign must end after it starts."})
        if self.slug in RESERVED_SLUGS:
            raise ValidationError({"slug": f"{self.slug!r} is a page of its own; choose another."})
        try:
            self.preset_amount_list()
        except AmountError as error:
            raise ValidationError({"preset_amounts": str(error)}) from None
        if self.goal_amount is not None:
            try:
                parse_amount(self.goal_amount, self.currency)
            except AmountError as error:
                raise ValidationError({"goal_amount": str(error)}) from None

    def preset_amount_list(self) -> list[Decimal]:
        return [
            parse_amount(part, self.currency)
            for part in self.preset_amounts.split(",")
            if part.strip()
        ]

    def days_left(self, now: datetime | None = None) -> int:
        remaining = self.ends_at - (now or timezone.now())
        return max(0, remaining.days + (1 if remaining.seconds else 0))

    def totals(self) -> CampaignTotals:
        """What counts toward the goal: paid gifts in the campaign currency, less refunds."""
        figures = (
            Donation.objects.counted()
            .filter(campaign=self, currency=self.currency)
            .aggregate(
                raised=Coalesce(Sum(F("amount") - F("refunded_amount")), Decimal(0)),
                donors=Count("donor", distinct=True),
            )
        )
        return CampaignTotals(raised=figures["raised"], donor_count=figures["donors"])


@dataclass(frozen=True)
class CampaignTotals:
    raised: Decimal
    donor_count: int


@dataclass(frozen=True)
class CurrencyTotal:
    """What a donor gave in one currency: never added to another currency's figures."""

    currency: str
    given: Decimal
    refunded: Decimal

    @property
    def net(self) -> Decimal:
        return self.given - self.refunded


def net_totals_by_donor(donor_ids: list[int]) -> dict[int, list[CurrencyTotal]]:
    """Each donor's gifts per currency, less refunds, in one query (the Donors list's page)."""
    rows = (
        Donation.objects.filter(donor_id__in=donor_ids)
        .values("donor_id", "currency")
        .annotate(given=Sum("amount"), refunded=Sum("refunded_amount"))
        .order_by("donor_id", "currency")
    )
    totals: dict[int, list[CurrencyTotal]] = {donor_id: [] for donor_id in donor_ids}
    for row in rows:
        totals[row["donor_id"]].append(
            CurrencyTotal(row["currency"], row["given"], row["refunded"])
        )
    return totals


class Donor(models.Model):
    # Processors can report a payment without an address (a customer created without one); such
    # a donor still gets a record, under an address in a domain that can never receive mail.
    NO_EMAIL_DOMAIN = "no-email.invalid"

    email = models.EmailField(unique=True, help_text="Stored lower-case: one donor per address.")
    name = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["email"]
        constraints = [
            # Alice@Example.org and alice@example.org are one person: whatever writes a donor
            # (an import, a raw SQL fix, an old release), the database keeps one row per address.
            models.UniqueConstraint(Lower("email"), name="donor_unique_email_case_insensitive")
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>" if self.name else self.email

    def save(self, *args, **kwargs) -> None:
        self.email = normalize_email(self.email)
        super().save(*args, **kwargs)

    def clean(self) -> None:
        self.email = normalize_email(self.email)

    def net_totals(self) -> list[CurrencyTotal]:
        return net_totals_by_donor([self.pk])[self.pk]

    @property
    def can_receive_email(self) -> bool:
        return not self.email.endswith("@" + self.NO_EMAIL_DOMAIN)


def normalize_email(email: str) -> str:
    """The one form an address is stored and looked up in (mailbox names are case-blind in
    practice: nobody has two inboxes that differ by case)."""
    return (email or "").strip().lower()


class Frequency(models.TextChoices):
    ONCE = "once", "One-time"
    MONTHLY = "monthly", "Monthly"


class RecurringDonation(models.Model):
    """A monthly gift at some processor; each month's payment is a Donation."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        CANCELLED = "cancelled", "Cancelled"

    donor = models.ForeignKey(Donor, on_delete=models.PROTECT, related_name="recurring_donations")
    campaign = models.ForeignKey(
        Campaign,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="recurring_donations",
    )
    amount = models.DecimalField(max_digits=14, decimal_places=3)
    currency = models.CharField(max_length=3)
    provider = models.CharField(max_length=40)
    provider_reference = models.CharField(
        max_length=255, help_text="E.g. the Stripe subscription id."
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACTIVE)
    started_at = models.DateTimeField(default=timezone.now)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancellation_confirmed_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "provider_reference"],
                name="recurring_unique_provider_reference",
            )
        ]

    def __str__(self) -> str:
        return f"{format_amount(self.amount, self.currency, exact=True)} monthly from {self.donor.email}"

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE

    def cancel(self, at: datetime | None = None) -> None:
        if self.status == self.Status.CANCELLED:
            raise DonationStateError("This monthly gift is already cancelled.")
        self.status = self.Status.CANCELLED
        self.cancelled_at = at or timezone.now()


class DonationQuerySet(models.QuerySet["Donation"]):
    def counted(self) -> DonationQuerySet:
        """Donations that count toward totals (a full refund leaves a net of zero)."""
        return self.filter(status__in=[Donation.Status.PAID, Donation.Status.PARTIALLY_REFUNDED])

    def awaiting_receipt(self, older_than: datetime, newer_than: datetime) -> DonationQuerySet:
        """Receipts that should have gone out by now (their task failed or was lost)."""
        return self.filter(
            receipt_requested=True,
            receipt_sent_at__isnull=True,
            created_at__lt=older_than,
            created_at__gt=newer_than,
        ).exclude(
            # A gift refunded in full has no receipt (its refund confirmation went instead).
            Q(donor__email__endswith="@" + Donor.NO_EMAIL_DOMAIN)
            | Q(status=Donation.Status.REFUNDED)
        )

    def matching_payment(self, provider: str, references: list[str]) -> DonationQuerySet:
        references = [reference for reference in references if reference]
        return self.filter(provider=provider).filter(
            Q(provider_reference__in=references) | Q(provider_payment_reference__in=references)
        )


class Donation(models.Model):
    class Status(models.TextChoices):
        PAID = "paid", "Paid"
        PARTIALLY_REFUNDED = "partially_refunded", "Partially refunded"
        REFUNDED = "refunded", "Refunded"

    donor = models.ForeignKey(Donor, on_delete=models.PROTECT, related_name="donations")
    campaign = models.ForeignKey(
        Campaign, null=True, blank=True, on_delete=models.PROTECT, related_name="donations"
    )
    amount = models.DecimalField(max_digits=14, decimal_places=3)
    currency = models.CharField(max_length=3)
    frequency = models.CharField(max_length=10, choices=Frequency.choices, default=Frequency.ONCE)
    recurring_donation = models.ForeignKey(
        RecurringDonation, null=True, blank=True, on_delete=models.PROTECT, related_name="donations"
    )
    provider = models.CharField(
        max_length=40, help_text="Who took the money: stripe, cheque, bank_transfer, ..."
    )
    provider_reference = models.CharField(
        max_length=255,
        help_text="The processor's id for this payment (payment intent, invoice, cheque number).",
    )
    provider_payment_reference = models.CharField(
        max_length=255,
        blank=True,
        help_text="A second id refunds may name (e.g. a payment intent).",
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PAID)
    refunded_amount = models.DecimalField(default=Decimal(0), max_digits=14, decimal_places=3)
    refunded_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the latest refund happened (each is a DonationRefund).",
    )
    received_at = models.DateTimeField(default=timezone.now)
    reconciled_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the treasurer matched it with the bank statement; after that it is final.",
    )
    note = models.TextField(blank=True)
    receipt_requested = models.BooleanField(
        default=True,
        # In the database too: the previous release, still serving during an upgrade, inserts
        # donations without this column (docs/deploy.md, "Upgrade").
        db_default=True,
        help_text="Off for offline gifts entered without a receipt.",
    )
    receipt_sent_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = DonationQuerySet.as_manager()

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["campaign", "received_at"], name="donation_campaign_time")]
        constraints = [
            # A processor's payment id is recorded once, whoever it names (events come twice).
            models.UniqueConstraint(
                fields=["provider", "provider_reference"],
                condition=~Q(provider__in=list(OFFLINE_METHODS)),
                name="donation_unique_processor_reference",
            ),
            # Cheque #1001 is one cheque of one donor: another donor's #1001 is another gift,
            # cash has no reference, and a bounced (refunded) cheque may be entered again.
            models.UniqueConstraint(
                fields=["donor", "provider", "provider_reference"],
                condition=Q(provider__in=list(OFFLINE_METHODS))
                & ~Q(provider_reference="")
                & ~Q(status="refunded"),
                name="donation_unique_offline_reference_per_donor",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="donation_amount_positive"),
            models.CheckConstraint(
                condition=Q(refunded_amount__gte=0) & Q(refunded_amount__lte=F("amount")),
                name="donation_refund_within_amount",
            ),
        ]

    def __str__(self) -> str:
        return f"{format_amount(self.amount, self.currency, exact=True)} from {self.donor.email}"

    @property
    def is_offline(self) -> bool:
        return self.provider in OFFLINE_METHODS

    @property
    def net_amount(self) -> Decimal:
        return self.amount - self.refunded_amount

    def ensure_editable(self) -> None:
        """Staff may correct an offline gift (a mistyped cheque) until it is reconciled."""
        if not self.is_offline:
            raise DonationStateError(
                "Online payments are recorded from the processor's events and cannot be edited."
            )
        if self.reconciled_at is not None:
            raise DonationStateError(
                f"This gift was reconciled on {timezone.localdate(self.reconciled_at):%Y-%m-%d} "
                "and can no longer be edited; record a refund and enter it again instead."
            )

    def reconcile(self, at: datetime | None = None) -> None:
        if self.reconciled_at is not None:
            raise DonationStateError("This gift is already reconciled.")
        self.reconciled_at = at or timezone.now()

    def record_refund(self, total_refunded: Decimal, at: datetime | None = None) -> Decimal:
        """Set the refunded total (processors report a running total, so replays are harmless);
        returns what this refund added, to be booked at `at` (a DonationRefund)."""
        if total_refunded < 0 or total_refunded > self.amount:
            raise DonationStateError(
                f"A refund of {total_refunded} does not fit a donation of {self.amount}."
            )
        if total_refunded < self.refunded_amount:
            raise DonationStateError("A refund cannot be undone.")
        exponent = currency_exponent(self.currency)
        previous = self.refunded_amount
        self.refunded_amount = total_refunded.quantize(Decimal(1).scaleb(-exponent))
        added = self.refunded_amount - previous
        if added:
            self.refunded_at = at or timezone.now()
        if self.refunded_amount == 0:
            self.status = self.Status.PAID
        elif self.refunded_amount < self.amount:
            self.status = self.Status.PARTIALLY_REFUNDED
        else:
            self.status = self.Status.REFUNDED
        return added


class DonationRefund(models.Model):
    """One refund of a donation, booked in the month it happened: a month's report never
    changes when a refund of one of its gifts comes later."""

    donation = models.ForeignKey(Donation, on_delete=models.PROTECT, related_name="refunds")
    amount = models.DecimalField(max_digits=14, decimal_places=3)
    refunded_at = models.DateTimeField(db_index=True)
    recorded_at = models.DateTimeField(default=timezone.now, editable=False)
    confirmation_sent_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["refunded_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="donation_refund_positive")
        ]

    def __str__(self) -> str:
        return f"{format_amount(self.amount, self.donation.currency, exact=True)} refunded on {self.refunded_at:%Y-%m-%d}"


class YearEndStatement(models.Model):
    """That a donor's statement of a year was emailed: January's task sends each one once."""

    donor = models.ForeignKey(Donor, on_delete=models.CASCADE, related_name="statements")
    year = models.PositiveSmallIntegerField()
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["donor", "year"], name="statement_once_per_year")
        ]

    def __str__(self) -> str:
        return f"{self.year} statement for {self.donor.email}"


class WebhookEvent(models.Model):
    """Every verified event a processor sent, stored raw before anything else happens."""

    class Status(models.TextChoices):
        PROCESSED = "processed", "Processed"
        IGNORED = "ignored", "Ignored (type not used)"
        WAITING = "waiting", "Waiting for the payment it refers to"
        REJECTED = "rejected", "Rejected (impossible contents; see the problem)"

    provider = models.CharField(max_length=40)
    event_id = models.CharField(max_length=255)
    event_type = models.CharField(max_length=100)
    payload = models.JSONField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PROCESSED)
    waiting_for = models.CharField(
        max_length=255, blank=True, db_index=True, help_text="The payment reference it waits for."
    )
    # db_default: the release before this column inserts events without it (rolling upgrade).
    problem = models.TextField(
        blank=True, default="", db_default="", help_text="Why a rejected event was not applied."
    )
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "event_id"], name="webhook_event_unique_id")
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.event_type} {self.event_id}"
