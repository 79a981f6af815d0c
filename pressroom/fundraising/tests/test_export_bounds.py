"""The donations export refuses a campaign id it cannot use before the download starts."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from pressroom.fundraising import services

EXPORT = "/admin/fundraising/campaign/reports/export.csv"
pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "campaign_id", ["abc", "99999999999999999999999999", str(2**63), "-1", "1.5", "999999"]
)
def test_an_unusable_campaign_id_is_a_clear_400_not_a_broken_download(
    admin_client, campaign, campaign_id
):
    response = admin_client.get(EXPORT, {"campaign": campaign_id})
    assert response.status_code == 400
    assert not response.streaming
    assert "Choose a campaign" in response.content.decode()


def test_a_campaign_id_exports_that_campaigns_donations(admin_client, campaign):
    services.record_offline_donation(
        email="ana@example.org",
        name="Ana",
        amount=Decimal("20"),
        currency="USD",
        method="cheque",
        reference="1001",
        campaign=campaign,
        send_receipt=False,
    )
    response = admin_client.get(EXPORT, {"campaign": str(campaign.pk)})
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row["donor_email"] for row in rows] == ["ana@example.org"]
