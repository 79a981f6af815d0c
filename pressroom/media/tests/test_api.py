"""The library's API for other apps (importers, editor blocks, pages): reads, files, refusals,
and nothing half-stored when the database refuses a row."""

from __future__ import annotations

import io
import os

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from pressroom.media import services
from pressroom.media.models import MediaError, MediaItem
from pressroom.media.rendering import best_rendition, picture_html, social_image_url
from pressroom.media.tests.conftest import run_worker
from pressroom.media.tests.images import jpeg_with_gps, png_bytes

pytestmark = pytest.mark.django_db(transaction=True)


def test_reads_for_lists_and_search(media_root):
    photo, _ = services.add_item_from_bytes(png_bytes(seed=1), "a.png", caption="River march")
    described, _ = services.add_item_from_bytes(png_bytes(seed=2), "b.png", alt_text="A river")
    services.add_item_from_bytes(b"%PDF-1.4 x", "c.pdf")
    assert set(MediaItem.objects.images()) == {photo, described}
    assert list(MediaItem.objects.lacking_alt_text()) == [photo]
    assert set(MediaItem.objects.search("river")) == {photo, described}
    assert MediaItem.objects.unused().count() == 3


def test_add_from_an_uploaded_file_checks_its_size_first(settings, media_root):
    upload = SimpleUploadedFile("x.png", png_bytes(), content_type="image/png")
    item, created = services.add_item_from_file(upload, alt_text="Chart")
    assert created
    assert item.alt_text == "Chart"
    settings.MEDIA_MAX_UPLOAD_BYTES = 1024
    with pytest.raises(MediaError, match="the limit is 1 KB"):
        services.add_item_from_file(SimpleUploadedFile("y.png", png_bytes(seed=9)))


def test_a_refused_row_leaves_no_file_behind(media_root, monkeypatch):
    def refuse(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(MediaItem, "save", refuse)
    with pytest.raises(RuntimeError):
        services.add_item_from_bytes(jpeg_with_gps(400, 300), "lost.jpg")
    leftovers = [name for _, _, names in os.walk(media_root) for name in names]
    assert leftovers == []


def test_replacing_with_another_items_file_is_refused(media_root):
    data = png_bytes(seed=1)
    services.add_item_from_bytes(data, "a.png")
    second, _ = services.add_item_from_bytes(png_bytes(seed=2), "b.png")
    with pytest.raises(MediaError, match=r"already in the library as “a\.png”"):
        services.replace_item_file(second, data, "again.png")


def test_a_focal_point_outside_the_image_is_refused(media_root):
    item, _ = services.add_item_from_bytes(png_bytes(), "a.png")
    item.focal_x = 1.5
    with pytest.raises(MediaError, match="inside the image"):
        services.update_item(item)


def test_nothing_to_show_for_a_missing_item_or_a_file():
    assert picture_html(None) == ""
    assert social_image_url(None) == ""
    pdf = MediaItem(kind=MediaItem.Kind.DOCUMENT, mime_type="application/pdf")
    assert picture_html(pdf) == ""


def test_teasers_and_social_cards(media_root):
    item, _ = services.add_item_from_bytes(jpeg_with_gps(1200, 900), "lead.jpg")
    item.is_decorative = True
    item.save()
    teaser_before = picture_html(item, "teaser")
    assert 'width="400" height="300"' in teaser_before
    assert 'loading="lazy"' in teaser_before
    assert social_image_url(item) == ""
    run_worker()
    item = MediaItem.objects.get(pk=item.pk)
    assert social_image_url(item).endswith(".jpg")
    assert "-social-" in social_image_url(item)
    teaser = picture_html(item, "teaser", css_class="thumb")
    assert 'alt=""' in teaser
    assert 'class="thumb"' in teaser
    assert " 400w" in teaser
    assert best_rendition(item, "thumb", "webp").preset == "thumb"


def test_png_with_transparency_keeps_it_in_renditions(media_root):
    from PIL import Image

    image = Image.new("RGBA", (700, 500), (200, 30, 30, 0))
    output = io.BytesIO()
    image.save(output, "PNG")
    item, _ = services.add_item_from_bytes(output.getvalue(), "logo.png")
    run_worker()
    fallback = item.renditions.get(preset="w640", format="png")
    with fallback.file.open("rb") as stored, Image.open(stored) as made:
        assert made.mode == "RGBA"
