"""A standing fuzz test: every public URL, form and webhook, driven with generated input.

Hypothesis generates the input; each request goes through the whole stack (middleware, page
cache, views, the database of the run: SQLite or PostgreSQL). For every response:
- no status 500 (nor any 5xx but the documented 503 of an unconfigured payment processor),
- no traceback in the body,
- a refused request (4xx) changed nothing stored: a checksum of every table of the project's
  apps (and of the task queue) is the same before and after it.

The URL list is read from the URL resolver, so a new public page is fuzzed without editing this
file. The number of examples comes from the Hypothesis profile (conftest.py): small and
derandomized in `make test`, larger with HYPOTHESIS_PROFILE=thorough.

Known bugs that other work is fixing are listed below as `known_bug` tests, each with the exact
input that fails today and marked xfail(strict=True); the generators skip inputs of that kind
until the bug's decorator line is deleted (then the test must pass, and the fuzz explores the
input again).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from django.apps import apps
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern, RoutePattern
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from pressroom.fundraising.models import Campaign, Donor, RecurringDonation, WebhookEvent
from pressroom.fundraising.receipts import portal_token
from pressroom.fundraising.tests.conftest import (
    WEBHOOK_SECRET,
    WEBHOOK_URL,
    checkout_completed,
    event,
    fake_stripe,  # noqa: F401  (a fixture: Stripe's HTTP API on loopback, the mocked boundary)
    sign,
)
from pressroom.insight.tests.front import keep_test_transaction  # noqa: F401 (a fixture)
from pressroom.newsletter import tokens
from pressroom.newsletter.models import Digest, Subscriber
from pressroom.publishing import services
from pressroom.publishing.models import Article, Author, Topic

# --- What is public ------------------------------------------------------------------------------

# Not public: the admin (staff only, behind a login), except its sign-in form, which anybody can
# post to and which writes lock-out counters.
PRIVATE_PREFIXES = ("admin/",)
PUBLIC_EXCEPTIONS = ("admin/login/",)
# Answers that are a clear message rather than a crash: the payment processor not configured.
ALLOWED_5XX = {503}
# Tables a refused request may still write to because recording refusals is their job
# (model labels, e.g. a table of failed login attempts). Sessions are not stored content.
RECORDS_REFUSALS: set[str] = {"sessions.Session", "accounts.RateLimitCounter"}
STAFF_PASSWORD = "a long staff password for the fuzz"
TRACEBACK = re.compile(rb"Traceback \(most recent call last\)|File \"/[^\"]+\.py\", line \d+")


def _pieces(
    patterns: list, prefix: tuple = ()
) -> list[tuple[tuple[RoutePattern | RegexPattern, ...], URLPattern]]:
    found = []
    for entry in patterns:
        pieces = (*prefix, entry.pattern)
        if isinstance(entry, URLResolver):
            found.extend(_pieces(entry.url_patterns, pieces))
        elif isinstance(entry, URLPattern):
            found.append((pieces, entry))
    return found


def public_patterns() -> list[tuple[str, tuple]]:
    """Every URL pattern a visitor can reach, named by its route (e.g. 'topics/<slug>/feed/')."""
    patterns = []
    for pieces, _ in _pieces(get_resolver().url_patterns):
        route = "".join(str(piece) for piece in pieces)
        if route.startswith(PRIVATE_PREFIXES) and route not in PUBLIC_EXCEPTIONS:
            continue
        patterns.append((route, pieces))
    return patterns


PUBLIC_PATTERNS = public_patterns()
ANYMAIL_PATTERNS = [(route, pieces) for route, pieces in PUBLIC_PATTERNS if "anymail/" in route]
PAGE_PATTERNS = [(route, pieces) for route, pieces in PUBLIC_PATTERNS if "anymail/" not in route]

# --- Generated values ----------------------------------------------------------------------------

NASTY = [
    "",
    "0",
    "-1",
    "1.5",
    "99999999999999999999999999",
    "-99999999999999999999999999",
    "1e309",
    "NaN",
    "Infinity",
    "\x00",
    "\x0b\x01",
    "%00",
    "%",
    "../../../../etc/passwd",
    "<script>alert(1)</script>",
    '"><svg onload=alert(1)>',
    "' OR 1=1 --",
    "javascript:alert(1)",
    "\u202e\u0645\u0631\u062d\u0628\u0627",
    "\U0001d518\U0001d52b\U0001d526",
    "a" * 3000,
    "2026-02-30",
    "9999-12-31",
    "0000-00-00",
    "[]",
    "{}",
    "null",
]
values = st.one_of(st.sampled_from(NASTY), st.text(max_size=40), st.integers().map(str))
PARAMETER_NAMES = [
    "page",
    "p",
    "q",
    "topic",
    "topics",
    "campaign",
    "amount",
    "custom_amount",
    "frequency",
    "email",
    "name",
    "token",
    "format",
    "date",
    "next",
    "selection",
    "is_paused",
    "unsubscribe",
    "resubscribe",
    "website",
    "utm_source",
]
parameter_names = st.one_of(st.sampled_from(PARAMETER_NAMES), st.text(min_size=1, max_size=12))
parameters = st.dictionaries(parameter_names, st.lists(values, min_size=1, max_size=3), max_size=5)

ROUTE_ARGUMENT = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")


def _regex_body(regex: str) -> str:
    return regex.removeprefix("^").removesuffix("$").removesuffix(r"\Z")


def path_for(pieces: tuple, draw: Callable[[st.SearchStrategy], Any]) -> str:
    """A path matching these pattern pieces, with generated values in its arguments."""
    path = "/"
    for piece in pieces:
        if isinstance(piece, RoutePattern):
            route = str(piece)

            def argument(match: re.Match, piece: RoutePattern = piece) -> str:
                converter = piece.converters[match["name"]]
                value = draw(
                    st.one_of(
                        st.from_regex(f"(?:{converter.regex})", fullmatch=True),
                        st.sampled_from([v for v in NASTY if re.fullmatch(converter.regex, v)]),
                    )
                    if any(re.fullmatch(converter.regex, v) for v in NASTY)
                    else st.from_regex(f"(?:{converter.regex})", fullmatch=True)
                )
                return quote(value[:300], safe="")

            path += ROUTE_ARGUMENT.sub(argument, route)
        else:
            generated = draw(st.from_regex(_regex_body(piece.regex.pattern), fullmatch=True))
            path += quote(generated, safe="/")
    return path


# --- Known bugs, fixed elsewhere -----------------------------------------------------------------


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]] = field(default_factory=dict)
    data: dict[str, list[str]] | None = None
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


KNOWN_BUGS: dict[str, Callable[[Request], bool]] = {}


DATABASE = (
    "postgresql" if "postgresql" in django_settings.DATABASES["default"]["ENGINE"] else "sqlite"
)


def known_bug(
    owner: str, matches: Callable[[Request], bool], on: tuple[str, ...] = ("sqlite", "postgresql")
) -> Callable:
    """Mark a test as a known bug (xfail, strict) and keep the fuzz off inputs it `matches`.

    `on`: the databases where it fails (elsewhere the test must pass already). Flip it when
    `owner`'s fix is merged: delete the decorator line; the test must then pass.
    """

    def mark(test: Callable) -> Callable:
        if DATABASE not in on:
            return test
        KNOWN_BUGS[test.__name__] = matches
        return pytest.mark.xfail(strict=True, reason=f"known bug, {owner} is fixing it")(test)

    return mark


def is_known_bug(request: Request) -> bool:
    return any(matches(request) for matches in KNOWN_BUGS.values())


# --- Sending a request and judging the answer ----------------------------------------------------


def fingerprint() -> dict[str, str]:
    """A checksum per table of the project's apps, auth and the task queue."""
    sums = {}
    for model in apps.get_models(include_auto_created=True):
        label = model._meta.label
        if label in RECORDS_REFUSALS:
            continue
        if not (
            model.__module__.startswith("pressroom.")
            or model._meta.app_label in {"auth", "django_tasks_db"}
            or model._meta.auto_created
        ):
            continue
        rows = list(model._base_manager.order_by("pk").values_list())
        sums[label] = hashlib.sha256(repr(rows).encode()).hexdigest()
    return sums


