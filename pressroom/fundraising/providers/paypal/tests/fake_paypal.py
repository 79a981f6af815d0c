"""A fake of PayPal's REST API on loopback, speaking its formats (the one mocked boundary).

OAuth2 client credentials, Orders v2 (create, get, capture with PayPal-Request-Id idempotency
and 422 ORDER_ALREADY_CAPTURED / ORDER_NOT_APPROVED), Catalog products and Billing plans
(idempotent by PayPal-Request-Id), Subscriptions v1 (create, cancel: 204, or 422
SUBSCRIPTION_STATUS_INVALID when already cancelled), and the webhook verification API.

PayPal signs a webhook with RSA-SHA256 over "<transmission id>|<time>|<webhook id>|<crc32 of the
body>" and a certificate; its verification API does the checking. This fake checks the same
fields with an HMAC of its own key (`sign_event` makes the headers a delivery carries), so a
changed body, header or webhook id is refused exactly where PayPal would refuse it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import secrets
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CLIENT_ID = "AYpressroomTestClientId"
CLIENT_SECRET = "EHpressroomTestClientSecret"
WEBHOOK_ID = "8PT597110X687430LKGECATA"
SIGNING_KEY = b"fake-paypal-signing-key"
CERT_URL = "https://api.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-a5cafa77"


def now_text() -> str:
    return datetime.now(tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def paypal_id(length: int = 17) -> str:
    alphabet = "ABCDEFGHJKLMNPRSTUVWXY0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(length))


def canonical(event: dict) -> bytes:
    """The bytes the fake signs: PayPal's API receives the event re-serialized, so both sides
    agree on one form."""
    return json.dumps(event, sort_keys=True, separators=(",", ":")).encode()


def expected_signature(
    transmission_id: str, transmission_time: str, webhook_id: str, event: dict
) -> str:
    message = f"{transmission_id}|{transmission_time}|{webhook_id}|{zlib.crc32(canonical(event))}"
    return base64.b64encode(
        hmac.new(SIGNING_KEY, message.encode(), hashlib.sha256).digest()
    ).decode()


def sign_event(event: dict, webhook_id: str = WEBHOOK_ID) -> dict[str, str]:
    """The PAYPAL-* headers of a delivery of `event`."""
    transmission_id = str(secrets.randbits(64))
    transmission_time = now_text()
    return {
        "PAYPAL-AUTH-ALGO": "SHA256withRSA",
        "PAYPAL-CERT-URL": CERT_URL,
        "PAYPAL-TRANSMISSION-ID": transmission_id,
        "PAYPAL-TRANSMISSION-SIG": expected_signature(
            transmission_id, transmission_time, webhook_id, event
        ),
        "PAYPAL-TRANSMISSION-TIME": transmission_time,
    }


@dataclass
class PayPalRequest:
    method: str
    path: str
    body: dict
    headers: dict[str, str]


@dataclass
class FakePayPal:
    port: int = 0
    requests: list[PayPalRequest] = field(default_factory=list)
    fail_with: int | None = None
    # The donor's card is declined at capture (PayPal's 422 INSTRUMENT_DECLINED).
    declines_capture: bool = False
    orders: dict[str, dict] = field(default_factory=dict)
    subscriptions: dict[str, dict] = field(default_factory=dict)
    idempotent: dict[str, tuple[int, dict]] = field(default_factory=dict)
    tokens: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def calls(self, method: str, path_prefix: str) -> list[PayPalRequest]:
        with self.lock:
            return [
                r for r in self.requests if r.method == method and r.path.startswith(path_prefix)
            ]

    # What the donor does at PayPal -----------------------------------------------------------

    def approve_order(self, order_id: str, email: str, name: str = "Dana Donor") -> None:
        given, _, surname = name.partition(" ")
        with self.lock:
            order = self.orders[order_id]
            order["status"] = "APPROVED"
            order["payer"] = {
                "name": {"given_name": given, "surname": surname},
                "email_address": email,
                "payer_id": paypal_id(13),
                "address": {"country_code": "US"},
            }

    def activate_subscription(self, subscription_id: str) -> dict:
        with self.lock:
            subscription = self.subscriptions[subscription_id]
            subscription["status"] = "ACTIVE"
            subscription["status_update_time"] = now_text()
            return json.loads(json.dumps(subscription))

    def capture_of(self, order_id: str) -> dict:
        with self.lock:
            return self.orders[order_id]["purchase_units"][0]["payments"]["captures"][0]

    # The API ---------------------------------------------------------------------------------

    def answer(
        self, method: str, path: str, body: dict, headers: dict[str, str]
    ) -> tuple[int, dict]:
        if self.fail_with:
            return self.fail_with, {
                "name": "INTERNAL_SERVER_ERROR",
                "message": "An internal server error occurred.",
                "debug_id": paypal_id(13).lower(),
            }
        request_id = headers.get("PayPal-Request-Id", "")
        if request_id and (method, path, request_id) in self.idempotent:
            return self.idempotent[(method, path, request_id)]  # type: ignore[index]
        status, payload = self._answer(method, path, body)
        if request_id and status < 300:
            self.idempotent[(method, path, request_id)] = (status, payload)  # type: ignore[index]
        return status, payload

    def _answer(self, method: str, path: str, body: dict) -> tuple[int, dict]:
        if method == "POST" and path == "/v2/checkout/orders":
            order_id = paypal_id()
            order = {
                "id": order_id,
                "intent": body["intent"],
                "status": "PAYER_ACTION_REQUIRED",
                "payment_source": {"paypal": {}},
                "purchase_units": [{"reference_id": "default", **body["purchase_units"][0]}],
                "create_time": now_text(),
                "links": [
                    {
                        "href": f"{self.base_url}/v2/checkout/orders/{order_id}",
                        "rel": "self",
                        "method": "GET",
                    },
                    {
                        "href": f"https://www.sandbox.paypal.com/checkoutnow?token={order_id}",
                        "rel": "payer-action",
                        "method": "GET",
                    },
                ],
            }
            with self.lock:
                self.orders[order_id] = order
            return 200, {key: order[key] for key in ("id", "status", "payment_source", "links")}
        if path.startswith("/v2/checkout/orders/"):
            order_id = path.split("/")[4]
            order = self.orders.get(order_id)
            if order is None:
                return 404, {
                    "name": "RESOURCE_NOT_FOUND",
                    "details": [{"issue": "INVALID_RESOURCE_ID"}],
                    "message": "The specified resource does not exist.",
                }
            if method == "GET":
                return 200, order
            if method == "POST" and path.endswith("/capture"):
                if order["status"] == "COMPLETED":
                    return 422, {
                        "name": "UNPROCESSABLE_ENTITY",
                        "details": [
                            {
                                "issue": "ORDER_ALREADY_CAPTURED",
                                "description": "Order already captured.",
                            }
                        ],
                        "message": "The requested action could not be performed.",
                    }
                if order["status"] == "APPROVED" and self.declines_capture:
                    return 422, {
                        "name": "UNPROCESSABLE_ENTITY",
                        "details": [
                            {
                                "issue": "INSTRUMENT_DECLINED",
                                "description": "The instrument presented was either declined "
                                "by the processor or bank, or it can't be used for this payment.",
                            }
                        ],
                        "message": "The requested action could not be performed.",
                    }
                if order["status"] != "APPROVED":
                    return 422, {
                        "name": "UNPROCESSABLE_ENTITY",
                        "details": [
                            {
                                "issue": "ORDER_NOT_APPROVED",
                                "description": "Payer has not yet approved the Order for payment.",
                            }
                        ],
                        "message": "The requested action could not be performed.",
                    }
                unit = order["purchase_units"][0]
                unit["payments"] = {
                    "captures": [
                        {
                            "id": paypal_id(),
                            "status": "COMPLETED",
                            "amount": unit["amount"],
                            "final_capture": True,
                            "custom_id": unit.get("custom_id", ""),
                            "seller_protection": {"status": "NOT_ELIGIBLE"},
                            "create_time": now_text(),
                            "update_time": now_text(),
                        }
                    ]
                }
                order["status"] = "COMPLETED"
                return 201, order
        if method == "POST" and path == "/v1/catalogs/products":
            return 201, {
                "id": "PROD-" + paypal_id(),
                "name": body["name"],
                "type": body.get("type"),
                "category": body.get("category"),
                "create_time": now_text(),
            }
        if method == "POST" and path == "/v1/billing/plans":
            return 201, {
                "id": "P-" + paypal_id(24),
                "product_id": body["product_id"],
                "name": body["name"],
                "status": "ACTIVE",
                "billing_cycles": body["billing_cycles"],
                "create_time": now_text(),
            }
        if method == "POST" and path == "/v1/billing/subscriptions":
            subscription_id = "I-" + paypal_id(12)
            subscription = {
                "id": subscription_id,
                "plan_id": body["plan_id"],
                "status": "APPROVAL_PENDING",
                "status_update_time": now_text(),
                "custom_id": body.get("custom_id", ""),
                "quantity": "1",
                "subscriber": {**body.get("subscriber", {}), "payer_id": paypal_id(13)},
                "create_time": now_text(),
                "start_time": now_text(),
                "plan_overridden": False,
                "billing_info": {
                    "outstanding_balance": {"currency_code": "USD", "value": "0.00"},
                    "cycle_executions": [],
                    "failed_payments_count": 0,
                },
                "links": [
                    {
                        "href": f"https://www.sandbox.paypal.com/webapps/billing/subscriptions?ba_token=BA-{paypal_id()}",
                        "rel": "approve",
                        "method": "GET",
                    },
                    {
                        "href": f"{self.base_url}/v1/billing/subscriptions/{subscription_id}",
                        "rel": "self",
                        "method": "GET",
                    },
                ],
            }
            with self.lock:
                self.subscriptions[subscription_id] = subscription
            return 201, {
                key: subscription[key]
                for key in ("id", "status", "status_update_time", "create_time", "links")
            }
        if (
            method == "POST"
            and path.startswith("/v1/billing/subscriptions/")
            and path.endswith("/cancel")
        ):
            subscription = self.subscriptions.get(path.split("/")[4])
            if subscription is None:
                return 404, {
                    "name": "RESOURCE_NOT_FOUND",
                    "details": [{"issue": "INVALID_RESOURCE_ID"}],
                    "message": "The specified resource does not exist.",
                }
            if subscription["status"] in {"CANCELLED", "EXPIRED"}:
                return 422, {
                    "name": "UNPROCESSABLE_ENTITY",
                    "details": [
                        {
                            "issue": "SUBSCRIPTION_STATUS_INVALID",
                            "description": "Invalid subscription status for cancel action; subscription status should be active or suspended.",
                        }
                    ],
                    "message": "The requested action could not be performed.",
                }
            subscription["status"] = "CANCELLED"
            return 204, {}
        if method == "POST" and path == "/v1/notifications/verify-webhook-signature":
            needed = (
                "auth_algo",
                "cert_url",
                "transmission_id",
                "transmission_sig",
                "transmission_time",
                "webhook_id",
                "webhook_event",
            )
            if any(not body.get(key) for key in needed):
                return 400, {
                    "name": "VALIDATION_ERROR",
                    "message": "Invalid request - see details",
                    "details": [{"issue": "MISSING_REQUIRED_PARAMETER"}],
                }
            good = body["webhook_id"] == WEBHOOK_ID and hmac.compare_digest(
                body["transmission_sig"],
                expected_signature(
                    body["transmission_id"],
                    body["transmission_time"],
                    body["webhook_id"],
                    body["webhook_event"],
                ),
            )
            return 200, {"verification_status": "SUCCESS" if good else "FAILURE"}
        return 404, {"name": "RESOURCE_NOT_FOUND", "message": f"No {method} {path} here."}


def _handler_for(fake: FakePayPal) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            headers = dict(self.headers.items())
            path = self.path.partition("?")[0]
            if path == "/v1/oauth2/token":
                status, payload = self._token(raw)
            else:
                try:
                    body = json.loads(raw) if raw else {}
                except ValueError:
                    body = {}
                with fake.lock:
                    fake.requests.append(PayPalRequest(self.command, path, body, headers))
                token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
                if token not in fake.tokens:
                    status, payload = (
                        401,
                        {
                            "error": "invalid_token",
                            "error_description": "Token signature verification failed",
                        },
                    )
                else:
                    status, payload = fake.answer(self.command, path, body, headers)
            data = json.dumps(payload).encode() if status != 204 else b""
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Paypal-Debug-Id", paypal_id(13).lower())
            self.end_headers()
            self.wfile.write(data)

        def _token(self, raw: bytes) -> tuple[int, dict]:
            with fake.lock:
                fake.requests.append(
                    PayPalRequest("POST", "/v1/oauth2/token", {}, dict(self.headers.items()))
                )
            if fake.fail_with:
                return fake.fail_with, {
                    "name": "INTERNAL_SERVER_ERROR",
                    "message": "An internal server error occurred.",
                }
            expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
            if (
                self.headers.get("Authorization") != expected
                or raw != b"grant_type=client_credentials"
            ):
                return 401, {
                    "error": "invalid_client",
                    "error_description": "Client Authentication failed",
                }
            token = "A21AA" + secrets.token_urlsafe(40)
            with fake.lock:
                fake.tokens.add(token)
            return 200, {
                "scope": "https://uri.paypal.com/services/payments/payment https://uri.paypal.com/services/subscriptions",
                "access_token": token,
                "token_type": "Bearer",
                "app_id": "APP-80W284485P519543T",
                "expires_in": 32400,
                "nonce": now_text() + secrets.token_urlsafe(16),
            }

        do_POST = do_GET = do_PATCH = _handle

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextlib.contextmanager
def running_fake_paypal(ports: range) -> Iterator[FakePayPal]:
    fake = FakePayPal()
    for port in ports:
        try:
            server = ThreadingHTTPServer(("127.0.0.1", port), _handler_for(fake))
            break
        except OSError:
            continue
    else:
        raise RuntimeError(f"no free port in {ports}")
    server.daemon_threads = True
    fake.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


# --- Events as PayPal delivers them -------------------------------------------------------------


def envelope(
    event_type: str,
    resource_type: str,
    resource: dict,
    summary: str,
    *,
    event_id: str | None = None,
    created: str | None = None,
) -> dict:
    return {
        "id": event_id or "WH-" + paypal_id(17) + "-" + paypal_id(17),
        "event_version": "1.0",
        "create_time": created or now_text(),
        "resource_type": resource_type,
        "resource_version": "2.0",
        "event_type": event_type,
        "summary": summary,
        "resource": resource,
        "links": [
            {
                "href": "https://api.paypal.com/v1/notifications/webhooks-events/WH-X",
                "rel": "self",
                "method": "GET",
            },
            {
                "href": "https://api.paypal.com/v1/notifications/webhooks-events/WH-X/resend",
                "rel": "resend",
                "method": "POST",
            },
        ],
    }


def order_approved(order: dict) -> dict:
    return envelope(
        "CHECKOUT.ORDER.APPROVED", "checkout-order", order, "An order has been approved by buyer"
    )


def capture_completed(capture: dict, order_id: str) -> dict:
    resource = {**capture, "supplementary_data": {"related_ids": {"order_id": order_id}}}
    return envelope(
        "PAYMENT.CAPTURE.COMPLETED",
        "capture",
        resource,
        f"Payment completed for $ {capture['amount']['value']} USD",
    )


def capture_refunded(
    capture_id: str, *, refund_value: str, total_refunded: str, currency: str, at: str | None = None
) -> dict:
    refund = {
        "id": paypal_id(),
        "amount": {"currency_code": currency, "value": refund_value},
        "seller_payable_breakdown": {
            "gross_amount": {"currency_code": currency, "value": refund_value},
            "paypal_fee": {"currency_code": currency, "value": "0.00"},
            "net_amount": {"currency_code": currency, "value": refund_value},
            "total_refunded_amount": {"currency_code": currency, "value": total_refunded},
        },
        "status": "COMPLETED",
        "create_time": at or now_text(),
        "update_time": at or now_text(),
        "links": [
            {
                "href": f"https://api.paypal.com/v2/payments/refunds/{paypal_id()}",
                "rel": "self",
                "method": "GET",
            },
            {
                "href": f"https://api.paypal.com/v2/payments/captures/{capture_id}",
                "rel": "up",
                "method": "GET",
            },
        ],
    }
    return envelope(
        "PAYMENT.CAPTURE.REFUNDED",
        "refund",
        refund,
        f"A {refund_value} {currency} capture payment was refunded",
        created=at,
    )


def subscription_event(event_type: str, subscription: dict, summary: str) -> dict:
    return envelope(event_type, "subscription", subscription, summary)


def sale_completed(subscription_id: str, *, value: str, currency: str, custom: str = "") -> dict:
    sale = {
        "id": paypal_id(),
        "state": "completed",
        "amount": {"total": value, "currency": currency, "details": {"subtotal": value}},
        "payment_mode": "INSTANT_TRANSFER",
        "protection_eligibility": "ELIGIBLE",
        "transaction_fee": {"value": "0.59", "currency": currency},
        "billing_agreement_id": subscription_id,
        "custom": custom,
        "create_time": now_text(),
        "update_time": now_text(),
        "links": [],
    }
    return envelope(
        "PAYMENT.SALE.COMPLETED", "sale", sale, f"Payment completed for $ {value} {currency}"
    )


def sale_refunded(
    sale_id: str, *, value: str, total_refunded: str, currency: str, at: str | None = None
) -> dict:
    refund = {
        "id": paypal_id(),
        "state": "completed",
        "amount": {"total": f"-{value}", "currency": currency},
        "total_refunded_amount": {"value": total_refunded, "currency": currency},
        "refund_from_received_amount": {"value": f"-{value}", "currency": currency},
        "sale_id": sale_id,
        "create_time": at or now_text(),
        "update_time": at or now_text(),
        "links": [],
    }
    return envelope(
        "PAYMENT.SALE.REFUNDED",
        "refund",
        refund,
        f"A {value} {currency} sale payment was refunded",
        created=at,
    )


def unix_to_text(moment: float) -> str:
    return datetime.fromtimestamp(moment, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
