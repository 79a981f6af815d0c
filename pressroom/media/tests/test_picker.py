"""The body editor's library picker: items of one kind as JSON, for staff only."""

from __future__ import annotations

import pytest

from pressroom.media import services
from pressroom.media.tests.images import png_bytes

pytestmark = pytest.mark.django_db(transaction=True)
CHOOSE = "/admin/media/mediaitem/choose/"


def test_the_picker_lists_images_with_what_a_figure_needs(editor_client, media_root):
    photo, _ = services.add_item_from_bytes(
        png_bytes(seed=1), "march.png", alt_text="Miners march", caption="Lima", credit="Ana"
    )
    services.add_item_from_bytes(b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\x00" * 64, "talk.mp3")
    response = editor_client.get(CHOOSE, {"kind": "image"})
    assert response.status_code == 200
    [item] = response.json()["items"]
    assert item["id"] == photo.pk
    assert item["url"] == photo.url
    assert (item["alt_text"], item["caption"], item["credit"]) == ("Miners march", "Lima", "Ana")
    assert (item["width"], item["height"]) == (400, 300)
    audio = editor_client.get(CHOOSE, {"kind": "audio"}).json()["items"]
    assert [entry["name"] for entry in audio] == ["talk.mp3"]
    assert editor_client.get(CHOOSE, {"kind": "image", "q": "nothing"}).json()["items"] == []
    assert len(editor_client.get(CHOOSE, {"kind": "image", "q": "x" * 5000}).json()["items"]) == 0


def test_the_picker_refuses_other_kinds_and_readers(editor_client):
    from django.test import Client

    refused = editor_client.get(CHOOSE, {"kind": "document"})
    assert refused.status_code == 400
    assert refused.json() == {"error": "Choose images, audio or video."}
    assert Client().get(CHOOSE).status_code == 302  # a reader goes to the login page
