"""/healthz, /readyz and /metrics, answered before anything else in the stack.

First in MIDDLEWARE, so a probe touches neither the page cache nor sessions, and is not subject
to ALLOWED_HOSTS: load balancers and monitoring often call an app server by its address. The
answers name no host and carry nothing private, and they are never cached (Cache-Control:
no-store), by the page cache or by any proxy.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.utils.cache import add_never_cache_headers

from pressroom.lib.metrics import exposition
from pressroom.operations.health import readiness
from pressroom.operations.metrics import DatabaseCollector

METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Seconds a 503 from /readyz asks a client to wait (the branded 503 of front.views says the same).
READINESS_RETRY_AFTER = 30


class OperationsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        self.answers: dict[str, Callable[[HttpRequest], HttpResponse | None]] = {
            "/healthz": self.liveness,
            "/readyz": self.readiness,
            "/metrics": self.metrics,
        }

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        answer = self.answers.get(request.path_info)
        response = answer(request) if answer is not None else None
        if response is None:
            return self.get_response(request)
        add_never_cache_headers(response)
        return response

    @staticmethod
    def liveness(request: HttpRequest) -> HttpResponse:
        """The process answers: nothing else is asked (a restart would not fix the database)."""
        return json_response({"status": "ok"}, 200)

    @staticmethod
    def readiness(request: HttpRequest) -> HttpResponse:
        checks = readiness()
        ready = all(state == "ok" for state in checks.values())
        response = json_response(
            {"status": "ok" if ready else "unavailable", "checks": checks}, 200 if ready else 503
        )
        # A load balancer asks every few seconds: a 503 here is an answer, not an error for
        # django.request to log (and mail to ADMINS) at every probe. The outage itself is
        # logged once a minute by the parts that meet it.
        response._has_been_logged = True  # type: ignore[attr-defined]
        if not ready:
            # As the site's own 503 says: an outage is usually a restart or a fail-over.
            response["Retry-After"] = str(READINESS_RETRY_AFTER)
        return response

    @staticmethod
    def metrics(request: HttpRequest) -> HttpResponse | None:
        """None (the site's 404) unless configured and the caller has the token or address."""
        if not (settings.METRICS_TOKEN or settings.METRICS_ALLOWED_IPS):
            return None
        if not may_read_metrics(request):
            return HttpResponse("Forbidden\n", status=403, content_type="text/plain")
        return HttpResponse(exposition([DatabaseCollector()]), content_type=METRICS_CONTENT_TYPE)


def json_response(data: dict, status: int) -> HttpResponse:
    return HttpResponse(json.dumps(data), status=status, content_type="application/json")


def may_read_metrics(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    authorization = request.META.get("HTTP_AUTHORIZATION", "")
    offered = authorization.removeprefix("Bearer ").encode()
    if (
        token
        and authorization.startswith("Bearer ")
        and hmac.compare_digest(offered, token.encode())
    ):
        return True
    try:
        # The direct peer: behind nginx this is nginx itself, so there use the token, or keep
        # /metrics off the public server (deploy/nginx/pressroom.conf does).
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in network for network in allowed_networks())


def allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(entry, strict=False) for entry in settings.METRICS_ALLOWED_IPS]
