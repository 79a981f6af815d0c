"""Fundraising test parts: a local fake of Stripe's HTTP API (the one mocked boundary), realistic
signed Stripe events, a real SMTP server, and campaigns and donors.

The fake answers what the stripe library sends (form-encoded POSTs with a Bearer key) with
objects shaped like Stripe's, and records every request for assertions.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import pytest
from aiosmtpd.controller import Controller
from django.utils import timezone

from pressroom.fundraising.models import Campaign
from tests.ports import free_port

PORTS = range(12100, 12200)
WEBHOOK_SECRET = "whsec_test_pressroom_fundraising"
WEBHOOK_URL = "/fundraising/stripe/webhook/"


def _bind_free(server_factory):
    for port in PORTS:
        try:
            return server_factory(port)
        except OSError:
            continue
    raise RuntimeError("no free port in 12100-12199")


# --- The fake Stripe API -----------------------------------------------------------------------


@dataclass
class StripeRequest:
    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]


@dataclass
class FakeStripe:
    port: int = 0
    requests: list[StripeRequest] = field(default_factory=list)
    fail_with: int | None = None  # answer every request with this HTTP error status
    delay: float = 0.0  # seconds before each answer: a slow processor
    # When set, each answer waits for one release of this gate: a test lets held requests
    # finish one at a time (SQLite's in-memory test database cannot take two writers at once).
    gate: threading.Semaphore | None = None
    in_flight: int = 0  # requests received and not answered yet
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def subscription(self, subscription_id: str, params: dict[str, str]) -> dict:
        return _subscription_object(subscription_id, params)

    def calls(self, method: str, path_prefix: str) -> list[StripeRequest]:
        with self.lock:
            return [
                r for r in self.requests if r.method == method and r.path.startswith(path_prefix)
            ]

    def answer(self, method: str, path: str, params: dict[str, str]) -> tuple[int, dict]:
        if self.fail_with:
            return self.fail_with, {
                "error": {"type": "api_error", "message": "The fake Stripe is down."}
            }
        now = int(time.time())
        if method == "POST" and path == "/v1/checkout/sessions":
            session_id = "cs_test_" + secrets.token_hex(12)
            mode = params.get("mode", "payment")
            return 200, {
                "id": session_id,
                "object": "checkout.session",
                "amount_subtotal": int(params["line_items[0][price_data][unit_amount]"]),
                "amount_total": int(params["line_items[0][price_data][unit_amount]"]),
                "cancel_url": params.get("cancel_url"),
                "client_reference_id": params.get("client_reference_id"),
                "created": now,
                "currency": params["line_items[0][price_data][currency]"],
                "customer": None,
                "customer_email": params.get("customer_email"),
                "expires_at": now + 86400,
                "livemode": False,
                "metadata": {
                    key.removeprefix("metadata[").removesuffix("]"): value
                    for key, value in params.items()
                    if key.startswith("metadata[")
                },
                "mode": mode,
                "payment_intent": None,
                "payment_status": "unpaid",
                "status": "open",
                "subscription": None,
                "success_url": params.get("success_url"),
                "url": f"https://checkout.stripe.com/c/pay/{session_id}#fidkdWxOYHwnPyd1blpxYHZxWjA0",
            }
        if method == "POST" and path == "/v1/billing_portal/sessions":
            customer = params.get("customer", "")
            if not customer.startswith("cus_"):
                return 400, {
                    "error": {
                        "code": "resource_missing",
                        "param": "customer",
                        "type": "invalid_request_error",
                        "message": f"No such customer: '{customer}'",
                    }
                }
            session_id = "bps_" + secrets.token_hex(12)
            flow_type = params.get("flow_data[type]")
            return 200, {
                "id": session_id,
                "object": "billing_portal.session",
                "configuration": "bpc_" + secrets.token_hex(12),
                "created": now,
                "customer": customer,
                "flow": {
                    "after_completion": {
                        "hosted_confirmation": None,
                        "redirect": None,
                        "type": "portal_homepage",
                    },
                    "subscription_cancel": None,
                    "subscription_update": None,
                    "subscription_update_confirm": None,
                    "type": flow_type,
                }
                if flow_type
                else None,
                "livemode": False,
                "locale": None,
                "on_behalf_of": None,
                "return_url": params.get("return_url"),
                "url": f"https://billing.stripe.com/p/session/test_{session_id}",
            }
        if path.startswith("/v1/subscriptions/") and method in {"GET", "POST"}:
            return 200, self.subscription(path.rsplit("/", 1)[1], params)
        if method == "DELETE" and path.startswith("/v1/subscriptions/"):
            subscription_id = path.rsplit("/", 1)[1]
            return 200, {
                "id": subscription_id,
                "object": "subscription",
                "status": "canceled",
                "canceled_at": now,
                "ended_at": now,
                "cancel_at_period_end": False,
                "livemode": False,
                "metadata": {},
            }
        return 404, {
            "error": {
                "type": "invalid_request_error",
                "message": f"Unrecognized request URL ({method}: {path}).",
            }
        }


def _subscription_object(subscription_id: str, params: dict[str, str]) -> dict:
    """A subscription of one item as GET/POST /v1/subscriptions/{id} answer (an update's
    price_data becomes the item's new price)."""
    now = int(time.time())
    unit_amount = int(params.get("items[0][price_data][unit_amount]", 1000))
    interval = params.get("items[0][price_data][recurring][interval]", "month")
    return {
        "id": subscription_id,
        "object": "subscription",
        "cancel_at_period_end": False,
        "currency": params.get("items[0][price_data][currency]", "usd"),
        "customer": "cus_fake",
        "items": {
            "object": "list",
            "data": [
                {
                    "id": "si_" + subscription_id[-12:],
                    "object": "subscription_item",
                    "created": now - 86400,
                    "price": {
                        "id": "price_" + secrets.token_hex(8),
                        "object": "price",
                        "currency": "usd",
                        "product": params.get("items[0][price_data][product]", "prod_gift"),
                        "recurring": {"interval": interval, "interval_count": 1},
                        "type": "recurring",
                        "unit_amount": unit_amount,
                    },
                    "quantity": 1,
                    "subscription": subscription_id,
                }
            ],
            "has_more": False,
            "url": f"/v1/subscription_items?subscription={subscription_id}",
        },
        "livemode": False,
        "metadata": {},
        "status": "active",
    }


def _handler_for(fake: FakeStripe) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            path, _, query = self.path.partition("?")
            params = dict(parse_qsl(body or query, keep_blank_values=True))
            with fake.lock:
                fake.requests.append(
                    StripeRequest(self.command, path, params, dict(self.headers.items()))
                )
                fake.in_flight += 1
            try:
                if fake.delay:
                    time.sleep(fake.delay)
                if fake.gate is not None:
                    fake.gate.acquire(timeout=30)
                self._answer(path, params)
            finally:
                with fake.lock:
                    fake.in_flight -= 1

        def _answer(self, path: str, params: dict[str, str]) -> None:
            if not (self.headers.get("Authorization") or "").startswith("Bearer sk_test_"):
                status, payload = (
                    401,
                    {
                        "error": {
                            "type": "invalid_request_error",
                            "message": "Invalid API Key provided",
                        }
                    },
                )
            else:
                status, payload = fake.answer(self.command, path, params)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Request-Id", "req_" + secrets.token_hex(7))
            self.end_headers()
            self.wfile.write(data)

        do_POST = do_GET = do_DELETE = _handle

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextlib.contextmanager
def running_fake_stripe(**options: Any) -> Iterator[FakeStripe]:
    """The fake on a free loopback port until the block ends (also for other processes)."""
    fake = FakeStripe(**options)
    server = _bind_free(lambda port: ThreadingHTTPServer(("127.0.0.1", port), _handler_for(fake)))
    server.daemon_threads = True
    fake.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def fake_stripe(settings):
    """Stripe's HTTP API on 127.0.0.1, with test keys pointing the stripe library at it."""
    with running_fake_stripe() as fake:
        settings.STRIPE_SECRET_KEY = "sk_test_pressroom"
        settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
        settings.STRIPE_API_BASE = fake.base_url
        yield fake


# --- Signed Stripe events ------------------------------------------------------------------------


def sign(payload: str, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """Stripe's scheme: t=<unix time>,v1=hex HMAC-SHA256 of "<t>.<payload>" with the secret."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(
        secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256
    ).hexdigest()
    return f"t={timestamp},v1={digest}"


def event(event_type: str, data_object: dict, *, event_id: str | None = None) -> dict:
    return {
        "id": event_id or "evt_" + secrets.token_hex(12),
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": int(time.time()),
        "data": {"object": data_object},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }


def checkout_completed(
    *,
    amount_total: int,
    currency: str = "usd",
    email: str = "dana@example.org",
    name: str = "Dana Donor",
    campaign: str = "end-of-year",
    payment_intent: str | None = None,
    mode: str = "payment",
    subscription: str | None = None,
    invoice: str | None = None,
    payment_status: str = "paid",
) -> dict:
    """data.object of checkout.session.completed, as Stripe sends it."""
    session_id = "cs_test_" + secrets.token_hex(12)
    return {
        "id": session_id,
        "object": "checkout.session",
        "amount_subtotal": amount_total,
        "amount_total": amount_total,
        "cancel_url": "http://testserver/donate/cancelled/",
        "client_reference_id": campaign,
        "created": int(time.time()) - 60,
        "currency": currency,
        "customer": "cus_" + secrets.token_hex(7),
        "customer_creation": "always",
        "customer_details": {
            "address": {
                "city": None,
                "country": "US",
                "line1": None,
                "line2": None,
                "postal_code": "10001",
                "state": None,
            },
            "email": email,
            "name": name,
            "phone": None,
            "tax_exempt": "none",
            "tax_ids": [],
        },
        "customer_email": email,
        "expires_at": int(time.time()) + 86000,
        "invoice": invoice,
        "livemode": False,
        "metadata": {
            "campaign": campaign,
            "frequency": "monthly" if mode == "subscription" else "once",
            "donor_name": name,
        },
        "mode": mode,
        "payment_intent": payment_intent if mode == "payment" else None,
        "payment_method_types": ["card"],
        "payment_status": payment_status,
        "status": "complete",
        "submit_type": "donate" if mode == "payment" else None,
        "subscription": subscription,
        "success_url": "http://testserver/donate/thanks/?session_id={CHECKOUT_SESSION_ID}",
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "url": None,
    }


def invoice_paid(
    *,
    invoice_id: str,
    subscription: str,
    amount_paid: int,
    currency: str = "usd",
    email: str = "dana@example.org",
    name: str = "Dana Donor",
    campaign: str = "end-of-year",
    billing_reason: str = "subscription_cycle",
) -> dict:
    """data.object of invoice.paid in the current API shape (subscription under parent)."""
    now = int(time.time())
    return {
        "id": invoice_id,
        "object": "invoice",
        "account_country": "US",
        "amount_due": amount_paid,
        "amount_paid": amount_paid,
        "amount_remaining": 0,
        "attempt_count": 1,
        "billing_reason": billing_reason,
        "collection_method": "charge_automatically",
        "created": now - 5,
        "currency": currency,
        "customer": "cus_" + secrets.token_hex(7),
        "customer_email": email,
        "customer_name": name,
        "lines": {
            "object": "list",
            "data": [
                {
                    "id": "il_" + secrets.token_hex(8),
                    "object": "line_item",
                    "amount": amount_paid,
                    "currency": currency,
                    "description": "1 × Monthly donation (at $10.00 / month)",
                    "metadata": {"campaign": campaign, "frequency": "monthly"},
                    "period": {"end": now + 2592000, "start": now},
                }
            ],
            "has_more": False,
            "url": f"/v1/invoices/{invoice_id}/lines",
        },
        "livemode": False,
        "number": "ABCD-" + secrets.token_hex(2).upper(),
        "parent": {
            "quote_details": None,
            "subscription_details": {
                "metadata": {"campaign": campaign, "frequency": "monthly", "donor_name": name},
                "subscription": subscription,
            },
            "type": "subscription_details",
        },
        "status": "paid",
        "status_transitions": {"finalized_at": now - 4, "paid_at": now - 3, "voided_at": None},
        "total": amount_paid,
    }


def charge_refunded(
    *, payment_intent: str, amount: int, amount_refunded: int, currency: str = "usd"
) -> dict:
    charge_id = "ch_" + secrets.token_hex(12)
    return {
        "id": charge_id,
        "object": "charge",
        "amount": amount,
        "amount_captured": amount,
        "amount_refunded": amount_refunded,
        "captured": True,
        "created": int(time.time()) - 3600,
        "currency": currency,
        "livemode": False,
        "paid": True,
        "payment_intent": payment_intent,
        "refunded": amount_refunded == amount,
        "status": "succeeded",
    }


def subscription_deleted(*, subscription: str, campaign: str = "end-of-year") -> dict:
    now = int(time.time())
    return {
        "id": subscription,
        "object": "subscription",
        "cancel_at_period_end": False,
        "canceled_at": now,
        "cancellation_details": {
            "comment": None,
            "feedback": None,
            "reason": "cancellation_requested",
        },
        "created": now - 86400 * 40,
        "currency": "usd",
        "customer": "cus_" + secrets.token_hex(7),
        "ended_at": now,
        "livemode": False,
        "metadata": {"campaign": campaign, "frequency": "monthly"},
        "status": "canceled",
    }


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def monthly_gift_started(subscription: str, invoice: str | None = None) -> dict:
    """The checkout.session.completed event of a reader who starts giving 10.00 a month."""
    return event(
        "checkout.session.completed",
        checkout_completed(
            amount_total=1000,
            mode="subscription",
            subscription=subscription,
            invoice=invoice or new_id("in"),
        ),
    )


@pytest.fixture
def post_event(client, django_capture_on_commit_callbacks):
    """Deliver an event to the webhook as Stripe does: raw JSON body, Stripe-Signature header.
    What the service queues for after its commit runs too, as it would outside a test."""

    def post(stripe_event: dict, *, secret: str = WEBHOOK_SECRET, signature: str | None = None):
        payload = json.dumps(stripe_event, indent=2)
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                WEBHOOK_URL,
                data=payload,
                content_type="application/json",
                headers={
                    "Stripe-Signature": sign(payload, secret) if signature is None else signature
                },
            )

    return post


@pytest.fixture
def stripe_keys(settings):
    """Stripe configured, for webhook tests that make no API call."""
    settings.STRIPE_SECRET_KEY = "sk_test_pressroom"
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET


# --- Campaigns ---------------------------------------------------------------------------------------


@pytest.fixture
def make_campaign(db):
    def make(slug: str = "end-of-year", **fields) -> Campaign:
        now = timezone.now()
        values = {
            "title": "End Of Year Fundraising Campaign",
            "heading": "Urgent End Of Year Fundraising Campaign",
            "message": "Online donations are back! Help us finish the year.",
            "goal_amount": Decimal(10000),
            "currency": "USD",
            "starts_at": now - timedelta(days=3),
            "ends_at": now + timedelta(days=10, hours=1),
            "is_active": True,
            **fields,
        }
        return Campaign.objects.create(slug=slug, **values)

    return make


@pytest.fixture
def campaign(make_campaign) -> Campaign:
    return make_campaign()


# --- A real SMTP server -----------------------------------------------------------------------------


@dataclass
class Mailbox:
    messages: list[EmailMessage] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server, session, envelope) -> str:
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        with self.lock:
            self.messages.append(message)
        return "250 Message accepted"

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.messages if address in str(m["To"])]


@pytest.fixture
def smtp_server(settings):
    mailbox = Mailbox()
    for _ in range(5):
        controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
        try:
            controller.start()
            break
        except OSError:
            continue
    else:
        raise RuntimeError("could not start the SMTP server")
    options = {"host": "127.0.0.1", "port": controller.port, "timeout": 10}
    backend = "django.core.mail.backends.smtp.EmailBackend"
    settings.MAILERS = {
        "default": {"BACKEND": backend, "OPTIONS": options},
        "bulk": {"BACKEND": backend, "OPTIONS": options},
    }
    yield mailbox
    controller.stop()


def invoice_payment_paid(
    *, invoice_id: str, payment_intent: str, amount_paid: int, currency: str = "usd"
) -> dict:
    """data.object of invoice_payment.paid: which payment intent paid an invoice."""
    now = int(time.time())
    return {
        "id": "inpay_" + secrets.token_hex(12),
        "object": "invoice_payment",
        "amount_paid": amount_paid,
        "amount_requested": amount_paid,
        "created": now - 5,
        "currency": currency,
        "invoice": invoice_id,
        "is_default": True,
        "livemode": False,
        "payment": {"payment_intent": payment_intent, "type": "payment_intent"},
        "status": "paid",
        "status_transitions": {"canceled_at": None, "paid_at": now - 3},
    }


def invoice_payment_failed(
    *,
    invoice_id: str,
    subscription: str,
    amount_due: int,
    customer: str,
    attempt_count: int = 1,
    currency: str = "usd",
    email: str = "dana@example.org",
    name: str = "Dana Donor",
    campaign: str = "end-of-year",
) -> dict:
    """data.object of invoice.payment_failed (and invoice.payment_action_required): an open
    invoice of a subscription, its charge declined, with Stripe's next retry scheduled."""
    now = int(time.time())
    return {
        "id": invoice_id,
        "object": "invoice",
        "account_country": "US",
        "amount_due": amount_due,
        "amount_paid": 0,
        "amount_remaining": amount_due,
        "attempt_count": attempt_count,
        "attempted": True,
        "auto_advance": True,
        "billing_reason": "subscription_cycle",
        "collection_method": "charge_automatically",
        "created": now - 3600,
        "currency": currency,
        "customer": customer,
        "customer_email": email,
        "customer_name": name,
        "last_finalization_error": None,
        "livemode": False,
        "next_payment_attempt": now + 3 * 86400,
        "number": "ABCD-" + secrets.token_hex(2).upper(),
        "parent": {
            "quote_details": None,
            "subscription_details": {
                "metadata": {"campaign": campaign, "frequency": "monthly", "donor_name": name},
                "subscription": subscription,
            },
            "type": "subscription_details",
        },
        "status": "open",
        "status_transitions": {"finalized_at": now - 3500, "paid_at": None, "voided_at": None},
        "total": amount_due,
    }


def subscription_ended_by_failed_payments(
    *, subscription: str, status: str = "canceled", campaign: str = "end-of-year"
) -> dict:
    """The subscription Stripe stops after its last retry: canceled (customer.subscription.
    deleted) or left "unpaid" (customer.subscription.updated), per the account's settings."""
    now = int(time.time())
    canceled = status == "canceled"
    return {
        "id": subscription,
        "object": "subscription",
        "cancel_at_period_end": False,
        "canceled_at": now if canceled else None,
        "cancellation_details": {
            "comment": None,
            "feedback": None,
            "reason": "payment_failed" if canceled else None,
        },
        "created": now - 86400 * 70,
        "currency": "usd",
        "customer": "cus_" + secrets.token_hex(7),
        "ended_at": now if canceled else None,
        "livemode": False,
        "metadata": {"campaign": campaign, "frequency": "monthly"},
        "status": status,
    }
