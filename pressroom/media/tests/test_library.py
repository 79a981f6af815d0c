"""The media library's services: sources protected, bad files refused with nothing stored,
duplicates found, uses tracked, deletion refused while used, replacement keeping every use, and
renditions made by the real task worker."""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from PIL import Image, IptcImagePlugin

from pressroom.media import processing, renditions, services
from pressroom.media.models import ItemInUseError, MediaError, MediaItem, MediaUse, Rendition
from pressroom.media.rendering import best_rendition, image_file, picture_html
from pressroom.media.tests.conftest import library_photo, run_worker
from pressroom.media.tests.images import has_location_or_device, jpeg_with_gps, png_bytes
from pressroom.publishing import services as publishing_services
from pressroom.publishing.models import Article

pytestmark = pytest.mark.django_db(transaction=True)


def stored_files(root) -> list[str]:
    return sorted(
        os.path.relpath(os.path.join(folder, name), root)
        for folder, _, names in os.walk(root)
        for name in names
    )


def test_a_phone_photo_loses_its_gps_position_and_camera_but_keeps_credit(media_root):
    item, created = services.add_item_from_bytes(jpeg_with_gps(), "protest.jpg")
    assert created
    stored = default_storage.open(item.file.name).read()
    assert has_location_or_device(stored) == []
    assert item.credit == "Rosa Huaman"
    assert item.copyright == "(c) 2026 Rosa Huaman"
    assert (item.width, item.height, item.mime_type) == (1600, 1200, "image/jpeg")


IPTC_PHOTO = Path(__file__).parent / "data" / "iptc-location.jpg"
# What the fixture's IPTC block says of where it was taken (City, Sub-location, Province/State,
# Country, Country code); none of it may reach the site.
IPTC_LOCATION = [b"Chala", b"Km 611 bridge", b"Arequipa", b"Peru", b"PER", b"Photoshop 3.0"]


def test_iptc_location_and_by_line_are_removed_and_credit_and_copyright_kept(media_root):
    data = IPTC_PHOTO.read_bytes()
    with Image.open(io.BytesIO(data)) as source:  # the fixture does carry them
        iptc = IptcImagePlugin.getiptcinfo(source)
    assert iptc[(2, 90)] == b"Chala"
    assert iptc[(2, 92)] == b"Km 611 bridge, north bank"
    item, _ = services.add_item_from_bytes(data, "iptc-location.jpg")
    assert item.credit == "Rosa Huaman"  # IPTC By-line
    assert item.copyright == "(c) 2026 Radio Sur"
    assert item.caption == "Miners block the Panamericana at dawn"
    renditions.make_item_renditions(item.pk)
    stored = [item.file.name, *(rendition.file.name for rendition in item.renditions.all())]
    assert len(stored) > 5
    for name in stored:
        content = default_storage.open(name).read()
        with Image.open(io.BytesIO(content)) as image:
            assert IptcImagePlugin.getiptcinfo(image) is None, name
        found = [marker for marker in [*IPTC_LOCATION, b"Rosa Huaman"] if marker in content]
        assert found == [], name


def test_every_rendition_is_free_of_metadata_and_made_by_the_worker(media_root):
    item, _ = services.add_item_from_bytes(jpeg_with_gps(), "protest.jpg")
    assert not item.renditions.exists()  # nothing is made in the request that uploads
    run_worker()
    made = list(item.renditions.all())
    formats = {r.format for r in made}
    assert {"webp", "jpeg"} <= formats
    if processing.avif_supported():
        assert "avif" in formats
    presets = {r.preset for r in made}
    assert {"w320", "w640", "w960", "w1280", "w1600", "social", "square", "thumb"} <= presets
    assert "w1920" not in presets  # never upscaled
    for rendition in made:
        data = default_storage.open(rendition.file.name).read()
        assert has_location_or_device(data) == [], rendition
        with Image.open(io.BytesIO(data)) as image:
            assert image.size == (rendition.width, rendition.height)
    social = item.renditions.get(preset="social", format="jpeg")
    assert (social.width, social.height) == (1200, 630)
    square = item.renditions.get(preset="square", format="webp")
    assert square.width == square.height
    thumb = item.renditions.get(preset="thumb", format="webp")
    assert thumb.width * 3 == thumb.height * 4
    # Running the worker again makes nothing twice.
    count = Rendition.objects.count()
    assert renditions.make_item_renditions(item.pk) == 0
    assert Rendition.objects.count() == count


