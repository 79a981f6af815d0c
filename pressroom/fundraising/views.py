"""Donate, thank-you, cancel and donor-portal pages (per visitor, never cached), and webhooks."""

from __future__ import annotations

import dataclasses
import logging

from django.conf import settings
from django.contrib import messages
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from pressroom.fundraising import services
from pressroom.fundraising.banner import campaign_figures
from pressroom.fundraising.forms import (
    DonateForm,
    PortalLinkForm,
    RecurringAmountForm,
    suggested_amount,
)
from pressroom.fundraising.gifts import GiftDetails, fee_cover_offered, fee_to_cover
from pressroom.fundraising.giving import online_giving_paused, ways_to_give
from pressroom.fundraising.models import (
    Campaign,
    DonationStateError,
    Frequency,
    RecurringDonation,
)
from pressroom.fundraising.money import format_amount, parse_amount
from pressroom.fundraising.providers import (
    PaymentDeclined,
    ProviderBusy,
    ProviderError,
    ProviderNotConfigured,
    ProviderRefused,
    WebhookVerificationError,
    get_provider,
    processor_names,
    provider_label,
)
from pressroom.fundraising.receipts import (
    donor_from_token,
    move_from_token,
    portal_url,
    recurring_from_card_token,
    statement_for,
    statement_text,
)
from pressroom.lib.attribution import Source, source_of
from pressroom.lib.ratelimit import Limit, client_address

logger = logging.getLogger(__name__)

DEFAULT_PRESETS = "10, 25, 50, 100"
# What "Show amounts" keeps of the form besides the frequency, email and name.
KEPT_WHEN_SWITCHING = (
    "cover_fees",
    "anonymous",
    "tribute_kind",
    "tribute_name",
    "tribute_notify_name",
    "tribute_notify_email",
    "tribute_show_amount",
    "source_path",
    "source_campaign",
)


def _donation_target(slug: str | None) -> tuple[Campaign | None, bool]:
    """The campaign a gift goes to, and whether a named campaign has already ended."""
    if slug is None:
        return Campaign.objects.running().order_by("-starts_at", "-id").first(), False
    campaign = get_object_or_404(Campaign, slug=slug)
    if not Campaign.objects.running().filter(pk=campaign.pk).exists():
        return None, True
    return campaign, False


def checkout_limit() -> Limit:
    return Limit("donate-checkout", settings.DONATE_CHECKOUTS_PER_IP_PER_HOUR, 3600)


def _checkout_allowed(request: HttpRequest) -> bool:
    """Each donate POST opens a Checkout Session at the processor: count them per address."""
    return checkout_limit().hit(client_address(request))


def _presets(campaign: Campaign | None, currency: str, frequency: str) -> list:
    if campaign:
        return campaign.preset_amount_list(frequency)
    return [parse_amount(part, currency) for part in DEFAULT_PRESETS.split(",")]


def _with_arrival(details: GiftDetails, arrival: Source) -> GiftDetails:
    """A form posted without its hidden source fields (one embedded in an article, a partner
    site's) started where its own Referer says."""
    return details if details.source else dataclasses.replace(details, source=arrival)


def _chosen_frequency(request: HttpRequest) -> str:
    frequency = (request.POST if request.method == "POST" else request.GET).get("frequency", "")
    return frequency if frequency in Frequency.values else Frequency.ONCE


