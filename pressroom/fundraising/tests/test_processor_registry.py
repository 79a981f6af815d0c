"""Processors are found through FUNDRAISING_PROCESSORS or Python entry points, never by editing
Pressroom; a wrong name stops start-up with one clear line; campaigns choose their processor."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from pressroom.fundraising import providers
from pressroom.fundraising.checks import check_processors
from pressroom.fundraising.models import Campaign

PLUGIN = "pressroom.fundraising.tests.test_providers:PartnerPayProvider"


@pytest.fixture
def fresh_registry():
    providers.registry.cache_clear()
    yield
    providers.registry.cache_clear()


def test_the_built_in_processors_load_and_the_check_is_clean(fresh_registry):
    assert providers.processor_names() == ["stripe", "paypal"]
    assert check_processors() == []
    call_command("check")  # raises SystemCheckError on any Error


def test_a_mistyped_default_processor_stops_the_check_with_one_clear_line(settings):
    settings.FUNDRAISING_PROVIDER = "paypall"

    errors = check_processors()

    assert [error.id for error in errors] == ["fundraising.E002"]
    assert "FUNDRAISING_PROVIDER='paypall' names no installed payment processor" in errors[0].msg
    assert "installed: stripe, paypal" in errors[0].msg
    with pytest.raises(SystemCheckError, match="paypall"):
        call_command("check")


def test_a_processor_path_that_does_not_import_is_an_error(settings):
    settings.FUNDRAISING_PROCESSORS = [
        *providers.BUILT_IN_PROCESSORS,
        "pressroom_payments_nowhere.Processor",
    ]

    errors = check_processors()

    assert [error.id for error in errors] == ["fundraising.E001"]
    assert "'pressroom_payments_nowhere.Processor'" in errors[0].msg
    assert providers.processor_names() == ["stripe", "paypal"]  # the others still load


def test_a_class_that_is_not_a_processor_is_an_error(settings):
    settings.FUNDRAISING_PROCESSORS = ["pressroom.fundraising.models.Campaign"]
    settings.FUNDRAISING_PROVIDER = "stripe"

    messages = [error.msg for error in check_processors()]

    assert any("no `name`" in message or "lacks" in message for message in messages)
    assert any("FUNDRAISING_PROVIDER='stripe'" in message for message in messages)


@pytest.mark.parametrize(
    "command",
    [["check"], ["serve", "--host", "127.0.0.1", "--port", "12197"], ["worker"]],
    ids=["check", "serve", "worker"],
)
def test_start_up_stops_with_one_line_naming_the_mistake(tmp_path, command):
    environment = {
        **os.environ,
        "PRESSROOM_DEV_SECRET": "1",
        "FUNDRAISING_PROVIDER": "paypall",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'check.sqlite3'}",
    }
    pressroom = Path(sys.executable).with_name("pressroom")

    # A server or worker that started anyway would run until the timeout (and fail the test).
    finished = subprocess.run(
        [str(pressroom), *command], env=environment, capture_output=True, text=True, timeout=120
    )

    assert finished.returncode != 0
    lines = [line for line in finished.stderr.splitlines() if "fundraising.E002" in line]
    assert len(lines) == 1
    assert "FUNDRAISING_PROVIDER='paypall'" in lines[0]
    assert "Traceback" not in finished.stderr


def test_an_installed_package_adds_a_processor_through_its_entry_point(
    tmp_path, monkeypatch, fresh_registry
):
    # What `pip install pressroom-partnerpay` leaves on the path: a dist-info with the entry point.
    distribution = tmp_path / "pressroom_partnerpay-1.0.dist-info"
    distribution.mkdir()
    (distribution / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: pressroom-partnerpay\nVersion: 1.0\n"
    )
    (distribution / "entry_points.txt").write_text(
        f"[{providers.ENTRY_POINT_GROUP}]\npartnerpay = {PLUGIN}\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))

    assert providers.processor_names() == ["stripe", "paypal", "partnerpay"]
    assert providers.get_provider("partnerpay").label == "PartnerPay"
    assert check_processors() == []


def test_a_broken_entry_point_is_reported_not_raised(tmp_path, monkeypatch, fresh_registry):
    distribution = tmp_path / "pressroom_broken-1.0.dist-info"
    distribution.mkdir()
    (distribution / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: pressroom-broken\nVersion: 1.0\n"
    )
    (distribution / "entry_points.txt").write_text(
        f"[{providers.ENTRY_POINT_GROUP}]\nbroken = pressroom_broken_nowhere:Processor\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))

    errors = check_processors()

    assert [error.id for error in errors] == ["fundraising.E001"]
    assert "entry point 'broken'" in errors[0].msg


def test_the_donate_page_of_a_campaign_whose_processor_is_gone_offers_ways_to_give(
    client, make_campaign
):
    campaign = make_campaign(processor="removed")

    page = client.get(f"/donate/{campaign.slug}/")
    posted = client.post(f"/donate/{campaign.slug}/", {"amount": "25", "email": "dana@example.org"})

    assert page.status_code == 200
    assert b"not configured" in page.content
    assert posted.status_code == 503


def test_the_campaign_admin_offers_only_configured_processors(client, settings, campaign):
    settings.STRIPE_SECRET_KEY = ""
    settings.PAYPAL_CLIENT_ID = "client"
    settings.PAYPAL_CLIENT_SECRET = "secret"
    staff = get_user_model().objects.create_superuser("treasurer", "t@example.org", "pw-123456")
    client.force_login(staff)

    page = client.get(f"/admin/fundraising/campaign/{campaign.pk}/change/")

    assert page.status_code == 200
    field = page.context["adminform"].form.fields["processor"]
    assert [value for value, _ in field.choices] == ["", "paypal"]

    data = {
        key: value
        for key, value in page.context["adminform"].form.initial.items()
        if value is not None
    }
    data.update(
        {
            "goal_amount": "10000",
            "starts_at_0": campaign.starts_at.strftime("%Y-%m-%d"),
            "starts_at_1": campaign.starts_at.strftime("%H:%M:%S"),
            "ends_at_0": campaign.ends_at.strftime("%Y-%m-%d"),
            "ends_at_1": campaign.ends_at.strftime("%H:%M:%S"),
            "is_active": "on",
        }
    )
    refused = client.post(
        f"/admin/fundraising/campaign/{campaign.pk}/change/", {**data, "processor": "stripe"}
    )
    assert refused.status_code == 200  # re-rendered with the error
    assert "processor" in refused.context["adminform"].form.errors
    chosen = client.post(
        f"/admin/fundraising/campaign/{campaign.pk}/change/", {**data, "processor": "paypal"}
    )
    assert chosen.status_code == 302, chosen.context["adminform"].form.errors
    assert Campaign.objects.get(pk=campaign.pk).processor == "paypal"
