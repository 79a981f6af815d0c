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
from django.db.models import Count, F, Q, QuerySet, Sum
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
from pressroom.lib.attribution import CAMPAIGN_LENGTH, PATH_LENGTH

# Paths under /donate/ that are pages, not campaigns.
RESERVED_SLUGS = frozenset({"thanks", "cancelled", "portal", "manage", "card"})


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
    monthly_preset_amounts = models.CharField(
        max_length=200,
        blank=True,
        default="",
        db_default="",
        help_text="Amounts offered for monthly (and annual) gifts, e.g. '5, 10, 20, 35'; "
        "blank offers the one-time amounts.",
    )
    starts_at = models.DateTimeField(default=timezone.now)
    ends_at = models.DateTimeField()
    is_active = models.BooleanField("on", default=True, help_text="Off hides the campaign at once.")
    online_giving_paused = models.BooleanField(
        "pause online giving",
        default=False,
        db_default=False,
        help_text="On: the campaign stays, but its pages offer the ways to give of the site "
        "settings instead of a checkout.",
    )
    processor = models.CharField(
        "payment processor",
        max_length=40,
        blank=True,
        default="",
        db_default="",
        help_text="Who takes this campaign's gifts; empty: the site's default processor.",
    )
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
        for field in ("preset_amounts", "monthly_preset_amounts"):
            try:
                self._parse_presets(getattr(self, field))
            except AmountError as error:
                raise ValidationError({field: str(error)}) from None
        if self.goal_amount is not None:
            try:
                parse_amount(self.goal_amount, self.currency)
            except AmountError as error:
                raise ValidationError({"goal_amount": str(error)}) from None

    def _parse_presets(self, text: str) -> list[Decimal]:
        return [parse_amount(part, self.currency) for part in text.split(",") if part.strip()]

    def preset_amount_list(self, frequency: str = "once") -> list[Decimal]:
        """The amounts the donate page offers for this frequency: a monthly gift is smaller
        than a one-time one, so editors may offer other amounts for repeating gifts."""
        if frequency != Frequency.ONCE and self.monthly_preset_amounts.strip():
            return self._parse_presets(self.monthly_preset_amounts)
        return self._parse_presets(self.preset_amounts)

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
    ANNUAL = "annual", "Annual"

    @classmethod
    def repeating(cls) -> frozenset[str]:
        return frozenset({cls.MONTHLY, cls.ANNUAL})


class RecurringDonationQuerySet(models.QuerySet["RecurringDonation"]):
    def stops_due(self, now: datetime | None = None) -> RecurringDonationQuerySet:
        """Stops recorded here that the processor has not confirmed yet, and lapsed gifts not
        yet cancelled there, due for another try."""
        return self.filter(
            status__in=[RecurringDonation.Status.STOP_REQUESTED, RecurringDonation.Status.LAPSED],
            stop_next_attempt_at__lte=now or timezone.now(),
        )


