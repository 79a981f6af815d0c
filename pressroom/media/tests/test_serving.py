"""`make run` serves library files itself, with immutable cache headers (names are
content-addressed), only from the library's folders, and not through DEBUG's static()."""

from __future__ import annotations

import pytest

from pressroom.media import services
from pressroom.media.tests.images import png_bytes

pytestmark = pytest.mark.django_db(transaction=True)


def test_library_files_are_served_with_immutable_caching(reader_client, media_root, settings):
    assert settings.DEBUG is False
    item, _ = services.add_item_from_bytes(png_bytes(), "chart.png")
    response = reader_client.get(item.url)
    assert response.status_code == 200
    assert response["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content).startswith(b"\x89PNG")


def test_documents_are_sandboxed(reader_client, media_root):
    item, _ = services.add_item_from_bytes(b"%PDF-1.4\n1 0 obj<<>>endobj\n", "r.pdf")
    response = reader_client.get(item.url)
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == "sandbox"


@pytest.mark.parametrize(
    "path",
    ["/media/secret_key", "/media/../secret_key", "/media/originals/../../x", "/media/cache/x"],
)
def test_nothing_outside_the_library_folders(reader_client, media_root, path):
    (media_root).mkdir(parents=True, exist_ok=True)
    (media_root / "secret_key").write_text("not for readers")
    assert reader_client.get(path).status_code == 404