def send(client: Client, request: Request) -> None:
    """Send it; fail with the input and the server's traceback on a crash or a stored refusal."""
    before = fingerprint()
    url = request.path + ("?" + urlencode(request.query, doseq=True) if request.query else "")
    with transaction.atomic():  # each request's writes are undone afterwards: examples stay apart
        if request.body is not None:
            response = client.generic(
                request.method,
                url,
                data=request.body,
                content_type=request.headers.pop("Content-Type", "application/json"),
                headers=request.headers,
            )
        elif request.method == "POST":
            response = client.post(url, data=request.data or {}, headers=request.headers)
        else:
            response = client.generic(request.method, url, headers=request.headers)
        after = fingerprint()
        transaction.set_rollback(True)
    cache.clear()
    crash = getattr(response, "exc_info", None)
    where = f"{request.method} {url!r} data={request.data!r} body={request.body!r:.300}"
    if crash:
        where += "\n" + "".join(traceback.format_exception(*crash))
    assert response.status_code < 500 or response.status_code in ALLOWED_5XX, (
        f"{response.status_code} for {where}"
    )
    content = getattr(response, "content", b"") if not response.streaming else b""
    assert not TRACEBACK.search(content), f"a traceback in the answer to {where}"
    if 400 <= response.status_code < 500:
        changed = sorted(label for label in before if before[label] != after.get(label))
        assert not changed, f"{response.status_code} but {changed} changed, for {where}"