class RecurringDonation(models.Model):
    """A monthly (or annual) gift at some processor; each payment is a Donation."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        # Stopped here at once (by the donor or staff); the processor has not confirmed the
        # cancellation yet (unreachable, or gone): a task retries it until it does.
        STOP_REQUESTED = "stop_requested", "Stop requested (processor not confirmed yet)"
        CANCELLED = "cancelled", "Cancelled"
        # The processor gave up after its retries of a failed payment: the donor did not stop it.
        LAPSED = "lapsed", "Lapsed (payments failed)"
        # The donor restarted it at another processor (moved_to); this one is then cancelled.
        MOVED = "moved", "Moved to another processor"

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
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    frequency = models.CharField(
        max_length=10,
        choices=[(Frequency.MONTHLY, "Monthly"), (Frequency.ANNUAL, "Annual")],
        default=Frequency.MONTHLY,
        db_default=Frequency.MONTHLY,
    )
    is_anonymous = models.BooleanField(
        default=False, db_default=False, help_text="The donor asked not to be named in public."
    )
    started_at = models.DateTimeField(default=timezone.now)
    cancelled_at = models.DateTimeField(
        null=True, blank=True, help_text="When the donor or staff stopped it (or the processor)."
    )
    stop_confirmed_at = models.DateTimeField(
        null=True, blank=True, help_text="When the processor confirmed it will charge no more."
    )
    stop_attempts = models.PositiveIntegerField(default=0, db_default=0, editable=False)
    stop_next_attempt_at = models.DateTimeField(null=True, blank=True, editable=False)
    stop_last_error = models.CharField(max_length=500, blank=True, default="", db_default="")
    amount_changed_at = models.DateTimeField(null=True, blank=True, editable=False)
    amount_change_confirmed_at = models.DateTimeField(null=True, blank=True, editable=False)
    cancellation_confirmed_at = models.DateTimeField(null=True, blank=True, editable=False)
    provider_customer_reference = models.CharField(
        max_length=255,
        blank=True,
        default="",
        db_default="",
        help_text="The processor's customer (e.g. cus_...): whose card a billing portal updates.",
    )
    lapsed_at = models.DateTimeField(null=True, blank=True)
    lapse_notice_sent_at = models.DateTimeField(null=True, blank=True, editable=False)
    moved_to = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="moved_from"
    )
    moved_at = models.DateTimeField(null=True, blank=True)
    # When its old processor confirmed the cancellation after a move (empty: still to do; a
    # task retries it while that processor is unreachable).
    move_cancelled_at = models.DateTimeField(null=True, blank=True, editable=False)
    move_invited_at = models.DateTimeField(null=True, blank=True, editable=False)
    # When the donor's move link last opened a checkout at the new processor: a second one
    # within MOVE_CHECKOUT_WINDOW is refused, so one link does not start two gifts.
    move_checkout_started_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = RecurringDonationQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "provider_reference"],
                name="recurring_unique_provider_reference",
            )
        ]

    def __str__(self) -> str:
        return f"{format_amount(self.amount, self.currency, exact=True)} {self.period_word} from {self.donor.email}"

    @property
    def period_word(self) -> str:
        return "yearly" if self.frequency == Frequency.ANNUAL else "monthly"

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE

    @property
    def is_stopping(self) -> bool:
        return self.status == self.Status.STOP_REQUESTED

    def _ensure_not_stopped(self) -> None:
        if self.status in {self.Status.CANCELLED, self.Status.STOP_REQUESTED}:
            raise DonationStateError("This monthly gift is already cancelled.")
        if self.status == self.Status.LAPSED:
            raise DonationStateError("This monthly gift already ended after failed payments.")
        if self.status == self.Status.MOVED:
            raise DonationStateError(
                "This monthly gift moved to another processor; stop the new one instead."
            )

    def request_stop(self, at: datetime | None = None) -> None:
        """Stop it here at once; the processor's confirmation follows (confirm_stop)."""
        self._ensure_not_stopped()
        self.status = self.Status.STOP_REQUESTED
        self.cancelled_at = at or timezone.now()
        self.stop_next_attempt_at = self.cancelled_at

    def confirm_stop(self, at: datetime | None = None) -> None:
        """The processor says it charges no more (its answer, or its own end event)."""
        if self.status != self.Status.STOP_REQUESTED:
            raise DonationStateError("No stop of this monthly gift is waiting to be confirmed.")
        self.status = self.Status.CANCELLED
        self.stop_confirmed_at = at or timezone.now()
        self.stop_next_attempt_at = None

    def cancel(self, at: datetime | None = None) -> None:
        """The processor ended it at the donor's or staff's request (its own event)."""
        self._ensure_not_stopped()
        self.status = self.Status.CANCELLED
        self.cancelled_at = at or timezone.now()
        self.stop_confirmed_at = self.cancelled_at

    def move(self, to: RecurringDonation, at: datetime | None = None) -> None:
        """The donor restarted this gift as `to` at another processor."""
        if not self.is_active:
            raise DonationStateError("Only an active monthly gift can move to another processor.")
        if to.pk == self.pk or to.provider == self.provider:
            raise DonationStateError("A monthly gift moves to another processor's gift.")
        self.status = self.Status.MOVED
        self.moved_to = to
        self.moved_at = at or timezone.now()

    def lapse(self, at: datetime | None = None) -> None:
        """The processor stopped the gift after failed payments (not the donor's choice)."""
        if not self.is_active:
            raise DonationStateError("This monthly gift has already stopped.")
        self.status = self.Status.LAPSED
        self.lapsed_at = at or timezone.now()
        # Stripe's "unpaid" keeps the subscription, which charges again once its open invoice
        # is paid: the processor is asked to cancel it, as for a stop (stopping.py).
        self.stop_next_attempt_at = self.lapsed_at

    @property
    def is_cancelling_at_processor(self) -> bool:
        """A stop or a lapse the processor has not confirmed the end of yet."""
        return self.stop_next_attempt_at is not None and self.status in {
            self.Status.STOP_REQUESTED,
            self.Status.LAPSED,
        }


