"""Thumbnails in the Daily Digest as a reader receives it over real SMTP: the lead image's 4:3
crop in JPEG (every mail client reads it), at an absolute address, with its size and alt text;
switched off by DIGEST_THUMBNAILS."""

from __future__ import annotations

import io
import re
from urllib.parse import urlsplit

import pytest
from django.core.files.storage import default_storage
from django.test import Client
from PIL import Image

from pressroom.media.tests.conftest import library_photo, media_root  # noqa: F401 (fixture)
from pressroom.newsletter import sending, tasks

pytestmark = pytest.mark.django_db


def send_today() -> None:
    digest, created = tasks.build_and_queue_digest()
    assert created
    sending.send_all_batches(digest.pk)


@pytest.fixture
def photo(db):
    return library_photo("marcha.jpg", alt_text="Miners walking on the Panamericana")


def test_the_digest_shows_each_lead_image_as_a_sized_described_absolute_thumbnail(
    smtp_server, reader, make_article, photo, settings
):
    settings.SITE_URL = "https://news.example.org"
    settings.DIGEST_THUMBNAILS = True
    make_article("Miners march on Lima", lead_image=photo)
    make_article("Teachers strike in Cusco")
    send_today()

    [received] = smtp_server.to("rosa@example.org")
    images = re.findall(r"<img [^>]*>", received.html)
    assert len(images) == 1  # the article without a lead image has none
    [image] = images
    source = re.search(r'src="([^"]+)"', image).group(1)
    assert source.startswith("https://news.example.org/media/renditions/")
    assert 'width="160" height="120"' in image
    assert 'alt="Miners walking on the Panamericana"' in image
    thumbnail = photo.renditions.get(preset="thumb-400", format="jpeg")
    assert source == "https://news.example.org" + thumbnail.url
    data = default_storage.open(urlsplit(source).path.removeprefix("/media/")).read()
    with Image.open(io.BytesIO(data)) as stored:
        assert stored.format == "JPEG"
        assert stored.size == (400, 300)  # sharp at 160 CSS pixels on dense screens
    assert "<img" not in received.text
    assert "Miners march on Lima" in received.text

    # The digest's page on the site shows the same thumbnail.
    archive = re.search(r'href="https://news.example.org(/digest/[^"]+)"', received.html).group(1)
    page = Client().get(archive).content.decode()
    assert f'src="{source}"' in page
    assert 'alt="Miners walking on the Panamericana"' in page


def test_thumbnails_can_be_switched_off(smtp_server, reader, make_article, photo, settings):
    settings.DIGEST_THUMBNAILS = False
    make_article("Miners march on Lima", lead_image=photo)
    send_today()
    [received] = smtp_server.to("rosa@example.org")
    assert "Miners march on Lima" in received.html
    assert "<img" not in received.html
