"""PayPal through its REST APIs, every call through pressroom.lib.outbound.

- OAuth2 client credentials: POST /v1/oauth2/token (Basic client id:secret), the bearer token
  kept in this process until a minute before it expires (never in the shared cache).
- One-time gifts: Orders v2. POST /v2/checkout/orders (intent CAPTURE) gives the `payer-action`
  link the donor follows; once they approve, Pressroom captures the order itself
  (POST /v2/checkout/orders/{id}/capture) when they come back to the thanks page or when the
  CHECKOUT.ORDER.APPROVED webhook arrives, whichever is first. The capture's answer names the
  payer, so the gift is recorded from it; a capture that was pending is recorded when
  PAYMENT.CAPTURE.COMPLETED makes Pressroom read the order again.
- Monthly gifts: Subscriptions v1. A product (POST /v1/catalogs/products) and a plan per amount
  and currency (POST /v1/billing/plans), each created once thanks to PayPal-Request-Id
  idempotency, then POST /v1/billing/subscriptions gives the `approve` link.
  BILLING.SUBSCRIPTION.ACTIVATED starts the gift, PAYMENT.SALE.COMPLETED records each month,
  BILLING.SUBSCRIPTION.CANCELLED / SUSPENDED end it, cancel is
  POST /v1/billing/subscriptions/{id}/cancel.
- Webhooks are verified by PayPal: POST /v1/notifications/verify-webhook-signature with the
  PAYPAL-* transmission headers, PAYPAL_WEBHOOK_ID and the event; only "SUCCESS" is accepted.
  When PayPal cannot be reached the webhook answers 503 and PayPal delivers it again later.

What Pressroom sends in `custom_id` (at most 127 characters) comes back on every event:
"a=<amount>;k=<currency>;r=<replaced gift id>;f=<frequency>;c=<campaign slug>".

Settings: PAYPAL_CLIENT_ID, PAYPAL_CLIENT_SECRET, PAYPAL_WEBHOOK_ID, PAYPAL_API_BASE
(https://api-m.sandbox.paypal.com for the sandbox), PAYPAL_TIMEOUT.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings

from pressroom.fundraising.money import AmountError, normalize_amount, parse_amount
from pressroom.fundraising.providers import (
    CheckoutRequest,
    CheckoutSession,
    CheckoutToSettle,
    EventRejected,
    Fact,
    PaymentDeclined,
    PaymentFailed,
    PaymentReceived,
    PaymentRefunded,
    ProviderError,
    ProviderNotConfigured,
    ProviderRefused,
    RecurringEnded,
    RecurringStarted,
    VerifiedEvent,
    WebhookVerificationError,
    event_mapping,
    event_text,
)
from pressroom.lib.outbound import OutboundError, fetch

TRANSMISSION_HEADERS = {
    "auth_algo": "PAYPAL-AUTH-ALGO",
    "cert_url": "PAYPAL-CERT-URL",
    "transmission_id": "PAYPAL-TRANSMISSION-ID",
    "transmission_sig": "PAYPAL-TRANSMISSION-SIG",
    "transmission_time": "PAYPAL-TRANSMISSION-TIME",
}
MAX_ID_LENGTH = 255
MAX_RESPONSE_BYTES = 1024 * 1024
CUSTOM_ID_LENGTH = 127
# The billing cycle of a PayPal plan for each recurring frequency Pressroom offers.
YEARS_OR_MONTHS = {"monthly": ("MONTH", "Monthly"), "annual": ("YEAR", "Annual")}


def _money(value: Any, what: str) -> tuple[Decimal, str]:
    """PayPal's money objects: {"value": "10.00", "currency_code": "USD"} (v2) or
    {"total": "10.00", "currency": "USD"} (v1). A refund's v1 total may be negative."""
    money = event_mapping(value, what)
    text = event_text(money.get("value", money.get("total")), f"{what} value")
    currency = event_text(money.get("currency_code", money.get("currency")), f"{what} currency")
    currency = currency.upper()
    if not (len(currency) == 3 and currency.isascii() and currency.isalpha()):
        raise EventRejected(f"{what} has no ISO currency: {currency[:20]!r}")
    try:
        return parse_amount(text.lstrip("-"), currency), currency
    except AmountError as error:
        raise EventRejected(f"{what} is not an amount: {error}") from None


