"""Donate, thank-you, cancel and donor-portal pages (per visitor, never cached), and webhooks."""

from __future__ import annotations

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
from pressroom.fundraising.forms import DonateForm, PortalLinkForm, suggested_amount
from pressroom.fundraising.models import Campaign, DonationStateError, RecurringDonation
from pressroom.fundraising.money import parse_amount
from pressroom.fundraising.providers import (
    PROVIDERS,
    ProviderBusy,
    ProviderError,
    ProviderNotConfigured,
    WebhookVerificationError,
    online_provider,
)
from pressroom.fundraising.receipts import donor_from_token, statement_for, statement_text
from pressroom.lib.ratelimit import Limit, client_address

logger = logging.getLogger(__name__)

DEFAULT_PRESETS = "10, 25, 50, 100"


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


@csrf_exempt  # A public contract partner sites post to; it only opens a hosted checkout.
@never_cache
def donate(request: HttpRequest, slug: str | None = None) -> HttpResponse:
    campaign, campaign_ended = _donation_target(slug)
    currency = campaign.currency if campaign else settings.FUNDRAISING_CURRENCY
    presets = (
        campaign.preset_amount_list()
        if campaign
        else [parse_amount(part, currency) for part in DEFAULT_PRESETS.split(",")]
    )
    configured = online_provider().is_configured()
    data = request.POST if request.method == "POST" else None
    initial = {
        key: request.GET[key]
        for key in ("amount", "frequency", "email", "name")
        if key in request.GET
    }
    if presets and "amount" not in initial:
        initial["amount"] = str(suggested_amount(presets))
    form = DonateForm(
        data,
        initial=initial,
        currency=currency,
        presets=presets,
    )
    status = 200
    problem = ""
    if request.method == "POST" and not configured:
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
            )
        except ProviderNotConfigured:
            configured, status = False, 503
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
            "configured": configured,
            "problem": problem,
        },
        status=status,
    )
    if status == 429:
        response["Retry-After"] = str(checkout_limit().retry_after(client_address(request)))
    return response


@never_cache
def thanks(request: HttpRequest) -> HttpResponse:
    return render(request, "fundraising/thanks.html")


@never_cache
def cancelled(request: HttpRequest) -> HttpResponse:
    return render(request, "fundraising/cancelled.html")


@csrf_exempt  # Authenticated by the processor's signature, not a cookie.
@require_POST
def webhook(request: HttpRequest, provider: str) -> HttpResponse:
    if provider not in PROVIDERS:
        raise Http404("No such payment provider.")
    try:
        stored = services.receive_webhook(provider, request.body, request.headers)
    except WebhookVerificationError as error:
        return HttpResponseBadRequest(str(error), content_type="text/plain")
    except ProviderNotConfigured as error:
        # 503 makes the processor retry, so events sent before the secret is set are not lost.
        return HttpResponse(str(error), status=503, content_type="text/plain")
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
    donor = donor_from_token(token)
    if donor is None:
        return render(request, "fundraising/portal_invalid.html", status=404)
    get_object_or_404(RecurringDonation, pk=recurring_id, donor=donor)
    try:
        services.cancel_recurring_donation(recurring_id, donor=donor)
    except DonationStateError as error:
        messages.info(request, str(error))
    except ProviderError:
        logger.exception("Could not cancel recurring donation %s", recurring_id)
        messages.error(
            request,
            "We could not reach our payment processor, so your monthly gift is not cancelled yet. "
            "Please try again in a few minutes.",
        )
    else:
        messages.success(request, "Your monthly gift is cancelled. Thank you for your support.")
    return redirect("fundraising:portal", token=token)


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
