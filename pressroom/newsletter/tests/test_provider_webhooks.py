"""Bounce and complaint webhooks: only the configured provider's, and only with its credentials.

Payloads are the providers' real formats (Postmark's SpamComplaint and Bounce records, SendGrid's
event-webhook array), posted the way the providers post them.
"""

from __future__ import annotations

import base64
import json
import secrets
import time

import pytest

from pressroom.newsletter.models import Subscriber
from tests.test_startup import clean_env, run_pressroom

SECRET = "pressroom:4b7c2f0e9a1d6b3c8e5f"
POSTMARK_URL = "/anymail/postmark/tracking/"
SENDGRID_URL = "/anymail/sendgrid/tracking/"

POSTMARK_COMPLAINT = {
    "RecordType": "SpamComplaint",
    "MessageStream": "outbound",
    "ID": 42,
    "Type": "SpamComplaint",
    "TypeCode": 512,
    "Name": "Spam complaint",
    "Tag": "",
    "MessageID": "00000000-0000-0000-0000-000000000000",
    "Metadata": {},
    "ServerID": 23,
    "Description": "The subscriber explicitly marked this message as spam.",
    "Details": "Test spam complaint details",
    "Email": "reader@example.org",
    "From": "news@example.org",
    "BouncedAt": "2026-11-29T10:00:00Z",
    "DumpAvailable": True,
    "Inactive": True,
    "CanActivate": False,
    "Subject": "Daily Digest",
    "Content": "",
}
POSTMARK_BOUNCE = {
    **POSTMARK_COMPLAINT,
    "RecordType": "Bounce",
    "Type": "HardBounce",
    "TypeCode": 1,
    "Name": "Hard bounce",
    "Description": "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
    "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
}
SENDGRID_BOUNCE = [
    {
        "email": "reader@example.org",
        "timestamp": int(time.time()),
        "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
        "event": "bounce",
        "category": ["digest"],
        "sg_event_id": "6g4ZI7SA-xmRDv57GoPIPw==",
        "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
        "reason": "500 unknown recipient",
        "status": "5.0.0",
        "type": "bounce",
    }
]


def basic_auth(credentials: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(credentials.encode()).decode()}


def post(client, url: str, payload: object, credentials: str | None = None):
    headers = basic_auth(credentials) if credentials else {}
    return client.post(url, json.dumps(payload), content_type="application/json", headers=headers)


@pytest.fixture
def reader(make_subscriber) -> Subscriber:
    return make_subscriber("reader@example.org")


@pytest.fixture
def postmark(settings):
    settings.EMAIL_PROVIDER_WEBHOOKS = ["postmark"]
    settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": "server-token", "WEBHOOK_SECRET": SECRET}


@pytest.mark.django_db
def test_without_a_provider_every_anymail_endpoint_is_404_and_nobody_is_silenced(client, reader):
    for url, payload in [(POSTMARK_URL, POSTMARK_COMPLAINT), (SENDGRID_URL, SENDGRID_BOUNCE)]:
        assert post(client, url, payload).status_code == 404
        assert post(client, url, payload, SECRET).status_code == 404
    assert (
        client.post("/anymail/mandrill/", "{}", content_type="application/json").status_code == 404
    )
    reader.refresh_from_db()
    assert reader.status == Subscriber.Status.CONFIRMED


@pytest.mark.django_db
def test_the_configured_providers_webhook_refuses_a_post_without_its_credentials(
    client, reader, postmark
):
    assert post(client, POSTMARK_URL, POSTMARK_COMPLAINT).status_code == 400
    assert post(client, POSTMARK_URL, POSTMARK_COMPLAINT, "pressroom:guess").status_code == 400
    reader.refresh_from_db()
    assert reader.status == Subscriber.Status.CONFIRMED


@pytest.mark.django_db
def test_an_authenticated_postmark_complaint_and_bounce_suppress_the_reader(
    client, reader, make_subscriber, postmark
):
    assert post(client, POSTMARK_URL, POSTMARK_COMPLAINT, SECRET).status_code == 200
    reader.refresh_from_db()
    assert reader.status == Subscriber.Status.COMPLAINED

    other = make_subscriber("other@example.org")
    bounce = {**POSTMARK_BOUNCE, "Email": "other@example.org"}
    assert post(client, POSTMARK_URL, bounce, SECRET).status_code == 200
    other.refresh_from_db()
    assert other.status == Subscriber.Status.BOUNCED


@pytest.mark.django_db
def test_other_providers_endpoints_stay_unmounted_when_one_is_configured(client, reader, postmark):
    assert post(client, SENDGRID_URL, SENDGRID_BOUNCE, SECRET).status_code == 404
    reader.refresh_from_db()
    assert reader.status == Subscriber.Status.CONFIRMED


@pytest.mark.django_db
def test_the_bulk_providers_sendgrid_webhook_with_credentials_marks_a_bounce(
    client, reader, settings
):
    settings.EMAIL_PROVIDER_WEBHOOKS = ["sendgrid"]
    settings.ANYMAIL = {"SENDGRID_API_KEY": "SG.key", "WEBHOOK_SECRET": SECRET}
    assert post(client, SENDGRID_URL, SENDGRID_BOUNCE).status_code == 400
    assert post(client, POSTMARK_URL, POSTMARK_COMPLAINT, SECRET).status_code == 404
    reader.refresh_from_db()
    assert reader.status == Subscriber.Status.CONFIRMED

    assert post(client, SENDGRID_URL, SENDGRID_BOUNCE, SECRET).status_code == 200
    reader.refresh_from_db()
    assert reader.status == Subscriber.Status.BOUNCED


def test_the_mounted_provider_is_the_one_the_email_backends_name(tmp_path):
    common = {"SECRET_KEY": secrets.token_urlsafe(50), "PRESSROOM_VAR_DIR": str(tmp_path)}
    code = (
        "from django.conf import settings; import django; django.setup();"
        "print(','.join(settings.EMAIL_PROVIDER_WEBHOOKS) or '-')"
    )
    for variables, expected in [
        ({}, "-"),
        ({"EMAIL_BACKEND": "anymail.backends.postmark.EmailBackend"}, "postmark"),
        ({"BULK_EMAIL_BACKEND": "anymail.backends.sendgrid.EmailBackend"}, "sendgrid"),
        ({"BULK_EMAIL_BACKEND": "anymail.backends.mailgun.EmailBackend"}, "mailgun"),
    ]:
        result = run_pressroom(
            "shell",
            "-c",
            code,
            env=clean_env(**common, **variables, ANYMAIL_WEBHOOK_SECRET=SECRET),
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip().splitlines()[-1] == expected


def test_a_provider_without_webhook_credentials_stops_start_up_with_one_clear_line(tmp_path):
    env = clean_env(
        SECRET_KEY=secrets.token_urlsafe(50),
        PRESSROOM_VAR_DIR=str(tmp_path),
        BULK_EMAIL_BACKEND="anymail.backends.postmark.EmailBackend",
        ANYMAIL_POSTMARK_SERVER_TOKEN="server-token",
    )
    result = run_pressroom("check", env=env)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "postmark" in lines[0]
    assert "ANYMAIL_WEBHOOK_SECRET" in lines[0]
    assert "Traceback" not in result.stderr

    # A provider that signs its webhooks may use its signing key instead of basic auth.
    env.update(
        BULK_EMAIL_BACKEND="anymail.backends.mailgun.EmailBackend",
        ANYMAIL_MAILGUN_API_KEY="key",
        ANYMAIL_MAILGUN_WEBHOOK_SIGNING_KEY="signing-key",
    )
    assert run_pressroom("check", env=env).returncode == 0