@pytest.fixture
def site(db, settings):
    """A small newsroom: a topic, an author, an article, a digest, a reader, a campaign, a donor."""
    settings.DIGEST_SIGNUPS_PER_IP_PER_HOUR = 0  # the limit has its own tests; fuzz the forms
    topic = services.save_topic(Topic(name="Peru", description="News from Peru."))
    author = services.save_author(Author(name="Ana Quispe", bio="Reports from the Andes."))
    article = services.save_article(
        Article(
            title="Miners march on Lima",
            body="<p>Thousands marched.</p>",
            status=Article.Status.PUBLISHED,
            published_at=timezone.now() - timedelta(hours=1),
        ),
        topics=[topic],
        authors=[author],
    )
    subscriber = Subscriber.objects.create(email="rosa@example.org", status="confirmed")
    digest = Digest.objects.create(
        date=timezone.localdate(),
        subject="Today",
        covers_from=timezone.now() - timedelta(days=1),
        covers_until=timezone.now(),
        status=Digest.Status.SENT,
    )
    campaign = Campaign.objects.create(
        slug="end-of-year",
        title="End Of Year",
        heading="Urgent End Of Year Fundraising Campaign",
        message="Online donations are back!",
        goal_amount=10000,
        currency="USD",
        ends_at=timezone.now() + timedelta(days=10),
    )
    donor = Donor.objects.create(email="dana@example.org", name="Dana")
    staff = get_user_model().objects.create_user(
        "editor", "editor@example.org", STAFF_PASSWORD, is_staff=True
    )
    recurring = RecurringDonation.objects.create(
        donor=donor,
        campaign=campaign,
        amount=10,
        currency="USD",
        provider="stripe",
        provider_reference="sub_fuzz",
    )
    return {
        "topic": topic,
        "article": article,
        "subscriber": subscriber,
        "digest": digest,
        "campaign": campaign,
        "donor": donor,
        "recurring": recurring,
        "staff": staff,
        "tokens": {
            "confirm": tokens.confirmation_token(subscriber.pk, [topic.pk]),
            "preferences": tokens.preferences_token(subscriber.pk),
            "unsubscribe": tokens.unsubscribe_token(subscriber.pk, digest.pk),
            "portal": portal_token(donor),
        },
    }


@pytest.fixture
def visitor() -> Client:
    """An anonymous visitor whose crashes come back as 500 answers, as a browser would see."""
    return Client(raise_request_exception=False)


# --- 1. Every public URL pattern -----------------------------------------------------------------


@pytest.mark.parametrize(("route", "pieces"), PAGE_PATTERNS, ids=[r for r, _ in PAGE_PATTERNS])
@given(data=st.data())
def test_every_public_url_answers_any_arguments_and_query_without_a_crash(
    route, pieces, data, site, visitor
):
    method = data.draw(st.sampled_from(["GET", "HEAD", "POST"]), label="method")
    request = Request(
        method,
        path_for(pieces, data.draw),
        query=data.draw(parameters, label="query"),
        data=data.draw(parameters, label="form") if method == "POST" else None,
    )
    if data.draw(st.booleans(), label="odd host"):
        request.headers["Host"] = data.draw(st.sampled_from(["evil.example", "x" * 300, "[::1"]))
    if is_known_bug(request):
        return
    send(visitor, request)


# --- 2. Every public form ------------------------------------------------------------------------

