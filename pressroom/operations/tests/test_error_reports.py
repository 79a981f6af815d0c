"""Somebody hears of every 500: ADMINS by email, and Sentry when a DSN is set."""

from __future__ import annotations

import gzip
import json
import textwrap
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import brotli
import pytest
from django.core.management import call_command
from django.tasks import task
from django.test import Client

from pressroom.newsletter.tests.conftest import smtp_server  # noqa: F401 (a fixture)
from tests.test_startup import clean_env, run_pressroom

SECRET = "errors-k3Jx9Qw7zT2vB8nM4pL6rY1sD5fG0hAzz9Qw7zT2vB8nM4pL6rY1s"


@pytest.mark.django_db
@pytest.mark.urls("pressroom.front.tests.broken_urls")
def test_a_server_error_is_emailed_to_the_admins(settings, smtp_server):  # noqa: F811
    settings.DEBUG = False
    settings.ADMINS = ["ops@example.org"]
    response = Client(raise_request_exception=False).get("/broken/")
    assert response.status_code == 500
    [report] = smtp_server.to("ops@example.org")
    assert "Internal Server Error: /broken/" in report.message["Subject"]
    assert "RuntimeError at /broken/\r\nSomething inside the page broke." in report.text
    assert "SECRET_KEY = '********************'" in report.text  # settings are masked


@task
def fail_loudly() -> None:
    raise RuntimeError("The task could not finish.")


# A real worker loop: it closes and reopens the connection, as between tasks.
@pytest.mark.django_db(transaction=True)
def test_a_failed_task_is_emailed_to_the_admins(settings, smtp_server):  # noqa: F811
    settings.DEBUG = False
    settings.ADMINS = ["ops@example.org"]
    fail_loudly.enqueue()
    call_command("db_worker", batch=True, startup_delay=False)
    [report] = smtp_server.to("ops@example.org")
    assert "test_error_reports.fail_loudly state=FAILED" in report.message["Subject"]
    assert "The task could not finish." in report.text


@pytest.mark.django_db
def test_a_bad_host_is_not_emailed(settings, smtp_server):  # noqa: F811
    settings.DEBUG = False
    settings.ADMINS = ["ops@example.org"]
    response = Client(raise_request_exception=False).get("/", HTTP_HOST="evil.example.net")
    assert response.status_code == 400
    assert smtp_server.messages == []


class EnvelopeSink(BaseHTTPRequestHandler):
    """Sentry's ingest endpoint, as far as the SDK can tell: it POSTs envelopes to
    /api/<project>/envelope/, compressed (gzip, or brotli when installed)."""

    received: list[bytes]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "br":
            body = brotli.decompress(body)
        elif encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        self.server.received.append((self.path, body))  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def sentry_endpoint():
    server = ThreadingHTTPServer(("127.0.0.1", 0), EnvelopeSink)
    server.received = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


BREAK_A_PAGE = textwrap.dedent(
    """
    import json, sentry_sdk
    from django.test import Client, override_settings
    with override_settings(ROOT_URLCONF="pressroom.front.tests.broken_urls"):
        client = Client(raise_request_exception=False, HTTP_HOST="localhost")
        status = client.get("/broken/").status_code
    sentry_sdk.flush(timeout=10)
    print(json.dumps([status, sentry_sdk.get_client().is_active()]))
    """
)


def break_a_page(tmp_path, **variables: str) -> list:
    env = clean_env(
        SECRET_KEY=SECRET,
        PRESSROOM_VAR_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        **variables,
    )
    migrated = run_pressroom("migrate", "--no-input", env=env)
    assert migrated.returncode == 0, migrated.stderr
    result = run_pressroom("shell", "-c", BREAK_A_PAGE, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_without_a_dsn_nothing_goes_to_sentry(tmp_path, sentry_endpoint):
    assert break_a_page(tmp_path) == [500, False]
    assert sentry_endpoint.received == []


def test_with_a_dsn_a_server_error_reaches_sentry(tmp_path, sentry_endpoint):
    port = sentry_endpoint.server_address[1]
    dsn = f"http://public0key@127.0.0.1:{port}/42"
    assert break_a_page(tmp_path, SENTRY_DSN=dsn, SENTRY_ENVIRONMENT="staging") == [500, True]
    paths = [path for path, _body in sentry_endpoint.received]
    assert paths
    assert all(path == "/api/42/envelope/" for path in paths)
    events = [
        json.loads(line)
        for _path, body in sentry_endpoint.received
        for line in body.splitlines()
        if b'"exception"' in line
    ]
    [event] = events
    [exception] = event["exception"]["values"]
    assert exception["type"] == "RuntimeError"
    assert exception["value"] == "Something inside the page broke."
    assert event["environment"] == "staging"
    assert event["transaction"] == "/broken/"
    assert "cookies" not in event["request"]  # send_default_pii is off