@csrf_exempt  # A public contract partner sites post to; it only opens a hosted checkout.
@never_cache
def donate(request: HttpRequest, slug: str | None = None) -> HttpResponse:
    campaign, campaign_ended = _donation_target(slug)
    currency = campaign.currency if campaign else settings.FUNDRAISING_CURRENCY
    frequency = _chosen_frequency(request)
    presets = _presets(campaign, currency, frequency)
    # "Show amounts" (the page without its script): the same page with the amounts of the
    # chosen frequency, what the donor typed kept, no checkout and no errors yet.
    switching = request.method == "POST" and "show_amounts" in request.POST
    try:
        provider = services.campaign_provider(campaign)
    except ProviderError:
        # A processor removed from FUNDRAISING_PROCESSORS (the start-up check names it): the
        # page offers the ways to give, never a 500.
        provider = None
    configured = provider is not None and provider.is_configured()
    # Paused by staff (site-wide or this campaign), or the processor failed its last calls:
    # no form whose button could only fail.
    paused = online_giving_paused(campaign)
    resting = (
        provider is not None
        and configured
        and not paused
        and services.processor_is_down(provider.name)
    )
    data = request.POST if request.method == "POST" and not switching else None
    source = request.POST if switching else request.GET
    kept = ("amount", "frequency", "email", "name") + (KEPT_WHEN_SWITCHING if switching else ())
    initial = {key: source[key] for key in kept if key in source}
    if switching:
        initial.pop("amount", None)
    # Where the reader came from (a send's tag, the article): kept in hidden fields through
    # the form, then with the checkout (pressroom.lib.attribution).
    arrival = source_of(request)
    if not switching:
        initial.update(source_path=arrival.path, source_campaign=arrival.campaign)
    if presets and "amount" not in initial:
        initial["amount"] = str(suggested_amount(presets))
    form = DonateForm(
        data,
        initial=initial,
        currency=currency,
        presets=presets,
    )
    if provider is not None and not provider.supports_monthly:
        # A one-time-only processor: no monthly choice whose checkout it would refuse.
        field = form.fields["frequency"]
        field.choices = [choice for choice in field.choices if choice[0] == Frequency.ONCE]  # type: ignore[attr-defined]
    status = 200
    problem = ""
    if switching:
        pass
    elif request.method == "POST" and (not configured or paused or resting):
        status = 503
    elif request.method == "POST" and form.is_valid() and not _checkout_allowed(request):
        problem = (
            "Too many donation attempts from your network. Nothing was charged; "
            "please try again in an hour."
        )
        status = 429
    elif request.method == "POST" and form.is_valid():
        try:
            session = services.start_checkout(
                campaign=campaign,
                amount=form.cleaned_data["donation_amount"],
                currency=currency,
                frequency=form.cleaned_data["frequency"],
                email=form.cleaned_data["email"],
                name=form.cleaned_data["name"],
                site_url=settings.SITE_URL,
                details=_with_arrival(form.gift_details(), arrival),
            )
        except ProviderNotConfigured:
            configured, status = False, 503
        except ProviderRefused:
            logger.warning("The processor refused a checkout", exc_info=True)
            problem = (
                "Our payment processor did not accept this gift (the amount may be over its "
                "limit). Nothing was charged; please check the amount and try again."
            )
            status = 400
        except ProviderBusy:
            logger.warning("Checkout refused: every processor slot of this process is waiting")
            problem = (
                "Our payment processor is answering slowly right now. Nothing was charged; "
                "please try again in a minute."
            )
            status = 503
        except ProviderError:
            logger.exception("Could not open a checkout")
            problem = (
                "We could not reach our payment processor. Nothing was charged; "
                "please try again in a minute."
            )
            status = 503
        else:
            return HttpResponseRedirect(session.url, status=303)
    elif request.method == "POST":
        status = 400
    elif request.method not in {"GET", "HEAD"}:
        return HttpResponse(status=405, headers={"Allow": "GET, HEAD, POST"})
    response = render(
        request,
        "fundraising/donate.html",
        {
            "form": form,
            "campaign": campaign,
            "figures": campaign_figures(campaign) if campaign else None,
            "campaign_ended": campaign_ended,
            "currency": currency,
            "presets": presets,
            "frequency": frequency,
            "presets_by_frequency": {
                value: [
                    {
                        "value": str(preset),
                        "label": format_amount(preset, currency),
                        "fee": format_amount(fee_to_cover(preset, currency), currency, exact=True),
                    }
                    for preset in _presets(campaign, currency, value)
                ]
                for value in Frequency.values
            },
            "fee_offered": fee_cover_offered(),
            "fee_percent": settings.FUNDRAISING_FEE_PERCENT,
            "shown_fee": form.fee_for_shown_amount() if fee_cover_offered() else None,
            "configured": configured,
            "resting": resting,
            "paused": paused,
            "ways": ways_to_give(),
            "problem": problem,
        },
        status=status,
    )
    if status == 429:
        response["Retry-After"] = str(checkout_limit().retry_after(client_address(request)))
    return response


