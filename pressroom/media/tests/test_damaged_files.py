"""Damaged animations and AVIF files, and animations too large in all their frames, get a clear
message in the admin and in the importer: never a 500, never a half-stored item."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from pressroom.media import services
from pressroom.media.models import MediaError, MediaItem
from pressroom.media.tests.images import jpeg_with_gps

pytestmark = pytest.mark.django_db
DAMAGED = sorted((Path(__file__).parent / "data").glob("damaged-*.bin"))


def many_frames_gif(frames: int = 40, side: int = 4000) -> bytes:
    """A small file (tens of KB) whose frames together hold 640 megapixels."""
    base = Image.new("P", (side, side), 0)
    base.putpalette([0, 0, 0, 255, 255, 255] + [0] * 762)
    others = []
    for index in range(1, frames):
        frame = base.copy()
        frame.putpixel((index, index), 1)
        others.append(frame)
    output = io.BytesIO()
    base.save(output, "GIF", save_all=True, append_images=others)
    return output.getvalue()


@pytest.mark.parametrize("path", DAMAGED, ids=lambda path: path.name)
def test_a_damaged_image_is_refused_with_a_message_by_the_service(path):
    with pytest.raises(MediaError, match="damaged or incomplete"):
        services.add_item_from_bytes(path.read_bytes(), "photo.gif")
    assert not MediaItem.objects.exists()


@pytest.mark.parametrize("path", DAMAGED, ids=lambda path: path.name)
def test_a_damaged_image_uploaded_in_the_admin_gets_an_error_not_a_500(editor_client, path):
    response = editor_client.post(
        "/admin/media/mediaitem/add/",
        {"uploads": [SimpleUploadedFile("cut.gif", path.read_bytes())]},
    )
    assert response.status_code == 200
    assert "damaged or incomplete" in response.content.decode()
    assert not MediaItem.objects.exists()


def test_an_animation_too_large_in_all_its_frames_is_refused_before_decoding(settings):
    data = many_frames_gif()
    assert len(data) < 200_000
    with pytest.raises(MediaError, match="animation is too large"):
        services.add_item_from_bytes(data, "long.gif")


def test_replacing_a_file_with_one_already_in_the_library_re_renders_the_form(editor_client):
    item, _ = services.add_item_from_bytes(jpeg_with_gps(300, 200, seed=1), "a.jpg")
    other_bytes = jpeg_with_gps(300, 200, seed=2)
    other, _ = services.add_item_from_bytes(other_bytes, "b.jpg")
    page = editor_client.get(f"/admin/media/mediaitem/{item.pk}/change/")
    form = page.context["adminform"].form
    data = {name: form[name].value() or "" for name in form.fields if name != "replace_with"}
    data["replace_with"] = SimpleUploadedFile("b.jpg", other_bytes, content_type="image/jpeg")
    response = editor_client.post(f"/admin/media/mediaitem/{item.pk}/change/", data)
    assert response.status_code == 200
    assert "already in the library" in response.content.decode()
    item.refresh_from_db()
    assert item.content_hash != other.content_hash