def _time(value: Any) -> datetime | None:
    text = event_text(value, "time")
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise EventRejected(f"{text[:40]!r} is not an RFC 3339 time") from None


def _dig(data: Any, *path: str | int) -> Any:
    for key in path:
        if isinstance(key, int):
            if not isinstance(data, list) or len(data) <= key:
                return None
        elif not isinstance(data, Mapping):
            return None
        data = data[key] if isinstance(key, int) else data.get(key)
    return data


def custom_id(request: CheckoutRequest) -> str:
    text = (
        f"a={normalize_amount(request.amount, request.currency)};k={request.currency.upper()};"
        f"r={request.replaces};f={request.frequency};c={request.campaign_slug}"
    )
    return text[:CUSTOM_ID_LENGTH]


def read_custom_id(value: Any) -> dict[str, str]:
    """The fields Pressroom put in custom_id; an unknown shape is read as nothing."""
    fields = {}
    for part in event_text(value, "custom_id").split(";"):
        key, _, item = part.partition("=")
        if key in {"a", "k", "r", "f", "c"}:
            fields[key] = item
    return fields


def _full_name(name: Any) -> str:
    parts = event_mapping(name, "name")
    return " ".join(
        event_text(parts.get(key), "name") for key in ("given_name", "surname") if parts.get(key)
    )


def _link(resource: Mapping[str, Any], *relations: str) -> str:
    for link in resource.get("links") or []:
        if isinstance(link, Mapping) and link.get("rel") in relations:
            return event_text(link.get("href"), "link")
    return ""


