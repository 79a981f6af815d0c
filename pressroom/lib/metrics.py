"""Prometheus counters of what the web processes answer, and their exposition.

Counters live in each process. `pressroom serve` points PROMETHEUS_MULTIPROC_DIR at a directory
of its own (var/metrics/<port>/, emptied at start), where prometheus-client keeps each worker
process's counters in a memory-mapped file, and the exposition adds them up: a scrape of one
`pressroom serve` instance reports all of its worker processes, whichever worker answers.
Without that variable (tests, `pressroom shell`), a process reports its own counters.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

from prometheus_client import REGISTRY, CollectorRegistry, Counter, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

MULTIPROCESS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
PAGE_CACHE_RESULTS = {"hit", "miss", "off", "bypass"}

RESPONSES = Counter(
    "pressroom_http_responses", "Responses of the web processes, by status code", ["status"]
)
PAGE_CACHE = Counter(
    "pressroom_page_cache_requests",
    "Requests the page cache answered (hit) or stored (miss), by result",
    ["result"],
)
WEBHOOK_RESPONSES = Counter(
    "pressroom_webhook_responses",
    "Answers to payment and email-provider webhooks, by status code (4xx/5xx: failures)",
    ["status"],
)


def is_webhook(path: str) -> bool:
    return "/webhook" in path or path.startswith("/anymail/")


def count_response(path: str, status: str, headers: Iterable[tuple[str, str]]) -> None:
    code = status[:3]
    RESPONSES.labels(code).inc()
    for name, value in headers:
        if name.lower() == "x-page-cache":
            if value in PAGE_CACHE_RESULTS:
                PAGE_CACHE.labels(value).inc()
            break
    if is_webhook(path):
        WEBHOOK_RESPONSES.labels(code).inc()


class CountResponses:
    """WSGI wrapper outside the page cache, so pages it answers by itself are counted too."""

    def __init__(self, application: Callable) -> None:
        self.application = application

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")

        def counting_start_response(status: str, headers: list, exc_info: object = None):
            count_response(path, status, headers)
            return start_response(status, headers, exc_info)

        return self.application(environ, counting_start_response)


def exposition(collectors: Iterable[Collector] = ()) -> bytes:
    """The text format: this instance's counters, then what `collectors` read (the database)."""
    if os.environ.get(MULTIPROCESS_VARIABLE):
        processes = CollectorRegistry()
        MultiProcessCollector(processes)
        output = generate_latest(processes)
    else:
        output = generate_latest(REGISTRY)
    shared = CollectorRegistry()
    for collector in collectors:
        shared.register(collector)
    return output + generate_latest(shared)
