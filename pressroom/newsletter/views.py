"""Digest signup (cacheable, no cookies), confirmation, preferences, unsubscribe, archive."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from datetime import date
from typing import cast

from django.conf import settings
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from pressroom.lib.attribution import source_of
from pressroom.lib.ratelimit import client_address
from pressroom.media.rendering import pictures_in_html
from pressroom.newsletter import digests, services
from pressroom.newsletter.forms import PreferencesForm, SignupForm, topic_groups
from pressroom.newsletter.models import Digest, DigestQuerySet, Subscriber, SubscriptionStateError
from pressroom.newsletter.tokens import InvalidLink


# The form is served inside cached pages, so it carries no CSRF token; a signup only ever sends
# a confirmation email, and the honeypot and rate limits keep that from being abused.
@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        recent = Digest.objects.archived()[:10]
        return _signup_page(request, SignupForm(), digests=recent)
    form = SignupForm(request.POST)
    if form.is_bot:
        return redirect("newsletter:signup-done")
    if not form.is_valid():
        return _signup_page(request, form, status=400)
    if not services.signup_allowed_from(client_address(request)):
        form.add_error(None, "Too many signups from your network. Please try again in an hour.")
        response = _signup_page(request, form, status=429)
        response["Retry-After"] = str(services.signup_limit().retry_after(client_address(request)))
        return response
    topics = form.cleaned_data["topics"]
    # The page the form was on and the send that brought the reader, from the POST's Referer
    # (the form sits in cached pages: it cannot carry them itself).
    services.request_subscription(
        form.cleaned_data["email"], list(topics) if topics else None, source=source_of(request)
    )
    return redirect("newsletter:signup-done")


def _signup_page(
    request: HttpRequest, form: SignupForm, digests: object = (), status: int = 200
) -> HttpResponse:
    context = {"form": form, "topic_groups": topic_groups(form["topics"]), "digests": digests}
    return render(request, "newsletter/signup.html", context, status=status)


def signup_done(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "newsletter/signup_done.html",
        {"confirmation_days": settings.DIGEST_CONFIRMATION_DAYS},
    )


def _invalid_link(request: HttpRequest, error: InvalidLink) -> HttpResponse:
    return render(request, "newsletter/invalid_link.html", {"message": str(error)}, status=404)


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def confirm(request: HttpRequest, token: str) -> HttpResponse:
    # A GET only shows a button: mail scanners that follow links must not subscribe anyone.
    if request.method != "POST":
        try:
            services.tokens.read_confirmation_token(token)
        except InvalidLink as error:
            return _invalid_link(request, error)
        return render(request, "newsletter/confirm.html", {"token": token})
    try:
        subscriber = services.confirm_subscription(token)
    except InvalidLink as error:
        return _invalid_link(request, error)
    return render(
        request,
        "newsletter/confirmed.html",
        {"subscriber": subscriber, "preferences_url": _preferences_path(subscriber)},
    )


def _preferences_path(subscriber: Subscriber) -> str:
    from django.urls import reverse

    token = services.tokens.preferences_token(subscriber.pk)
    return reverse("newsletter:preferences", kwargs={"token": token})


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def preferences(request: HttpRequest, token: str) -> HttpResponse:
    try:
        subscriber = services.subscriber_from_preferences_token(token)
    except InvalidLink as error:
        return _invalid_link(request, error)
    saved = False
    if request.method == "POST" and "unsubscribe" in request.POST:
        services.unsubscribe(subscriber)
        saved = True
        form = _preferences_form(subscriber)
    elif request.method == "POST" and "resubscribe" in request.POST:
        with contextlib.suppress(SubscriptionStateError):  # already subscribed: the page says so
            services.resubscribe(subscriber)
        saved = True
        form = _preferences_form(subscriber)
    elif request.method == "POST":
        form = PreferencesForm(request.POST)
        if form.is_valid():
            services.update_preferences(
                subscriber,
                all_topics=form.cleaned_data["selection"] == PreferencesForm.ALL,
                topics=form.cleaned_data["topics"],
                is_paused=form.cleaned_data["is_paused"],
            )
            saved = True
    else:
        form = _preferences_form(subscriber)
    status = 400 if request.method == "POST" and not saved else 200
    return render(
        request,
        "newsletter/preferences.html",
        {"subscriber": subscriber, "form": form, "saved": saved},
        status=status,
    )


def _preferences_form(subscriber: Subscriber) -> PreferencesForm:
    return PreferencesForm(
        initial={
            "selection": PreferencesForm.ALL if subscriber.all_topics else PreferencesForm.CHOSEN,
            "topics": list(subscriber.topics.all()),
            "is_paused": subscriber.is_paused,
        }
    )


@csrf_exempt  # RFC 8058 one-click: the mail client POSTs with no cookie and no token
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    if request.method != "POST":
        # Link scanners GET every link in a message: a GET only asks.
        try:
            services.tokens.read_unsubscribe_token(token)
        except InvalidLink as error:
            return _invalid_link(request, error)
        return render(request, "newsletter/unsubscribe.html", {"token": token})
    try:
        subscriber = services.unsubscribe_by_token(token)
    except InvalidLink as error:
        return _invalid_link(request, error)
    return render(
        request,
        "newsletter/unsubscribed.html",
        {"subscriber": subscriber, "preferences_url": _preferences_path(subscriber)},
    )


def digest_archive(request: HttpRequest) -> HttpResponse:
    # Only what went out: a digest still sending or waiting for its time is not listed yet.
    sent = Digest.objects.archived()[:100]
    return render(request, "newsletter/digest_list.html", {"digests": sent})


def _readable() -> DigestQuerySet:
    """Sends whose page a recipient may open ("view in your browser"): started, and past their
    send time (a scheduled one is not public before it goes)."""
    now = timezone.now()
    readable = Digest.objects.exclude(status=Digest.Status.DRAFT).filter(
        Q(send_after__isnull=True) | Q(send_after__lte=now)
    )
    return cast(DigestQuerySet, readable)


def digest_detail(request: HttpRequest, date: str) -> HttpResponse:
    try:
        day = _parse_date(date)
    except ValueError:
        raise Http404("No digest for that date.") from None
    digest = get_object_or_404(_readable().digests(), date=day)
    content = digests.load_content(digest)
    return render(
        request,
        "newsletter/digest_detail.html",
        {"digest": digest, "sections": content.sections(content.entries), "note": content.note},
    )


def email_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A one-off send's page: only a public one, once it has gone out."""
    send = get_object_or_404(_readable().one_offs().filter(is_public=True), pk=pk)
    # As an article body is shown: library images with their renditions, current addresses.
    body = pictures_in_html(send.body)
    return render(request, "newsletter/email_detail.html", {"send": send, "body": body})


def _parse_date(value: str) -> date:
    return date.fromisoformat(value)


@functools.cache
def _anymail_tracking_views() -> dict[str, Callable[..., HttpResponse]]:
    """django-anymail's tracking webhook view for each ESP, by the name in its backend path."""
    from anymail import urls as anymail_urls

    views: dict[str, Callable[..., HttpResponse]] = {}
    for pattern in anymail_urls.urlpatterns:
        name = pattern.name or ""
        if name.endswith("_tracking_webhook"):
            views[name.removesuffix("_tracking_webhook")] = pattern.callback
    return views


@csrf_exempt  # Authenticated by basic auth or the provider's signature (anymail checks it).
def email_provider_webhook(request: HttpRequest, provider: str) -> HttpResponse:
    """Bounce and complaint reports, only from the provider this install sends through.

    settings.py refuses to start a configured provider without its webhook credentials; the
    endpoints of every other provider do not exist (404), so nobody can post a forged
    complaint through an endpoint nobody secured."""
    view = _anymail_tracking_views().get(provider)
    if view is None or provider not in settings.EMAIL_PROVIDER_WEBHOOKS:
        raise Http404("No such email provider webhook.")
    return view(request)