def test_orientation_is_applied_before_the_tag_is_removed(media_root):
    # Orientation 6: the camera was turned; the picture is shown rotated 90°.
    item, _ = services.add_item_from_bytes(jpeg_with_gps(800, 600, orientation=6), "turned.jpg")
    assert (item.width, item.height) == (600, 800)
    with default_storage.open(item.file.name) as stored, Image.open(stored) as image:
        assert image.size == (600, 800)
        assert 0x0112 not in image.getexif()


def test_metadata_kept_when_the_outlet_asks_for_it(settings, media_root):
    settings.MEDIA_KEEP_METADATA = True
    item, _ = services.add_item_from_bytes(jpeg_with_gps(), "kept.jpg")
    stored = default_storage.open(item.file.name).read()
    assert "GPS IFD" in has_location_or_device(stored)


def test_heic_from_a_phone_is_accepted_and_stored_as_jpeg(media_root):
    import pillow_heif

    heic = io.BytesIO()
    pillow_heif.from_pillow(Image.open(io.BytesIO(png_bytes(320, 240)))).save(heic, quality=80)
    item, _ = services.add_item_from_bytes(heic.getvalue(), "IMG_0001.HEIC")
    assert item.mime_type == "image/jpeg"
    assert item.file.name.endswith(".jpg")
    assert (item.width, item.height) == (320, 240)


def test_the_same_file_twice_is_one_item(media_root):
    data = jpeg_with_gps(400, 300)
    first, created = services.add_item_from_bytes(data, "a.jpg")
    again, created_again = services.add_item_from_bytes(data, "b.jpg")
    assert created
    assert not created_again
    assert again.pk == first.pk
    assert MediaItem.objects.count() == 1


def truncated_jpeg() -> bytes:
    return jpeg_with_gps(400, 300)[:3000]