emails = st.one_of(st.emails().map(lambda e: e[:260]), values)
topic_choices = st.lists(st.one_of(st.just("TOPIC"), values), max_size=4)


def _topics(chosen: list[str], site: dict) -> list[str]:
    return [str(site["topic"].pk) if value == "TOPIC" else value for value in chosen]


@given(data=st.data())
def test_digest_signup_form_takes_any_input(data, site, visitor):
    form = {
        "email": [data.draw(emails)],
        "topics": _topics(data.draw(topic_choices), site),
        "website": [data.draw(st.one_of(st.just(""), values))],
    }
    request = Request("POST", "/digest/", data=form)
    if not is_known_bug(request):
        send(visitor, request)


@given(data=st.data())
def test_digest_preferences_confirm_and_unsubscribe_take_any_input(data, site, visitor):
    which = data.draw(st.sampled_from(["preferences", "confirm", "unsubscribe"]))
    token = data.draw(st.one_of(st.just(site["tokens"][which]), values.filter(bool)))
    form: dict[str, list[str]] = {
        "selection": [data.draw(st.one_of(st.sampled_from(["all", "chosen"]), values))],
        "topics": _topics(data.draw(topic_choices), site),
        "is_paused": [data.draw(st.sampled_from(["on", "", "0", "true"]))],
    }
    if data.draw(st.booleans()):
        form[data.draw(st.sampled_from(["unsubscribe", "resubscribe"]))] = ["1"]
    request = Request("POST", f"/digest/{which}/{quote(token[:300], safe='')}/", data=form)
    if not is_known_bug(request):
        send(visitor, request)


amounts = st.one_of(
    st.sampled_from(["10", "25", "100", "other", "5.5", "0.01", "1,000.00", "10.123"]),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    values,
)


@given(data=st.data())
def test_donate_manage_and_portal_forms_take_any_input(data, site, visitor, fake_stripe):  # noqa: F811
    where = data.draw(st.sampled_from(["donate", "campaign", "manage", "portal-cancel"]))
    form = {
        "amount": [data.draw(amounts)],
        "custom_amount": [data.draw(amounts)],
        "frequency": [data.draw(st.one_of(st.sampled_from(["once", "monthly"]), values))],
        "email": [data.draw(emails)],
        "name": [data.draw(values)],
    }
    token = data.draw(st.one_of(st.just(site["tokens"]["portal"]), values.filter(bool)))
    recurring_id = data.draw(st.one_of(st.just(site["recurring"].pk), st.integers(0, 2**70)))
    path = {
        "donate": "/donate/",
        "campaign": f"/donate/{site['campaign'].slug}/",
        "manage": "/donate/manage/",
        "portal-cancel": f"/donate/portal/{quote(token[:300], safe='')}/cancel/{recurring_id}/",
    }[where]
    request = Request("POST", path, data=form)
    if not is_known_bug(request):
        send(visitor, request)


search_words = st.one_of(
    st.text(max_size=300),
    # Query syntax of either database, quoted phrases (closed or not), accents.
    st.lists(
        st.sampled_from(
            ['"', '"salt flats"', "miners", "Perú", "AND", "-", "*", "NEAR(", ":", "^"]
        ),
        max_size=30,
    ).map(" ".join),
    values,
)
search_days = st.one_of(st.dates().map(date.isoformat), values)


@given(data=st.data(), query=parameters, words=search_words)
def test_search_takes_any_query(data, query, words, site, visitor):
    """Any words with any filters, dates, order and page: bounded, and never a 500."""
    filters = {
        "topic": st.one_of(st.just(site["topic"].slug), values),
        "author": st.one_of(st.just(site["article"].bylines[0].slug), values),
        "date_from": search_days,
        "date_to": search_days,
        "sort": st.one_of(st.sampled_from(["relevance", "newest"]), values),
        "page": st.one_of(st.integers(-5, 60).map(str), values),
    }
    chosen = data.draw(st.lists(st.sampled_from(sorted(filters)), unique=True), label="filters")
    extra = {name: [data.draw(filters[name], label=name)] for name in chosen}
    request = Request("GET", "/search/", query={**query, **extra, "q": [words]})
    if not is_known_bug(request):
        send(visitor, request)


