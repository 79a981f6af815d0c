"""/healthz, /readyz and /metrics: for load balancers, the nginx recipe and Prometheus."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import textwrap
import time
import urllib.error
import urllib.request

import pytest
from django.test import Client
from django.utils import timezone

from pressroom.fundraising.models import WebhookEvent
from pressroom.newsletter.models import Delivery, Digest, Subscriber
from pressroom.operations.tests.servers import closed_port, redis_caches, redis_server
from tests.ports import free_port
from tests.test_startup import PRESSROOM, REPOSITORY, clean_env, run_pressroom

TOKEN = "metrics-k3Jx9Qw7zT2vB8nM4pL6rY1sD5fG0hA"
SECRET = "health-k3Jx9Qw7zT2vB8nM4pL6rY1sD5fG0hAzz9Qw7zT2vB8nM4pL6rY1s"


def test_liveness_answers_any_host_without_the_database_and_is_never_cached(
    reader_client, django_assert_num_queries
):
    for _ in range(2):
        with django_assert_num_queries(0):
            response = reader_client.get("/healthz", HTTP_HOST="10.0.0.5:8001")
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}
        assert "no-store" in response["Cache-Control"]
        assert "private" in response["Cache-Control"]
        assert "X-Page-Cache" not in response


@pytest.mark.django_db
def test_readiness_reports_the_database_and_a_shared_cache(reader_client, settings, tmp_path):
    response = reader_client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok"}}
    assert "no-store" in response["Cache-Control"]
    assert "Retry-After" not in response

    with redis_server(tmp_path, "--save", "") as port:
        settings.CACHES = redis_caches(port)
        response = Client().get("/readyz")
        assert response.json() == {"status": "ok", "checks": {"database": "ok", "cache": "ok"}}

    settings.CACHES = redis_caches(closed_port())  # Redis stopped
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "ok", "cache": "unavailable"},
    }


@pytest.mark.django_db
def test_readiness_sees_redis_behind_the_resilient_backend_the_settings_use(
    settings, tmp_path, caplog
):
    """CACHE_URL=redis:// gives pressroom.lib.cache.ResilientRedisCache, which turns an outage
    into misses: /readyz must still see Redis down, and say so without an ERROR per probe."""
    backend = "pressroom.lib.cache.ResilientRedisCache"
    with redis_server(tmp_path, "--save", "") as port:
        settings.CACHES = redis_caches(port, backend)
        response = Client().get("/readyz")
        assert response.status_code == 200
        assert response.json()["checks"] == {"database": "ok", "cache": "ok"}

    settings.CACHES = redis_caches(closed_port(), backend)  # Redis stopped
    with caplog.at_level(logging.WARNING, logger="django.request"):
        for _ in range(3):
            response = Client().get("/readyz")
            assert response.status_code == 503
            assert response.json()["checks"] == {"database": "ok", "cache": "unavailable"}
    assert [r for r in caplog.records if r.name == "django.request"] == []


def test_readiness_is_503_when_the_database_is_down_and_liveness_still_200(tmp_path):
    script = textwrap.dedent(
        """
        import json
        from django.test import Client
        client = Client()
        ready, live = client.get("/readyz"), client.get("/healthz")
        print(json.dumps([ready.status_code, ready.json(), live.status_code, ready["Retry-After"]]))
        """
    )
    env = clean_env(
        SECRET_KEY=SECRET,
        PRESSROOM_VAR_DIR=str(tmp_path),
        DATABASE_URL=f"postgres://pressroom:pressroom@127.0.0.1:{closed_port()}/pressroom",
    )
    result = run_pressroom("shell", "-c", script, env=env)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer == [
        503,
        {"status": "unavailable", "checks": {"database": "unavailable"}},
        200,
        "30",
    ]


def test_metrics_are_a_404_until_configured(reader_client, db):
    response = reader_client.get("/metrics")
    assert response.status_code == 404
    assert "Page not found" in response.content.decode()


def metric(text: str, name: str, **labels: str) -> float:
    label_text = ",".join(f'{key}="{value}"' for key, value in labels.items())
    pattern = re.escape(f"{name}{{{label_text}}}" if labels else name) + r" (\S+)$"
    found = re.search(pattern, text, flags=re.MULTILINE)
    assert found, f"{name} {labels} not in the metrics"
    return float(found.group(1))


@pytest.mark.django_db
def test_metrics_need_the_token_and_count_queue_deliveries_and_webhooks(settings):
    settings.METRICS_TOKEN = TOKEN
    from crontask.tasks import heartbeat

    heartbeat.enqueue()
    heartbeat.enqueue()
    digest = Digest.objects.create(
        date=timezone.localdate(),
        subject="Today",
        covers_from=timezone.now(),
        covers_until=timezone.now(),
    )
    for number, state in enumerate(["sent", "sent", "failed"]):
        subscriber = Subscriber.objects.create(email=f"reader{number}@example.org")
        Delivery.objects.create(digest=digest, subscriber=subscriber, batch=0, state=state)
    WebhookEvent.objects.create(
        provider="stripe",
        event_id="evt_1",
        event_type="charge.refunded",
        payload={},
        status="waiting",
    )

    client = Client()
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    assert "no-store" in response["Cache-Control"]
    text = response.content.decode()
    assert metric(text, "pressroom_task_queue_depth", queue="default") == 2
    assert metric(text, "pressroom_tasks", status="ready") == 2
    assert metric(text, "pressroom_digest_deliveries", state="sent") == 2
    assert metric(text, "pressroom_digest_deliveries", state="failed") == 1
    assert metric(text, "pressroom_digest_deliveries", state="bounced") == 0
    assert metric(text, "pressroom_webhook_events", provider="stripe", status="waiting") == 1


@pytest.mark.django_db
def test_metrics_from_an_allowed_address_without_a_token(settings):
    settings.METRICS_ALLOWED_IPS = ["10.1.0.0/16", "::1"]
    assert Client(REMOTE_ADDR="10.1.2.3").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="::1").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="10.2.0.1").get("/metrics").status_code == 403
    assert Client(REMOTE_ADDR="not-an-address").get("/metrics").status_code == 403


def get(url: str, **headers: str) -> tuple[int, dict, str]:
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 (loopback)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback)
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


@pytest.mark.slow
def test_a_served_instance_counts_responses_across_its_worker_processes(tmp_path):
    """Two granian workers: whichever answers the scrape, it reports both workers' counts."""
    env = clean_env(
        SECRET_KEY=SECRET,
        PRESSROOM_VAR_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path / 'pressroom.sqlite3'}",
        METRICS_TOKEN=TOKEN,
    )
    if not (REPOSITORY / "staticfiles" / "staticfiles.json").exists():
        pytest.fail("run `pressroom collectstatic --no-input` first (make test does)")
    migrated = run_pressroom("migrate", "--no-input", env=env)
    assert migrated.returncode == 0, migrated.stderr
    port = free_port()
    server = subprocess.Popen(
        [PRESSROOM, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
        env=env,
        cwd=REPOSITORY,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if get(f"{base}/healthz")[0] == 200:
                    break
            except (urllib.error.URLError, ConnectionError):
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail("server did not start")
            time.sleep(0.2)
        for _ in range(20):
            assert get(f"{base}/")[0] == 200
        for _ in range(5):
            assert get(f"{base}/no-such-page/")[0] == 404
        scrapes = [get(f"{base}/metrics", Authorization=f"Bearer {TOKEN}") for _ in range(6)]
        for status, _headers, text in scrapes:
            assert status == 200
            assert metric(text, "pressroom_http_responses_total", status="200") >= 20
            assert metric(text, "pressroom_http_responses_total", status="404") == 5
            hits = metric(text, "pressroom_page_cache_requests_total", result="hit")
            misses = metric(text, "pressroom_page_cache_requests_total", result="miss")
            assert hits + misses == 20
            assert misses >= 1
        assert (tmp_path / "metrics" / str(port)).is_dir()
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