def bomb_png() -> bytes:
    """A PNG header claiming 20000x20000 pixels (400 MP): a few hundred bytes on disk."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", 20000, 20000, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (1 + 20000 * 3) * 4)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )


SVG = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"just some text, not an image at all", "not an image"),
        (truncated_jpeg(), "damaged or incomplete"),
        (bomb_png(), "too large to process safely"),
        (SVG, "SVG files are not accepted"),
        (b"", "empty"),
    ],
    ids=["not-an-image", "truncated", "decompression-bomb", "svg", "empty"],
)
def test_bad_files_are_refused_clearly_and_nothing_is_stored(data, message, media_root):
    with pytest.raises(MediaError, match=message):
        services.add_item_from_bytes(data, "upload.jpg")
    assert MediaItem.objects.count() == 0
    assert not media_root.exists() or stored_files(media_root) == []


def test_the_pixel_limit_is_the_setting(settings, media_root):
    settings.MEDIA_MAX_IMAGE_PIXELS = 1_000_000
    with pytest.raises(MediaError, match="more than 1 megapixels"):
        services.add_item_from_bytes(jpeg_with_gps(1600, 1200), "big.jpg")
    settings.MEDIA_MAX_IMAGE_PIXELS = 60_000_000
    assert services.add_item_from_bytes(jpeg_with_gps(1600, 1200), "big.jpg")[1]


def test_a_file_over_the_upload_limit_is_refused(settings, media_root):
    settings.MEDIA_MAX_UPLOAD_BYTES = 10_000
    with pytest.raises(MediaError, match="the limit is"):
        services.add_item_from_bytes(jpeg_with_gps(800, 600), "large.jpg")
    assert MediaItem.objects.count() == 0
    assert not media_root.exists() or stored_files(media_root) == []


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("../../etc/passwd.jpg", "passwd.jpg"),
        ("C:\\Users\\rosa\\Desktop\\marcha.jpg", "marcha.jpg"),
        ("Marcha en Lima — día 1 \u202e.jpg", "Marcha en Lima — día 1 .jpg"),
        ("\x00\x1f", "upload"),
    ],
)
def test_path_like_and_unicode_names_are_labels_only(name, shown, media_root):
    item, _ = services.add_item_from_bytes(png_bytes(seed=len(name)), name)
    assert item.original_name == shown
    assert item.file.name.startswith(f"originals/{item.key}/")
    assert ".." not in item.file.name
    assert item.file.name.isascii()


def test_pdf_audio_and_video_files_are_kept_as_files(media_root):
    pdf, _ = services.add_item_from_bytes(b"%PDF-1.7\n%\xe2\xe3\n1 0 obj<<>>endobj\n", "report.pdf")
    mp3, _ = services.add_item_from_bytes(
        b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\x00" * 64, "talk.mp3"
    )
    mp4, _ = services.add_item_from_bytes(b"\x00\x00\x00\x18ftypisom" + b"\x00" * 64, "clip.mp4")
    assert [pdf.kind, mp3.kind, mp4.kind] == ["document", "audio", "video"]
    assert pdf.file.name.startswith("files/")
    assert pdf.mime_type == "application/pdf"
    run_worker()
    assert not Rendition.objects.exists()


def test_a_used_item_cannot_be_deleted_and_says_where_it_is_used(make_article, media_root):
    item, _ = services.add_item_from_bytes(jpeg_with_gps(400, 300), "lead.jpg")
    item.alt_text = "Miners marching in Lima"
    item.save()
    article = make_article(title="Miners march on Lima")
    article.lead_image = item
    publishing_services.save_article(article)
    with pytest.raises(ItemInUseError, match="lead image of article “Miners march on Lima”"):
        services.delete_item(item)
    assert MediaItem.objects.filter(pk=item.pk).exists()
    article.lead_image = None
    publishing_services.save_article(article)
    services.delete_item(item)
    assert not MediaItem.objects.exists()


def test_images_in_a_body_are_uses_too(make_article, media_root):
    item, _ = services.add_item_from_bytes(jpeg_with_gps(400, 300), "body.jpg")
    item.alt_text = "A banner in the crowd"
    item.save()
    article = make_article(body=f'<p>Text</p><figure><img src="{item.url}" alt=""></figure>')
    [use] = MediaUse.objects.filter(item=item)
    assert (use.field, use.label) == ("body", article.title)
    publishing_services.delete_article(article)
    assert not MediaUse.objects.exists()


def test_replacing_the_file_keeps_every_use_and_remakes_renditions(make_article, media_root):
    item, _ = services.add_item_from_bytes(jpeg_with_gps(800, 600, seed=1), "old.jpg")
    item.alt_text = "Strikers"
    item.save()
    article = make_article(body=f'<p>x</p><img src="{item.url}" alt="">')
    article.lead_image = item
    publishing_services.save_article(article)
    run_worker()
    old_hash = item.content_hash
    services.replace_item_file(item, jpeg_with_gps(1200, 900, seed=9), "new.jpg")
    run_worker()
    item.refresh_from_db()
    assert item.content_hash != old_hash
    assert item.width == 1200
    assert Article.objects.get(pk=article.pk).lead_image_id == item.pk
    assert set(item.uses.values_list("field", flat=True)) == {"lead image", "body"}
    assert set(item.renditions.values_list("source_hash", flat=True)) == {item.content_hash}
    assert item.renditions.filter(preset="w960").exists()
    # The old body address still names the item: saving the article keeps the use.
    publishing_services.save_article(Article.objects.get(pk=article.pk))
    assert item.uses.filter(field="body").exists()
    # Nothing of the old file is left in storage: its original and renditions are deleted.
    assert stored_files(media_root) == sorted(
        [item.file.name, *(rendition.file.name for rendition in item.renditions.all())]
    )
    assert not [name for name in stored_files(media_root) if old_hash[:20] in name]


def test_a_file_replaced_while_the_worker_works_leaves_no_old_rendition(media_root, monkeypatch):
    """The worker read the old file; the editor replaced it meanwhile: what the worker made of
    the old file is deleted, not left public under the item's folder."""
    item, _ = services.add_item_from_bytes(jpeg_with_gps(800, 600, seed=1), "old.jpg")
    old_hash = item.content_hash
    stale = MediaItem.objects.get(pk=item.pk)
    original_make = processing.make_renditions

    def replace_meanwhile(*args, **kwargs):
        # After the worker has read the old file, before it stores what it made of it.
        if MediaItem.objects.get(pk=item.pk).content_hash == old_hash:
            services.replace_item_file(stale, jpeg_with_gps(640, 480, seed=2), "new.jpg")
        return original_make(*args, **kwargs)

    monkeypatch.setattr(processing, "make_renditions", replace_meanwhile)
    renditions.make_item_renditions(item.pk)
    monkeypatch.undo()
    assert not [name for name in stored_files(media_root) if old_hash[:20] in name]
    assert not Rendition.objects.exclude(source_hash=MediaItem.objects.get().content_hash).exists()
    run_worker()
    assert Rendition.objects.filter(preset="w320").exists()