@given(data=st.data())
def test_admin_sign_in_form_takes_any_input(data, site, visitor, settings):
    """The sign-in form is public: a wrong username or password is refused with a message (the
    lock-out counters it writes are its job; nothing else changes)."""
    settings.LOGIN_ATTEMPTS_PER_ADDRESS = data.draw(st.sampled_from([0, 1, 10]), label="limit")
    form = {
        "username": [data.draw(st.one_of(st.just(site["staff"].username), values))],
        "password": [data.draw(st.one_of(st.just(STAFF_PASSWORD), values))],
        "next": [data.draw(st.one_of(st.just("/admin/"), values))],
    }
    request = Request("POST", "/admin/login/", data=form)
    if not is_known_bug(request):
        send(visitor, request)


# --- 3. Every webhook ----------------------------------------------------------------------------

json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False),
        st.text(max_size=20),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
EVENT_TYPES = [
    "checkout.session.completed",
    "invoice.paid",
    "invoice.payment_succeeded",
    "charge.refunded",
    "customer.subscription.deleted",
    "payment_intent.succeeded",
]


@st.composite
def stripe_events(draw: Callable) -> dict:
    """A Stripe event shaped like the real ones, with any of its fields replaced by anything."""
    data_object = checkout_completed(amount_total=2550, payment_intent="pi_fuzz", email="d@e.org")
    for key in draw(st.lists(st.sampled_from(sorted(data_object)), max_size=3)):
        data_object[key] = draw(json_values)
    stripe_event = event(draw(st.one_of(st.sampled_from(EVENT_TYPES), st.text(max_size=30))), {})
    stripe_event["data"]["object"] = data_object
    for key in draw(st.lists(st.sampled_from(sorted(stripe_event)), max_size=2)):
        stripe_event[key] = draw(json_values)
    return stripe_event


@given(data=st.data())
def test_stripe_webhook_takes_any_payload_and_signature(data, site, visitor, settings):
    settings.STRIPE_SECRET_KEY = "sk_test_pressroom"
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    if data.draw(st.booleans(), label="shaped like an event"):
        payload = json.dumps(data.draw(stripe_events()))
    else:
        payload = data.draw(st.one_of(json_values.map(json.dumps), st.text(max_size=200)))
    signature = data.draw(
        st.one_of(
            st.just(sign(payload)),  # most requests correctly signed: that reaches the handling
            st.just(sign(payload)),
            st.just(sign(payload, timestamp=int(time.time()) - 3600)),
            st.just(sign(payload, timestamp=int(time.time()) + 3600)),
            st.just(sign(payload, secret="whsec_wrong")),
            values,
        )
    )
    request = Request(
        "POST", WEBHOOK_URL, body=payload.encode(), headers={"Stripe-Signature": signature}
    )
    if not is_known_bug(request):
        send(visitor, request)


@pytest.mark.skipif(not ANYMAIL_PATTERNS, reason="no email-provider webhook is mounted")
@given(data=st.data())
def test_email_provider_webhooks_take_any_payload(data, site, visitor):
    _, pieces = data.draw(st.sampled_from(ANYMAIL_PATTERNS), label="webhook")
    body = data.draw(st.one_of(json_values.map(json.dumps), st.text(max_size=200)))
    content_type = data.draw(
        st.sampled_from(["application/json", "application/x-www-form-urlencoded"])
    )
    request = Request(
        "POST",
        path_for(pieces, data.draw),
        body=body.encode(),
        headers={"Content-Type": content_type},
    )
    if not is_known_bug(request):
        send(visitor, request)


# Providers whose webhook the fuzz configures: anymail's basic-auth ones, and a signing-key one.
CONFIGURED_PROVIDERS = {
    "postmark": {"POSTMARK_SERVER_TOKEN": "server-token"},
    "sendgrid": {"SENDGRID_API_KEY": "SG.key"},
    "mailgun": {"MAILGUN_API_KEY": "key", "MAILGUN_WEBHOOK_SIGNING_KEY": "signing-key"},
    "brevo": {"BREVO_API_KEY": "key"},
}
WEBHOOK_CREDENTIALS = "pressroom:4b7c2f0e9a1d6b3c8e5f"