@never_cache
def thanks(request: HttpRequest) -> HttpResponse:
    """Where the processor sends the donor back. PayPal's orders are captured by the merchant:
    its return (?processor=paypal&token=<order>) settles the order now (the webhook would too)."""
    processor, reference = request.GET.get("processor", ""), request.GET.get("token", "")
    if processor in processor_names() and 0 < len(reference) <= 64:
        try:
            services.settle_returning_checkout(processor, reference)
        except PaymentDeclined as declined:
            logger.info("Payment of %s checkout %s declined: %s", processor, reference, declined)
            context = {"processor": provider_label(processor), "retry_url": declined.retry_url}
            return render(request, "fundraising/declined.html", context)
        except ProviderError:
            # The CHECKOUT.ORDER.APPROVED webhook settles it later; the donor is thanked.
            logger.warning("Could not settle %s checkout %s now", processor, reference[:64])
    return render(request, "fundraising/thanks.html")


@never_cache
def cancelled(request: HttpRequest) -> HttpResponse:
    return render(request, "fundraising/cancelled.html")


@csrf_exempt  # Authenticated by the processor's signature, not a cookie.
@require_POST
def webhook(request: HttpRequest, provider: str) -> HttpResponse:
    if provider not in processor_names():
        raise Http404("No such payment provider.")
    try:
        stored = services.receive_webhook(provider, request.body, request.headers)
    except WebhookVerificationError as error:
        return HttpResponseBadRequest(str(error), content_type="text/plain")
    except ProviderError as error:
        # Not configured yet, or the processor's verification service cannot be reached: 503
        # makes the processor deliver the event again later, so nothing is lost.
        logger.warning("Webhook of %s not verified now: %s", provider, error)
        return HttpResponse(
            "The event cannot be verified right now; please send it again later.",
            status=503,
            content_type="text/plain",
        )
    return JsonResponse({"received": True, "status": stored.status})


@never_cache
def portal(request: HttpRequest, token: str) -> HttpResponse:
    donor = donor_from_token(token)
    if donor is None:
        return render(request, "fundraising/portal_invalid.html", status=404)
    return render(
        request,
        "fundraising/portal.html",
        {
            "donor": donor,
            "token": token,
            "donations": donor.donations.select_related("campaign").order_by("-received_at"),
            "recurring_donations": donor.recurring_donations.select_related("campaign"),
            "amount_form": RecurringAmountForm(),
            "statement_years": sorted(
                {moment.year for moment in donor.donations.dates("received_at", "year")},
                reverse=True,
            ),
        },
    )


