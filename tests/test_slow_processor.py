"""A slow payment processor cannot stall the site: cached pages stay fast while donate POSTs
wait 10 s for the processor, on the real `pressroom serve` with its default settings."""

from __future__ import annotations

import http.client
import statistics
import threading
import time
from urllib.parse import urlencode, urlsplit

import pytest

from pressroom.fundraising.tests.conftest import running_fake_stripe
from tests.servers import prepare_site, serving, site_env

pytestmark = pytest.mark.slow

PROCESSOR_SECONDS = 10.0
SLOW_DONATIONS = 4  # twice the one-thread-per-worker stall the issue measured with two
READERS = 20
PAGE = "/topics/"


def _connection(base: str) -> http.client.HTTPConnection:
    parts = urlsplit(base)
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)


def donate(base: str, results: list[int]) -> None:
    connection = _connection(base)
    form = urlencode({"amount": "25", "frequency": "once", "email": "dana@example.org"})
    connection.request(
        "POST", "/donate/", body=form, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    response = connection.getresponse()
    response.read()
    results.append(response.status)
    connection.close()


def read_page(base: str, stop: threading.Event, timings: list[tuple[float, float]]) -> None:
    """Read the page over and over on one kept-alive connection, as a browser would."""
    connection = _connection(base)
    while not stop.is_set():
        started = time.monotonic()
        connection.request("GET", PAGE, headers={"Accept-Encoding": "gzip"})
        response = connection.getresponse()
        response.read()
        assert response.status == 200
        timings.append((started, time.monotonic()))
    connection.close()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def test_cached_pages_stay_fast_while_the_processor_takes_ten_seconds(tmp_path):
    with running_fake_stripe(delay=PROCESSOR_SECONDS) as stripe:
        # `make run`'s defaults: no WEB_WORKERS / WEB_THREADS, only what the site needs.
        env = site_env(
            tmp_path, STRIPE_SECRET_KEY="sk_test_pressroom", STRIPE_API_BASE=stripe.base_url
        )
        prepare_site(env, articles=30)
        with serving(env) as base:
            for _ in range(20):  # every worker process has the page in its cache
                warm = _connection(base)
                warm.request("GET", PAGE)
                assert warm.getresponse().status == 200
                warm.close()

            donations: list[int] = []
            donors = [
                threading.Thread(target=donate, args=(base, donations))
                for _ in range(SLOW_DONATIONS)
            ]
            for donor in donors:
                donor.start()
            deadline = time.monotonic() + 10
            while stripe.in_flight < SLOW_DONATIONS and time.monotonic() < deadline:
                time.sleep(0.05)
            waiting = stripe.in_flight
            assert waiting >= 1, "donate POSTs are waiting at the processor"
            slow_window_ends = time.monotonic() + PROCESSOR_SECONDS - 2

            stop = threading.Event()
            timings: list[tuple[float, float]] = []
            readers = [
                threading.Thread(target=read_page, args=(base, stop, timings))
                for _ in range(READERS)
            ]
            for reader in readers:
                reader.start()
            time.sleep(max(0.0, slow_window_ends - time.monotonic()))
            stop.set()
            still_slow = stripe.in_flight
            for reader in readers:  # a read stuck behind a donation finishes, and counts
                reader.join(timeout=60)
            for donor in donors:
                donor.join(timeout=60)

    # Every read that began while the donations were waiting counts, however long it took.
    latencies = [(end - start) * 1000 for start, end in timings if start < slow_window_ends]
    assert latencies, "no read finished while the donations waited"
    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    print(
        f"\n{len(latencies)} reads of {PAGE} by {READERS} readers while {waiting} "
        f"donations waited {PROCESSOR_SECONDS:.0f} s at the processor: "
        f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {max(latencies):.1f} ms, "
        f"mean {statistics.fmean(latencies):.1f} ms"
    )
    assert waiting == SLOW_DONATIONS, "every donate POST reached the processor at once"
    assert still_slow == waiting, "the reads overlapped the slow window"
    assert len(latencies) >= 10 * READERS, "readers kept reading through the window"
    assert p99 < 100, f"p99 {p99:.1f} ms"
    assert donations == [303] * SLOW_DONATIONS, "the slow processor still opened every checkout"
