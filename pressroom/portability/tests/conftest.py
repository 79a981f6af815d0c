"""A demo site with something of every kind: the corpus, pages, the demo editor, a campaign, an
image used as a lead image (with its file), a subscriber with consent, a donor with a gift."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core import serializers
from django.core.management import call_command
from django.utils import timezone
from PIL import Image

from pressroom.fundraising.models import Campaign, Donation, Donor
from pressroom.media.services import add_item_from_bytes
from pressroom.newsletter.models import Subscriber
from pressroom.portability.archive import exported_models
from pressroom.publishing.models import Article, Menu

SUBSCRIBER_EMAIL = "reader.one@subscribers.example"
DONOR_EMAIL = "giver.two@donors.example"


def _png(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (640, 400), colour).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def demo_site(db, settings, tmp_path: Path) -> dict[str, Any]:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    call_command("demo", articles=24, topics=5, authors=3, stdout=io.StringIO())
    item, _ = add_item_from_bytes(_png((200, 40, 40)), "harbour.png", alt_text="The harbour")
    article = Article.objects.filter(status=Article.Status.PUBLISHED).order_by("pk").first()
    assert article is not None
    Article.objects.filter(pk=article.pk).update(lead_image=item, lead_image_alt="The harbour")
    Subscriber.objects.create(
        email=SUBSCRIBER_EMAIL,
        status=Subscriber.Status.CONFIRMED,
        consented_at=timezone.now(),
        confirmed_at=timezone.now(),
    )
    donor = Donor.objects.create(email=DONOR_EMAIL, name="Giver Two")
    Donation.objects.create(
        donor=donor,
        campaign=Campaign.objects.first(),
        amount=Decimal("25.000"),
        currency="EUR",
        provider_reference="pi_test_export_1",
    )
    return {"article": article, "media": item}


def records() -> dict[str, list[dict[str, Any]]]:
    """Every exported record, as Django serializes it."""
    return {
        model._meta.label_lower: serializers.serialize(
            "python", model._default_manager.order_by("pk"), use_natural_foreign_keys=True
        )
        for model in exported_models()
    }


def empty_the_site() -> None:
    """What a fresh install holds: migrations' rows only (groups, permissions, content types,
    the empty header and footer menus, made again here as publishing's migration 0010 does)."""
    for model in reversed(exported_models()):
        model._default_manager.all().delete()
    for location in ("header", "footer"):
        Menu.objects.create(location=location)