def test_an_item_deleted_while_the_worker_works_leaves_no_file(media_root, monkeypatch):
    item, _ = services.add_item_from_bytes(jpeg_with_gps(800, 600, seed=1), "old.jpg")
    original_make = processing.make_renditions

    def delete_meanwhile(*args, **kwargs):
        # After the worker has read the file, before it stores what it made of it.
        services.delete_item(MediaItem.objects.get(pk=item.pk))
        return original_make(*args, **kwargs)

    monkeypatch.setattr(processing, "make_renditions", delete_meanwhile)
    assert renditions.make_item_renditions(item.pk) == 0
    monkeypatch.undo()
    assert not MediaItem.objects.exists()
    assert not Rendition.objects.exists()
    assert stored_files(media_root) == []


def test_publishing_with_undescribed_images_is_refused_until_alt_text_or_decorative(
    make_article, media_root
):
    item, _ = services.add_item_from_bytes(jpeg_with_gps(400, 300), "plain.jpg")
    draft = make_article(status="draft", body=f'<p>x</p><img src="{item.url}">')
    with pytest.raises(publishing_services.MissingAltTextError, match=r"“plain\.jpg”"):
        publishing_services.publish_article(draft)
    assert Article.objects.get(pk=draft.pk).status == "draft"
    item.is_decorative = True
    item.save()
    publishing_services.publish_article(Article.objects.get(pk=draft.pk))
    assert Article.objects.get(pk=draft.pk).status == "published"


def test_moving_the_focal_point_recuts_the_crops(media_root):
    item, _ = services.add_item_from_bytes(jpeg_with_gps(1600, 900), "wide.jpg")
    run_worker()
    before = item.renditions.get(preset="square", format="webp").file.name
    item.focal_x, item.focal_y = 0.9, 0.5
    services.update_item(item)
    run_worker()
    after = item.renditions.get(preset="square", format="webp")
    assert after.file.name != before
    # 900x900 box around x=0.9 of 1600 is pushed against the right edge.
    assert processing.crop_box(1600, 900, 800, 800, 0.9, 0.5) == (700.0, 0.0, 1600.0, 900.0)


def test_picture_uses_modern_formats_sizes_and_dimensions(media_root):
    item, _ = services.add_item_from_bytes(jpeg_with_gps(1600, 1200), "lead.jpg")
    item.alt_text = "Marchers"
    item.save()
    # Before the worker: the original, with its dimensions, so the page never waits.
    html = picture_html(item, "lead")
    assert item.url in html
    assert 'width="1600" height="1200"' in html
    run_worker()
    html = picture_html(MediaItem.objects.get(pk=item.pk), "lead")
    if processing.avif_supported():
        assert '<source type="image/avif"' in html
    assert '<source type="image/webp"' in html
    assert 'sizes="(min-width: 48rem) 46rem, 100vw"' in html
    assert 'decoding="async"' in html
    assert 'loading="lazy"' not in html
    assert 'alt="Marchers"' in html
    assert " 1600w" in html
    assert " 320w" in html
    body_html = picture_html(MediaItem.objects.get(pk=item.pk), "body")
    assert 'loading="lazy"' in body_html


def test_nearest_existing_rendition_while_others_are_not_ready(media_root):
    item, _ = services.add_item_from_bytes(jpeg_with_gps(1600, 1200), "lead.jpg")
    run_worker()
    item.renditions.filter(preset="w960").delete()
    nearest = best_rendition(item, "w960", "webp")
    assert nearest is not None
    assert nearest.preset in {"w640", "w1280"}
    assert best_rendition(item, "w1280", "webp").preset == "w1280"


def test_a_missing_crop_is_none_and_a_crop_is_never_stood_in_for_by_a_width(media_root):
    item = library_photo("lead.jpg")
    assert best_rendition(item, "square").preset == "square"
    Rendition.objects.filter(item=item, preset="square").delete()
    item = MediaItem.objects.get(pk=item.pk)
    assert best_rendition(item, "square") is None
    assert image_file(item, "square").url.endswith(item.file.name)  # the original instead


def test_picture_addresses_follow_a_changed_media_url(settings, media_root):
    item = library_photo("lead.jpg")
    assert 'src="/media/renditions/' in picture_html(item, "lead")
    settings.MEDIA_URL = "https://cdn.example.org/files/"
    html = picture_html(MediaItem.objects.get(pk=item.pk), "lead")
    assert 'src="https://cdn.example.org/files/renditions/' in html
    assert "/media/" not in html