class PaymentFailure(models.Model):
    """A monthly payment the processor could not take (one row per invoice, however many
    times it retries or repeats the event): the donor and staff are told once."""

    class Kind(models.TextChoices):
        DECLINED = "declined", "Card declined"
        ACTION_REQUIRED = "action_required", "Donor must confirm the payment"

    recurring_donation = models.ForeignKey(
        RecurringDonation, on_delete=models.CASCADE, related_name="payment_failures"
    )
    provider = models.CharField(max_length=40)
    reference = models.CharField(max_length=255, help_text="E.g. the Stripe invoice id.")
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.DECLINED)
    amount = models.DecimalField(max_digits=14, decimal_places=3)
    currency = models.CharField(max_length=3)
    attempts = models.PositiveIntegerField(default=1)
    failed_at = models.DateTimeField(default=timezone.now)
    recovered_at = models.DateTimeField(
        null=True, blank=True, help_text="When a later attempt paid it."
    )
    donor_notified_at = models.DateTimeField(null=True, blank=True, editable=False)
    staff_notified_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-failed_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "reference"], name="payment_failure_unique_reference"
            )
        ]

    def __str__(self) -> str:
        return f"{format_amount(self.amount, self.currency, exact=True)} failed ({self.reference})"


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

    def attributed_between(self, start: datetime, end: datetime) -> DonationQuerySet:
        """Counted gifts received in [start, end) that know where they started."""
        return (
            self.counted()
            .filter(received_at__gte=start, received_at__lt=end)
            .exclude(source_path="", source_campaign="")
        )

    def by_source_path(self, start: datetime, end: datetime) -> QuerySet:
        """Counted gifts received in [start, end) per page they started from and currency:
        rows of {source_path, currency, donations, gross, net}, most gifts first (amounts are
        never added across currencies). Gifts that started nowhere known are left out."""
        return self._per_source("source_path", start, end)

    def by_source_campaign(self, start: datetime, end: datetime) -> QuerySet:
        """As by_source_path, per campaign tag ("email-123": the send whose link brought the
        donor). A tag is only data: the newsletter counts a send's gifts from its start on."""
        return self._per_source("source_campaign", start, end)

    def _per_source(self, field: str, start: datetime, end: datetime) -> QuerySet:
        return (
            self.attributed_between(start, end)
            .exclude(**{field: ""})
            .order_by()
            .values(field, "currency")
            .annotate(
                donations=Count("id"),
                gross=Sum("amount"),
                net=Sum(F("amount") - F("refunded_amount")),
            )
            .order_by("-donations", field, "currency")
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
    covered_fee = models.DecimalField(
        default=Decimal(0),
        db_default=Decimal(0),
        max_digits=14,
        decimal_places=3,
        help_text="The part of the amount the donor added to cover the processor's fees.",
    )
    is_anonymous = models.BooleanField(
        default=False, db_default=False, help_text="The donor asked not to be named in public."
    )
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
    # Where the gift started (pressroom.lib.attribution): the page the donate form was reached
    # from, and the tag of the send whose link brought the reader ("email-123"). Plain data:
    # fundraising knows no sends; the newsletter counts a send's gifts by its tag.
    source_path = models.CharField(
        max_length=PATH_LENGTH, blank=True, default="", db_default="", editable=False
    )
    source_campaign = models.CharField(
        max_length=CAMPAIGN_LENGTH, blank=True, default="", db_default="", editable=False
    )

    objects = DonationQuerySet.as_manager()

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["campaign", "received_at"], name="donation_campaign_time"),
            models.Index(
                fields=["source_campaign", "received_at"],
                condition=~Q(source_campaign=""),
                name="donation_source_campaign",
            ),
        ]
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
                condition=Q(covered_fee__gte=0) & Q(covered_fee__lt=F("amount")),
                name="donation_covered_fee_within_amount",
            ),
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

    @property
    def public_donor_name(self) -> str:
        """The name any public list or report may show: never an anonymous donor's."""
        return "Anonymous" if self.is_anonymous else (self.donor.name or "A reader")

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


class Tribute(models.Model):
    """A gift made in honour or in memory of someone, with an optional card to a person the
    donor names (sent once; the amount only when the donor allows it)."""

    class Kind(models.TextChoices):
        HONOUR = "honour", "In honour of"
        MEMORY = "memory", "In memory of"

    donation = models.OneToOneField(Donation, on_delete=models.CASCADE, related_name="tribute")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    honoree_name = models.CharField(max_length=200)
    notify_name = models.CharField(max_length=200, blank=True)
    notify_email = models.EmailField(max_length=254, blank=True)
    show_amount = models.BooleanField(default=False)
    notified_at = models.DateTimeField(null=True, blank=True, editable=False)

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.honoree_name}"


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


class OpenedCheckout(models.Model):
    """A checkout Pressroom opened at a processor, kept under the processor's id for it (a
    PayPal order or subscription): what the donor chose that the processor cannot carry back
    (PayPal's custom_id holds 127 characters), read again when the payment is recorded; and
    the proof that a thanks page's order id is one of ours before anything asks the
    processor about it."""

    provider = models.CharField(max_length=40)
    reference = models.CharField(max_length=255)
    frequency = models.CharField(max_length=10, choices=Frequency.choices)
    campaign_slug = models.CharField(max_length=100, blank=True, default="")
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "reference"], name="opened_checkout_unique_reference"
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider} checkout {self.reference}"


class ProcessorHealth(models.Model):
    """How the calls to one payment processor went lately, shared by every process: after
    FUNDRAISING_PROCESSOR_FAILURES failed calls in a row the donate page stops offering a
    checkout for a while and staff are emailed once per outage."""

    provider = models.CharField(max_length=40, unique=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    down_since = models.DateTimeField(null=True, blank=True)
    staff_alerted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "processor health"

    def __str__(self) -> str:
        return f"{self.provider}: {self.consecutive_failures} failed calls in a row"


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