class PayPalProvider:
    name = "paypal"
    label = "PayPal"
    supports_monthly = True

    def __init__(self) -> None:
        self._token: tuple[tuple[str, str], str, float] | None = None
        self._token_lock = threading.Lock()

    def is_configured(self) -> bool:
        return bool(settings.PAYPAL_CLIENT_ID and settings.PAYPAL_CLIENT_SECRET)

    # --- HTTP ---------------------------------------------------------------------------------

    def _access_token(self) -> str:
        if not self.is_configured():
            raise ProviderNotConfigured(
                "Online giving through PayPal is not configured (no PAYPAL_CLIENT_ID/SECRET)."
            )
        key = (settings.PAYPAL_API_BASE, settings.PAYPAL_CLIENT_ID)
        with self._token_lock:
            if self._token and self._token[0] == key and self._token[2] > time.monotonic():
                return self._token[1]
            credentials = f"{settings.PAYPAL_CLIENT_ID}:{settings.PAYPAL_CLIENT_SECRET}"
            answer = self._send(
                "POST",
                "/v1/oauth2/token",
                body=b"grant_type=client_credentials",
                headers={
                    "Authorization": "Basic " + base64.b64encode(credentials.encode()).decode(),
                    "Content-Type": "application/x-www-form-urlencoded",
                },
            )
            token = answer.get("access_token")
            lifetime = answer.get("expires_in")
            if not isinstance(token, str) or not isinstance(lifetime, int):
                raise ProviderError("PayPal answered the token request without a token.")
            # A minute early, so a token never expires between this check and PayPal's.
            self._token = (key, token, time.monotonic() + max(0, lifetime - 60))
            return token

    def _send(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str],
        accept: frozenset[int] = frozenset(),
    ) -> dict[str, Any]:
        try:
            response = fetch(
                settings.PAYPAL_API_BASE + path,
                method=method,
                headers={"Accept": "application/json", **headers},
                body=body,
                max_bytes=MAX_RESPONSE_BYTES,
                total_timeout=settings.PAYPAL_TIMEOUT,
                max_redirects=0,
            )
        except OutboundError as error:
            raise ProviderError(f"PayPal could not be reached: {error}") from error
        try:
            data = json.loads(response.content) if response.content else {}
        except ValueError:
            data = {}
        if not isinstance(data, dict):
            data = {}
        if not response.ok and response.status not in accept:
            message = data.get("message") or data.get("error_description") or data.get("name")
            # A 4xx about the request itself (an amount PayPal will not take, an unknown id) is
            # a refusal of this one request; 5xx, rate limits and our credentials refused are
            # PayPal failing us, which count toward its health.
            kind = (
                PayPalRefused
                if 400 <= response.status < 500 and response.status not in {401, 403, 408, 429}
                else PayPalError
            )
            raise kind(response.status, data, f"PayPal refused {method} {path}: {message!r:.200}")
        data["_status"] = response.status
        return data

    def _api(
        self,
        method: str,
        path: str,
        payload: dict[str, Any] | None = None,
        *,
        request_id: str = "",
        accept: frozenset[int] = frozenset(),
    ) -> dict[str, Any]:
        body = json.dumps(payload).encode() if payload is not None else b""
        for attempt in range(2):
            headers = {
                "Authorization": f"Bearer {self._access_token()}",
                "Content-Type": "application/json",
            }
            if request_id:
                # PayPal's idempotency key: the same request twice does the work once.
                headers["PayPal-Request-Id"] = request_id
            try:
                return self._send(method, path, body=body, headers=headers, accept=accept)
            except PayPalError as error:
                if error.status != 401 or attempt:
                    raise
                # The token was revoked or the app's secret changed: ask for a new one once.
                with self._token_lock:
                    self._token = None
        raise AssertionError("unreachable")

    # --- Checkout -----------------------------------------------------------------------------

    def create_checkout(self, request: CheckoutRequest) -> CheckoutSession:
        if request.frequency in YEARS_OR_MONTHS:
            return self._create_subscription(request)
        value = str(normalize_amount(request.amount, request.currency))
        order = self._api(
            "POST",
            "/v2/checkout/orders",
            {
                "intent": "CAPTURE",
                "purchase_units": [
                    {
                        "amount": {"currency_code": request.currency.upper(), "value": value},
                        "description": request.description[:127],
                        "custom_id": custom_id(request),
                    }
                ],
                "payment_source": {
                    "paypal": {
                        "email_address": request.email,
                        "experience_context": {
                            "shipping_preference": "NO_SHIPPING",
                            "user_action": "PAY_NOW",
                            "return_url": self._return_url(request.success_url),
                            "cancel_url": request.cancel_url,
                        },
                    }
                },
            },
        )
        url = _link(order, "payer-action", "approve")
        if not url or not isinstance(order.get("id"), str):
            raise ProviderError("PayPal created an order without a link for the donor.")
        return CheckoutSession(url=url, reference=order["id"])

    def _return_url(self, success_url: str) -> str:
        # PayPal appends ?token=<order id>&PayerID=…; the thanks page settles the order.
        return success_url.split("?", 1)[0] + "?processor=paypal"

    def _plan_id(self, request: CheckoutRequest) -> str:
        currency = request.currency.upper()
        value = str(normalize_amount(request.amount, request.currency))
        unit, kind = YEARS_OR_MONTHS[request.frequency]
        product = self._api(
            "POST",
            "/v1/catalogs/products",
            {"name": "Monthly donation", "type": "SERVICE", "category": "CHARITY"},
            request_id=f"pressroom-product-{settings.PAYPAL_CLIENT_ID[:20]}",
        )
        plan = self._api(
            "POST",
            "/v1/billing/plans",
            {
                "product_id": product.get("id"),
                "name": f"{kind} donation of {value} {currency}",
                "status": "ACTIVE",
                "billing_cycles": [
                    {
                        "frequency": {"interval_unit": unit, "interval_count": 1},
                        "tenure_type": "REGULAR",
                        "sequence": 1,
                        "total_cycles": 0,
                        "pricing_scheme": {
                            "fixed_price": {"value": value, "currency_code": currency}
                        },
                    }
                ],
                "payment_preferences": {
                    "auto_bill_outstanding": True,
                    "payment_failure_threshold": 3,
                },
            },
            # A monthly plan keeps its older key, so plans made before annual ones are reused.
            request_id=(
                f"pressroom-plan-{'year-' if unit == 'YEAR' else ''}"
                f"{currency}-{value}-{product.get('id')}"
            )[:100],
        )
        if not isinstance(plan.get("id"), str):
            raise ProviderError("PayPal created a plan without an id.")
        return plan["id"]

    def _create_subscription(self, request: CheckoutRequest) -> CheckoutSession:
        subscriber: dict[str, Any] = {"email_address": request.email}
        if request.name:
            subscriber["name"] = {"given_name": request.name[:140]}
        subscription = self._api(
            "POST",
            "/v1/billing/subscriptions",
            {
                "plan_id": self._plan_id(request),
                "custom_id": custom_id(request),
                "subscriber": subscriber,
                "application_context": {
                    "shipping_preference": "NO_SHIPPING",
                    "user_action": "SUBSCRIBE_NOW",
                    "return_url": self._return_url(request.success_url),
                    "cancel_url": request.cancel_url,
                },
            },
        )
        url = _link(subscription, "approve")
        if not url or not isinstance(subscription.get("id"), str):
            raise ProviderError("PayPal created a subscription without an approval link.")
        return CheckoutSession(url=url, reference=subscription["id"])

    def settle_checkout(self, reference: str) -> list[Fact]:
        """Capture an approved order (once: PayPal-Request-Id), or read a captured one; the
        facts of its completed capture. An order not approved yet has none."""
        if not (reference.isascii() and reference.isalnum() and len(reference) <= 64):
            raise ProviderError("That is not a PayPal order id.")
        order = self._api("GET", f"/v2/checkout/orders/{reference}")
        if order.get("status") == "APPROVED":
            order = self._api(
                "POST",
                f"/v2/checkout/orders/{reference}/capture",
                {},
                request_id=f"pressroom-capture-{reference}",
                accept=frozenset({422}),
            )
            if order["_status"] == 422:
                order = self._after_refused_capture(reference, order)
        try:
            return self._order_facts(order)
        except (KeyError, TypeError, ValueError, AttributeError, EventRejected) as error:
            raise ProviderError(
                f"PayPal answered with an order Pressroom cannot read: {error!r:.100}"
            ) from error

    def _after_refused_capture(self, reference: str, answer: Mapping[str, Any]) -> dict[str, Any]:
        """PayPal's 422 to a capture: only ORDER_ALREADY_CAPTURED means it was paid (by
        another process meanwhile; read the order again). Anything else (INSTRUMENT_DECLINED,
        PAYER_ACTION_REQUIRED, …) means nothing was paid: PayPal says to send the payer back
        to the order's approval page to choose another way to pay."""
        issues = {
            detail.get("issue")
            for detail in answer.get("details") or []
            if isinstance(detail, Mapping)
        }
        if "ORDER_ALREADY_CAPTURED" in issues:
            return self._api("GET", f"/v2/checkout/orders/{reference}")
        order = self._api("GET", f"/v2/checkout/orders/{reference}")
        retry_url = _link(order, "payer-action", "approve")
        issue = next((str(item)[:40] for item in issues if item), "UNPROCESSABLE_ENTITY")
        raise PaymentDeclined(
            f"PayPal did not take the payment of order {reference}: {issue}",
            retry_url=retry_url if retry_url.startswith("https://") else "",
        )

    def _order_facts(self, order: Mapping[str, Any]) -> list[Fact]:
        if order.get("status") != "COMPLETED":
            return []
        payer = event_mapping(order.get("payer"), "payer")
        facts: list[Fact] = []
        for unit in order.get("purchase_units") or []:
            for capture in _dig(unit, "payments", "captures") or []:
                if capture.get("status") != "COMPLETED":
                    continue  # pending (e.g. an eCheck): PAYMENT.CAPTURE.COMPLETED follows
                amount, currency = _money(capture.get("amount"), "capture amount")
                fields = read_custom_id(capture.get("custom_id") or unit.get("custom_id"))
                facts.append(
                    PaymentReceived(
                        reference=event_text(capture["id"], "capture id"),
                        amount=amount,
                        currency=currency,
                        email=event_text(payer.get("email_address"), "payer email"),
                        name=_full_name(payer.get("name")),
                        campaign_slug=fields.get("c", ""),
                        payment_reference=event_text(order.get("id"), "order id"),
                        received_at=_time(capture.get("create_time")),
                    )
                )
        return facts

    def cancel_recurring(self, reference: str) -> None:
        answer = self._api(
            "POST",
            f"/v1/billing/subscriptions/{reference}/cancel",
            {"reason": "The donor asked to stop their monthly gift."},
            accept=frozenset({404, 422}),
        )
        # 422 SUBSCRIPTION_STATUS_INVALID: cancelled (or expired) already; 404: no such one.
        # Either way it charges nobody any more.
        if answer["_status"] == 422 and _dig(answer, "details", 0, "issue") not in {
            "SUBSCRIPTION_STATUS_INVALID",
            None,
        }:
            raise ProviderError(f"PayPal could not cancel the subscription {reference}.")

    def card_update_url(self, customer_reference: str, return_url: str) -> str:
        """PayPal donors change how they pay in their own PayPal account's automatic payments."""
        if "sandbox" in settings.PAYPAL_API_BASE:
            return "https://www.sandbox.paypal.com/myaccount/autopay/"
        return "https://www.paypal.com/myaccount/autopay/"

    # --- Webhooks -----------------------------------------------------------------------------

    def verify_webhook(self, body: bytes, headers: Mapping[str, str]) -> VerifiedEvent:
        if not settings.PAYPAL_WEBHOOK_ID:
            raise ProviderNotConfigured("PAYPAL_WEBHOOK_ID is not set.")
        transmission = {
            key: headers.get(header) or "" for key, header in TRANSMISSION_HEADERS.items()
        }
        if not all(transmission.values()) or any(
            len(value) > 2000 for value in transmission.values()
        ):
            raise WebhookVerificationError("The PayPal transmission headers are missing.")
        try:
            event = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise WebhookVerificationError("The payload is not JSON.") from None
        if not isinstance(event, dict) or not isinstance(event.get("resource"), dict):
            raise WebhookVerificationError("The payload is not a PayPal event.")
        event_id, event_type = event.get("id"), event.get("event_type")
        if not (isinstance(event_id, str) and 0 < len(event_id) <= MAX_ID_LENGTH):
            raise WebhookVerificationError("The event id is not a PayPal event id.")
        if not (isinstance(event_type, str) and len(event_type) <= 100):
            raise WebhookVerificationError("The event type is not a PayPal event type.")
        try:
            answer = self._api(
                "POST",
                "/v1/notifications/verify-webhook-signature",
                {**transmission, "webhook_id": settings.PAYPAL_WEBHOOK_ID, "webhook_event": event},
            )
        except PayPalError as error:
            if error.status == 400:  # PayPal could not read the headers it was given
                raise WebhookVerificationError("PayPal refused to verify the event.") from None
            raise
        if answer.get("verification_status") != "SUCCESS":
            raise WebhookVerificationError("Invalid PayPal signature.")
        return VerifiedEvent(event_id=event_id, event_type=event_type, payload=event)

    def interpret_event(self, event: VerifiedEvent) -> list[Fact]:
        handler = getattr(self, "_on_" + event.event_type.replace(".", "_").lower(), None)
        if handler is None:
            return []
        try:
            return handler(
                event_mapping(event.payload.get("resource"), "resource"),
                _time(event.payload.get("create_time")),
            )
        except (
            KeyError,
            TypeError,
            ValueError,
            AttributeError,
            ArithmeticError,
            InvalidOperation,
        ) as error:
            raise EventRejected(f"Malformed {event.event_type} event: {error!r:.200}") from error

    def _on_checkout_order_approved(
        self, order: Mapping[str, Any], created: datetime | None
    ) -> list[Fact]:
        return [CheckoutToSettle(event_text(order["id"], "order id"))]

    def _on_checkout_order_completed(
        self, order: Mapping[str, Any], created: datetime | None
    ) -> list[Fact]:
        return self._order_facts(order)

    def _on_payment_capture_completed(
        self, capture: Mapping[str, Any], created: datetime | None
    ) -> list[Fact]:
        # The capture names no payer: read the order (it does) through settle_checkout.
        order = event_text(
            _dig(capture, "supplementary_data", "related_ids", "order_id"), "order id"
        )
        return [CheckoutToSettle(order)] if order else []

    def _on_payment_capture_refunded(
        self, refund: Mapping[str, Any], created: datetime | None
    ) -> list[Fact]:
        capture = _link(refund, "up").rstrip("/").rsplit("/", 1)[-1]
        total = _dig(refund, "seller_payable_breakdown", "total_refunded_amount") or refund.get(
            "amount"
        )
        amount, currency = _money(total, "total_refunded_amount")
        return [
            PaymentRefunded(
                references=[capture] if capture else [],
                total_refunded=amount,
                currency=currency,
                refunded_at=_time(refund.get("create_time")) or created,
            )
        ]

    def _on_billing_subscription_activated(
        self, subscription: Mapping[str, Any], created: datetime | None
    ) -> list[Fact]:
        fields = read_custom_id(subscription.get("custom_id"))
        last_payment = _dig(subscription, "billing_info", "last_payment", "amount")
        if fields.get("a") and fields.get("k"):
            amount, currency = _money(
                {"value": fields["a"], "currency_code": fields["k"]}, "custom_id"
            )
        else:
            amount, currency = _money(last_payment, "last_payment")
        subscriber = event_mapping(subscription.get("subscriber"), "subscriber")
        return [
            RecurringStarted(
                reference=event_text(subscription["id"], "subscription id"),
                amount=amount,
                currency=currency,
                email=event_text(subscriber.get("email_address"), "subscriber email"),
                name=_full_name(subscriber.get("name")),
                campaign_slug=fields.get("c", ""),
                # An annual subscription stays annual (older ones carry no "f": monthly).
                details={"frequency": fields["f"]} if fields.get("f") else {},
                replaces=fields.get("r", ""),
            )
        ]

    def _on_payment_sale_completed(
        self, sale: Mapping[str, Any], created: datetime | None
    ) -> list[Fact]:
        subscription = event_text(sale.get("billing_agreement_id"), "billing_agreement_id")
        if not subscription or sale.get("state") != "completed":
            return []
        amount, currency = _money(sale.get("amount"), "sale amount")
        return [
            PaymentReceived(
                reference=event_text(sale["id"], "sale id"),
                amount=amount,
                currency=currency,
                email="",  # a sale names no payer: the subscription's donor gave it
                campaign_slug=read_custom_id(sale.get("custom")).get("c", ""),
                recurring_reference=subscription,
                received_at=_time(sale.get("create_time")) or created,
            )
        ]

    def _on_payment_sale_refunded(
        self, refund: Mapping[str, Any], created: datetime | None
    ) -> list[Fact]:
        total = refund.get("total_refunded_amount") or refund.get("amount")
        amount, currency = _money(total, "total_refunded_amount")
        sale = event_text(refund.get("sale_id"), "sale_id")
        return [
            PaymentRefunded(
                references=[sale] if sale else [],
                total_refunded=amount,
                currency=currency,
                refunded_at=_time(refund.get("create_time")) or created,
            )
        ]

    def _on_billing_subscription_cancelled(
        self, subscription: Mapping[str, Any], created: datetime | None
    ) -> list[Fact]:
        return [
            RecurringEnded(
                reference=event_text(subscription["id"], "subscription id"),
                ended_at=_time(subscription.get("status_update_time")) or created,
            )
        ]

    _on_billing_subscription_expired = _on_billing_subscription_cancelled

    def _on_billing_subscription_suspended(
        self, subscription: Mapping[str, Any], created: datetime | None
    ) -> list[Fact]:
        # PayPal suspends a subscription whose payments failed past payment_failure_threshold:
        # it lapsed (a suspension by staff at PayPal has no failed payments and is ignored).
        failed = _dig(subscription, "billing_info", "failed_payments_count")
        if not isinstance(failed, int) or failed <= 0:
            return []
        return [
            RecurringEnded(
                reference=event_text(subscription["id"], "subscription id"),
                ended_at=_time(subscription.get("status_update_time")) or created,
                payment_failed=True,
            )
        ]

    def _on_billing_subscription_payment_failed(
        self, subscription: Mapping[str, Any], created: datetime | None
    ) -> list[Fact]:
        billing = event_mapping(subscription.get("billing_info"), "billing_info")
        failed = event_mapping(billing.get("last_failed_payment"), "last_failed_payment")
        amount, currency = _money(failed.get("amount"), "last_failed_payment amount")
        reference = event_text(subscription["id"], "subscription id")
        when = event_text(failed.get("time"), "last_failed_payment time")
        subscriber = event_mapping(subscription.get("subscriber"), "subscriber")
        attempts = billing.get("failed_payments_count")
        return [
            PaymentFailed(
                # One row per failed cycle: PayPal names no invoice, the failure's time does.
                reference=hashlib.sha256(f"{reference} {when}".encode()).hexdigest()[:40],
                recurring_reference=reference,
                amount=amount,
                currency=currency,
                email=event_text(subscriber.get("email_address"), "subscriber email"),
                name=_full_name(subscriber.get("name")),
                customer_reference=reference,
                attempts=max(1, min(attempts if isinstance(attempts, int) else 1, 1000)),
                failed_at=_time(when) or created,
            )
        ]


class PayPalError(ProviderError):
    """PayPal answered with an error status (kept, with its answer, for the callers)."""

    def __init__(self, status: int, data: Mapping[str, Any], message: str) -> None:
        super().__init__(message)
        self.status = status
        self.data = data


class PayPalRefused(PayPalError, ProviderRefused):
    """PayPal refused this one request (4xx): not an outage."""
