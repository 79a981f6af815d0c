"""Replacing a library file protects the people the old one exposed: the old original and every
old rendition are gone from storage (404 at the addresses already in feeds, emails and caches),
while the article page, its feed and the digest, whose bodies still hold the old addresses,
show the new file."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from pressroom.media import services as media_services
from pressroom.media.models import MediaItem
from pressroom.media.renditions import make_item_renditions
from pressroom.media.tests.conftest import library_photo, media_root  # noqa: F401 (fixture)
from pressroom.media.tests.images import jpeg_with_gps
from pressroom.newsletter import sending, tasks

pytestmark = pytest.mark.django_db

LIBRARY_ADDRESS = re.compile(r"/media/(?:originals|renditions)/[0-9a-f]{16}/[\w.-]+")


def test_a_replaced_photo_is_gone_from_its_old_addresses_and_shown_new_everywhere(
    smtp_server, reader, make_article, settings, django_capture_on_commit_callbacks
):
    settings.SITE_URL = "https://news.example.org"
    settings.DIGEST_THUMBNAILS = True
    photo = library_photo("protest.jpg", alt_text="Marchers on the Panamericana")
    old_jpeg = photo.renditions.get(preset="w640", format="jpeg")
    old_webp = photo.renditions.get(preset="w960", format="webp")
    # A body as the editor and the importer write them: the image, a link to the original, and a
    # <picture> copied with rendition addresses.
    body = (
        f'<p>Thousands marched.</p><figure><img src="{photo.url}" alt="Marchers"></figure>'
        f'<p><a href="{photo.url}">Full size</a></p>'
        f'<picture><source type="image/webp" srcset="{old_webp.url} 960w">'
        f'<img src="{old_jpeg.url}" alt="Marchers again" width="640" height="480"></picture>'
    )
    article = make_article("Miners march on Lima", body=body, lead_image=photo)
    tasks.build_and_queue_digest()
    digest_page = re.search(r'href="https://news.example.org(/digest/[^"]+)"', _sent(smtp_server))
    old_addresses = {photo.url, *(rendition.url for rendition in photo.renditions.all())}
    client = Client()
    for address in (photo.url, old_jpeg.url):
        assert client.get(address).status_code == 200

    with django_capture_on_commit_callbacks(execute=True):  # as the editor's request commits
        media_services.replace_item_file(photo, jpeg_with_gps(1000, 750, seed=77), "blurred.jpg")

    photo = MediaItem.objects.get(pk=photo.pk)
    for address in old_addresses:
        assert client.get(address).status_code == 404, address
    # Before the worker has made the new renditions, and after.
    for worker_ran in (False, True):
        if worker_ran:
            make_item_renditions(photo.pk)
        current = {photo.url, *(rendition.url for rendition in photo.renditions.all())}
        page = client.get(article.get_absolute_url()).content.decode()
        feed = client.get("/feed/").content.decode()
        digest = client.get(digest_page.group(1)).content.decode()
        for name, shown in (("article page", page), ("feed", feed), ("digest", digest)):
            addresses = set(LIBRARY_ADDRESS.findall(shown))
            assert addresses, name
            assert addresses <= current, (name, addresses - current)
            assert not addresses & old_addresses, name
        assert photo.url in page  # the link to the full size
        assert (
            f'href="{photo.url}"' in feed or f'href="https://news.example.org{photo.url}"' in feed
        )
        assert client.get(next(iter(LIBRARY_ADDRESS.findall(digest)))).status_code == 200


def _sent(smtp_server) -> str:
    from pressroom.newsletter.models import Digest

    sending.send_all_batches(Digest.objects.get().pk)
    [received] = smtp_server.to("rosa@example.org")
    return received.html