@never_cache
def portal_statement(request: HttpRequest, token: str, year: int) -> HttpResponse:
    """A donor's statement of one year (every gift, net of refunds), as a text file."""
    donor = donor_from_token(token)
    if donor is None:
        return render(request, "fundraising/portal_invalid.html", status=404)
    if not 2000 <= year <= timezone.localdate().year:
        raise Http404("No statement for that year.")
    statement = statement_for(donor, year)
    if statement.is_empty:
        raise Http404("No gifts that year.")
    response = HttpResponse(statement_text(statement), content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="giving-statement-{year}.txt"'
    return response


@never_cache
@require_POST
def portal_cancel(request: HttpRequest, token: str, recurring_id: int) -> HttpResponse:
    """Stop a monthly gift. Recorded at once, whatever the processor's state; the processor is
    told by the worker (and told again until it confirms)."""
    donor = donor_from_token(token)
    if donor is None:
        return render(request, "fundraising/portal_invalid.html", status=404)
    get_object_or_404(RecurringDonation, pk=recurring_id, donor=donor)
    try:
        services.stop_recurring_donation(recurring_id, donor=donor)
    except DonationStateError as error:
        messages.info(request, str(error))
    else:
        messages.success(
            request,
            "Your gift is stopped: you will not be charged again. A confirmation is on its way "
            "to your inbox. Thank you for your support.",
        )
    return redirect("fundraising:portal", token=token)


@never_cache
@require_POST
def portal_change_amount(request: HttpRequest, token: str, recurring_id: int) -> HttpResponse:
    """Give another amount from the next payment on."""
    donor = donor_from_token(token)
    if donor is None:
        return render(request, "fundraising/portal_invalid.html", status=404)
    get_object_or_404(RecurringDonation, pk=recurring_id, donor=donor)
    form = RecurringAmountForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Enter the new amount, e.g. 15 or 15.50.")
        return redirect("fundraising:portal", token=token)
    try:
        recurring = services.change_recurring_amount(
            recurring_id, form.cleaned_data["amount"], donor=donor
        )
    except DonationStateError as error:
        messages.error(request, str(error))
    except ProviderRefused:
        logger.warning(
            "The processor refused the new amount of recurring donation %s", recurring_id
        )
        messages.error(
            request,
            "Our payment processor refused this change, so your gift keeps its amount. "
            "Please try another amount, or write to us.",
        )
    except ProviderError:
        logger.exception("Could not change the amount of recurring donation %s", recurring_id)
        messages.error(
            request,
            "We could not reach our payment processor, so your gift keeps its amount. "
            "Please try again in a few minutes.",
        )
    else:
        messages.success(
            request,
            f"From your next payment on you give {format_amount(recurring.amount, recurring.currency, exact=True)}. "
            "A confirmation is on its way to your inbox.",
        )
    return redirect("fundraising:portal", token=token)


@never_cache
def update_card(request: HttpRequest, token: str) -> HttpResponse:
    """The emailed link of a failed monthly payment: on to the processor's card page."""
    recurring = recurring_from_card_token(token)
    if recurring is None:
        return render(request, "fundraising/portal_invalid.html", status=404)
    try:
        url = services.open_card_update(recurring, return_url=portal_url(recurring.donor))
    except DonationStateError as error:
        problem, status = str(error), 409
    except ProviderError:
        logger.exception("Could not open a card update for recurring donation %s", recurring.pk)
        problem, status = (
            "We could not reach our payment processor. Please try this link again in a few "
            "minutes; your monthly gift stays as it is meanwhile.",
            503,
        )
    else:
        return HttpResponseRedirect(url)
    return render(
        request,
        "fundraising/card_update.html",
        {"problem": problem, "recurring": recurring, "portal_url": portal_url(recurring.donor)},
        status=status,
    )


@never_cache
def manage(request: HttpRequest) -> HttpResponse:
    """Ask for a fresh link to one's gifts, e.g. when the one in a receipt has expired."""
    form = PortalLinkForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.request_portal_link(form.cleaned_data["email"])
        return render(request, "fundraising/manage.html", {"sent": True, "form": form})
    return render(
        request,
        "fundraising/manage.html",
        {"form": form},
        status=400 if request.method == "POST" else 200,
    )


@csrf_exempt  # The signed token in the address is the authentication (the emailed link).
@never_cache
def move(request: HttpRequest, token: str) -> HttpResponse:
    """The emailed link that moves a monthly gift to another processor: a confirm page with
    the amount filled in (click one), then the new processor's checkout (click two). The old
    gift stops when the new one is active (services.finish_move)."""
    found = move_from_token(token)
    if found is None:
        return render(request, "fundraising/portal_invalid.html", status=404)
    recurring, to_provider = found
    campaign = recurring.campaign
    if campaign is not None and not Campaign.objects.running().filter(pk=campaign.pk).exists():
        campaign = None  # the gift goes on after its campaign ended
    context = {
        "recurring": recurring,
        "token": token,
        "new_processor": provider_label(to_provider),
        "old_processor": provider_label(recurring.provider),
        "portal_url": portal_url(recurring.donor),
        "problem": "",
    }
    status = 200
    if not recurring.is_active:
        context["problem"] = (
            "This monthly gift has already moved or stopped; there is nothing more to do."
        )
        status = 409
    elif request.method == "POST" and not services.claim_move_checkout(recurring.pk):
        context["problem"] = (
            f"A {context['new_processor']} checkout for this gift was opened a few minutes ago. "
            "Please finish it in that window; if you closed it, try this link again in half an "
            "hour."
        )
        status = 409
    elif request.method == "POST":
        try:
            get_provider(to_provider)
            session = services.start_checkout(
                campaign=campaign,
                amount=recurring.amount,
                currency=recurring.currency,
                frequency=recurring.frequency,  # an annual gift stays annual
                email=recurring.donor.email,
                name=recurring.donor.name,
                site_url=settings.SITE_URL,
                replaces=recurring,
                provider_name=to_provider,
            )
        except ProviderError:
            services.release_move_checkout(recurring.pk)
            logger.exception("Could not open the move checkout of gift %s", recurring.pk)
            context["problem"] = (
                f"We could not reach {context['new_processor']} just now. Nothing has changed; "
                "please try this link again in a few minutes."
            )
            status = 503
        else:
            return HttpResponseRedirect(session.url, status=303)
    elif request.method not in {"GET", "HEAD"}:
        return HttpResponse(status=405, headers={"Allow": "GET, HEAD, POST"})
    return render(request, "fundraising/move.html", context, status=status)