@given(data=st.data())
def test_the_configured_email_providers_webhook_takes_any_payload(data, site, visitor, settings):
    """With a provider configured its endpoint is live: any body, with the right credentials,
    wrong ones or none, is answered without a crash, and a refusal changes nothing."""
    provider = data.draw(st.sampled_from(sorted(CONFIGURED_PROVIDERS)), label="provider")
    settings.EMAIL_PROVIDER_WEBHOOKS = [provider]
    settings.ANYMAIL = {**CONFIGURED_PROVIDERS[provider], "WEBHOOK_SECRET": WEBHOOK_CREDENTIALS}
    credentials = data.draw(
        st.one_of(st.none(), st.just(WEBHOOK_CREDENTIALS), values), label="credentials"
    )
    headers = {}
    if credentials is not None:
        token = base64.b64encode(credentials.encode()).decode()
        headers["Authorization"] = "Basic " + token
    body = data.draw(
        st.one_of(
            json_values.map(json.dumps),
            st.text(max_size=200),
            st.just(json.dumps([{"event": "bounce", "email": "rosa@example.org"}])),
            st.just(json.dumps({"RecordType": "SpamComplaint", "Email": "rosa@example.org"})),
        ),
        label="body",
    )
    headers["Content-Type"] = data.draw(
        st.sampled_from(["application/json", "application/x-www-form-urlencoded"])
    )
    request = Request("POST", f"/anymail/{provider}/tracking/", body=body.encode(), headers=headers)
    if not is_known_bug(request):
        send(visitor, request)


# --- The page-view counter at the WSGI front: pages and the beacon (pressroom.insight) ---------

header_values = st.one_of(
    values,
    st.text(max_size=3000),
    st.sampled_from(
        [
            "https://example.org/a?b=c",
            "http://[::1/",
            "javascript:alert(1)",
            "https://" + "a." * 700 + "org",
            "https://perú.example/",
            "Mozilla/5.0 (compatible; Googlebot/2.1)",
            "1",
        ]
    ),
).map(lambda value: value.encode("utf-8", "surrogatepass").decode("latin-1"))


@given(data=st.data(), query=parameters)
def test_the_page_counter_and_its_beacon_take_any_input(
    data,
    query,
    site,
    settings,
    keep_test_transaction,  # noqa: F811
):
    """Beacons of any shape and size, forged referrers and campaign tags, in both counting
    modes, through the production WSGI application: never a 5xx, a beacon answers 204 or 400,
    and what the worker moves is bounded."""
    from pressroom.insight.models import PageView
    from pressroom.insight.tests.front import serve
    from pressroom.lib import counting

    settings.INSIGHT_COUNTING = data.draw(st.sampled_from(["server", "beacon"]))
    headers = {
        name: data.draw(header_values)
        for name in data.draw(
            st.sets(st.sampled_from(["referer", "user_agent", "dnt", "sec_gpc", "host"]))
        )
    }
    article = site["article"].get_absolute_url()
    page = data.draw(st.sampled_from([article, "/", "/topics/peru/", "/search/"]))
    beacon = data.draw(
        st.one_of(
            st.just({"p": page, "r": headers.get("referer", ""), "q": urlencode(query, True)}),
            parameters,
        )
    )
    raw = data.draw(st.one_of(st.just(urlencode(beacon, doseq=True)), st.text(max_size=3000)))
    method = data.draw(st.sampled_from(["GET", "POST", "HEAD", "PUT"]))
    headers.setdefault("host", "testserver")
    if not re.fullmatch(r"[A-Za-z0-9.:-]{1,100}", headers["host"]):
        headers["host"] = "testserver"  # a bad Host is Django's 400, fuzzed elsewhere
    for path in (f"{page}?{urlencode(query, doseq=True)}", f"/_count?{raw}"):
        status, _headers, body = serve(path, method=method, **headers)
        assert int(status[:3]) < 500, (path, status)
        assert not TRACEBACK.search(body)
    status, _headers, _body = serve(f"/_count?{raw}", method=method, **headers)
    if method in ("GET", "POST"):
        assert status[:3] in {"204", "400"}
    counting.flush_counts()
    for row in PageView.objects.all():
        assert len(row.path) <= 300
        assert len(row.referrer) <= 100
        assert len(row.campaign) <= 60
        assert len(row.source) <= 60


def test_the_fuzz_covers_the_public_site():
    """The resolver walk finds the pages, forms and webhooks (so nothing is silently skipped)."""
    routes = {route for route, _ in PUBLIC_PATTERNS}
    for expected in (
        "",
        "articles/<pressroom-slug:slug>/",
        "topics/<pressroom-slug:slug>/feed/atom/",
        "digest/",
        "digest/preferences/<str:token>/",
        "donate/",
        "fundraising/<str:provider>/webhook/",
        "search/",
        "sitemap-<section>.xml",
    ):
        assert expected in routes
    assert "admin/login/" in routes
    assert not any(
        route.startswith("admin/") and route not in PUBLIC_EXCEPTIONS for route in routes
    )


