from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from pressroom.media.tests.conftest import media_root  # noqa: F401 (fixture)


def png_upload(name: str, width: int, height: int, colour: str = "#204080") -> SimpleUploadedFile:
    """A real PNG, as a browser uploads it."""
    output = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(output, format="PNG")
    return SimpleUploadedFile(name, output.getvalue(), content_type="image/png")


@pytest.fixture
def settings_url() -> str:
    return "/admin/site/sitesettings/1/change/"