# --- Bugs that were found by the fuzz, each kept as a plain test of the exact input ---------------
# A new known bug: a test of its input decorated with `known_bug(owner, matches)` (see above).


@pytest.mark.django_db
def test_bug_digest_signup_with_a_huge_topic_id(site, visitor):
    send(visitor, Request("POST", "/digest/", data={"email": ["a@b.org"], "topics": ["9" * 26]}))


@pytest.mark.django_db
def test_bug_digest_preferences_with_a_huge_topic_id(site, visitor):
    path = f"/digest/preferences/{site['tokens']['preferences']}/"
    send(visitor, Request("POST", path, data={"selection": ["chosen"], "topics": ["9" * 26]}))


def _signed(stripe_event: dict | str) -> Request:
    payload = stripe_event if isinstance(stripe_event, str) else json.dumps(stripe_event)
    return Request(
        "POST", WEBHOOK_URL, body=payload.encode(), headers={"Stripe-Signature": sign(payload)}
    )


def _checkout(**changes: Any) -> dict:
    data_object = checkout_completed(amount_total=2550, payment_intent="pi_fuzz", email="d@e.org")
    data_object.update(changes)
    return event("checkout.session.completed", data_object)


@pytest.mark.django_db
def test_bug_stripe_event_with_metadata_as_a_list(site, visitor, settings):
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    send(visitor, _signed(_checkout(metadata=["campaign", "end-of-year"])))


@pytest.mark.django_db
def test_bug_stripe_event_with_a_customer_email_as_a_list(site, visitor, settings):
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    details = {**_checkout()["data"]["object"]["customer_details"], "email": ["d@e.org"]}
    send(visitor, _signed(_checkout(customer_email=None, customer_details=details)))


@pytest.mark.django_db
def test_bug_stripe_event_with_a_negative_amount(site, visitor, settings):
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    send(visitor, _signed(_checkout(amount_total=-2550, amount_subtotal=-2550)))


@pytest.mark.django_db
def test_bug_stripe_event_with_infinity_as_a_number(site, visitor, settings):
    # Python's json reads the non-standard `Infinity`; the JSON column refuses it (500).
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    for number in ("Infinity", "-Infinity", "NaN", "1e309"):
        stripe_event = _checkout()
        stripe_event["id"] = f"evt_non_finite_{number}"
        payload = json.dumps(stripe_event).replace(
            '"amount_total": 2550', f'"amount_total": {number}'
        )
        payload = payload.replace(
            '"object": "event"', f'"object": "event", "api_version": {number}', 1
        )
        send(visitor, _signed(payload))  # (its writes are undone: sent again to read them)
        request = _signed(payload)
        response = visitor.post(
            WEBHOOK_URL, request.body, content_type="application/json", headers=request.headers
        )
        assert response.status_code == 200
        stored = WebhookEvent.objects.get(event_id=stripe_event["id"])
        assert stored.status == WebhookEvent.Status.REJECTED
        assert "not finite" in stored.problem


@pytest.mark.django_db
def test_bug_stripe_event_nested_3000_levels_deep(site, visitor, settings):
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    deep = "[" * 3000 + "]" * 3000
    payload = json.dumps(_checkout()).replace('"metadata": {', f'"deep": {deep}, "metadata": {{', 1)
    send(visitor, _signed(payload))


@pytest.mark.django_db
def test_bug_email_provider_webhooks_crash_on_malformed_or_unconfigured_input(site, visitor):
    # Every provider's endpoint is mounted, unauthenticated; django-anymail trusts the payload's
    # shape, and providers needing a package or a key crash when called without it.
    for path, body in [
        ("/anymail/postmark/tracking/", b"[]"),  # TypeError
        ("/anymail/resend/tracking/", b"{}"),  # KeyError
        ("/anymail/mailgun/tracking/", b"{}"),  # AnymailConfigurationError
        ("/anymail/amazon_ses/tracking/", b"{}"),  # boto3 is not installed
    ]:
        send(visitor, Request("POST", path, body=body))
